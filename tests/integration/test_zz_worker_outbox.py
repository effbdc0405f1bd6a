"""chat-worker after a Redis outage (runs last: it stops the session stack's Redis): the periodic
outbox_relay delivers what was committed meanwhile, in order, with no new request; the consumer group
comes back by itself; events_trim keeps the replay window (10 minutes and 100 000 entries)."""
import json
import time

import pytest

from conftest import redis_cli_run, start_service, stop_service
from worker_helpers import EVENTS, JOBS, Redis, entries, join, last_id, new_channel, send, uniq, wait_until


def test_events_committed_while_redis_was_down_arrive_in_order_with_no_new_request(api, register, db, stack):
    alice, bob = register(), register()
    cid = new_channel(api, alice)
    join(api, bob, cid)
    sock = stack.redis_sock
    with Redis(sock) as r:  # Redis keeps its streams across the restart (append-only file): only what comes after
        after = tuple(int(x) for x in last_id(r, EVENTS).split("-"))
    stop_service(stack, "redis")
    try:
        wait_until(lambda: redis_cli_run(sock, "ping", check=False).stdout.strip() != "PONG", 10, "redis to stop")
        sent = [send(api, alice, cid, f"while redis is down {i} {uniq()}") for i in range(3)]
        sent.append(send(api, alice, cid, f"and @{bob.user['username']} is mentioned"))
        pending = db("SELECT stream, event_type FROM outbox WHERE conversation_id = :'p1' ORDER BY id", cid)
        assert pending == [["events", "new_message"]] * 4 + [["jobs", "mention_notification"]], pending
    finally:
        start_service(stack, "redis")
    t0 = time.monotonic()
    with Redis(sock) as r:
        def delivered():
            mine = [(eid, f) for eid, f in entries(r, EVENTS)
                    if f.get("conversation_id") == cid and tuple(int(x) for x in eid.split("-")) > after]
            kinds = [f["type"] for _, f in mine]
            return mine if kinds.count("new_message") == 4 and "mention_notification" in kinds else None

        mine = wait_until(delivered, 10, "the outbox rows and the mention to reach chat:events (no request made)")
        took = time.monotonic() - t0
        news = [json.loads(f["payload"])["data"] for _, f in mine if f["type"] == "new_message"]
        assert [d["seq"] for d in news] == [1, 2, 3, 4]
        assert [d["id"] for d in news] == [m["id"] for m in sent]
        assert len(mine) == 5 and mine[-1][1]["type"] == "mention_notification", mine
        mention = json.loads(mine[-1][1]["payload"])
        assert mine[-1][1]["user_ids"] == bob.user["id"] and mention["data"]["message_id"] == sent[3]["id"]
        assert db("SELECT count(*) FROM outbox WHERE conversation_id = :'p1'", cid) == [["0"]]
        assert took < 10, took
        # the worker made its consumer group again, and the job was acked and deleted
        groups = r("XINFO", "GROUPS", JOBS)
        assert any(dict(zip(g[0::2], g[1::2]))["name"] == "workers" for g in groups), groups
        wait_until(lambda: r("XLEN", JOBS) == 0, 5, "chat:jobs to be drained")
    assert db("SELECT count(*) FROM notifications WHERE user_id = :'p1' AND message_id = :'p2'",
              bob.user["id"], sent[3]["id"]) == [["1"]]


def fill(r, ids_and_count):
    """XADDs tiny entries with the given explicit ids ('*' for now), pipelined."""
    batch = []
    for eid in ids_and_count:
        batch.append(["XADD", EVENTS, eid, "type", "filler", "payload", "{}"])
        if len(batch) == 5000:
            assert not [x for x in r.pipeline(batch) if isinstance(x, Exception)]
            batch = []
    if batch:
        assert not [x for x in r.pipeline(batch) if isinstance(x, Exception)]


def trim_now(r):
    """events_trim is also a job type: run it now rather than wait for its 30 s period."""
    before = int(r("HGET", "chat:metrics:jobs:by_type", "events_trim:done") or 0)
    r("XADD", JOBS, "*", "type", "events_trim", "payload", "{}")
    wait_until(lambda: int(r("HGET", "chat:metrics:jobs:by_type", "events_trim:done") or 0) > before, 10,
               "the events_trim job to run")


@pytest.mark.parametrize("case", ["count_bound", "time_bound"])
def test_events_trim_keeps_ten_minutes_and_the_newest_100000(stack, case):
    with Redis(stack.redis_sock) as r:
        now = int(r("TIME")[0]) * 1000
        old = now - 20 * 60 * 1000
        r("DEL", EVENTS)
        if case == "count_bound":
            # 100 010 entries older than 10 minutes + 5 new: only the 15 oldest may go
            fill(r, [f"{old}-{i}" for i in range(100_010)] + ["*"] * 5)
            trim_now(r)
            assert r("XLEN", EVENTS) == 100_000
            assert r("XRANGE", EVENTS, "-", "+", "COUNT", 1)[0][0] == f"{old}-15"
        else:
            # 50 old + 100 005 newer than 10 minutes: the old ones go, every new one stays
            fill(r, [f"{old}-{i}" for i in range(50)] + ["*"] * 100_005)
            trim_now(r)
            assert r("XLEN", EVENTS) == 100_005
            first = r("XRANGE", EVENTS, "-", "+", "COUNT", 1)[0][0]
            assert int(first.split("-")[0]) >= now - 60_000, first
        trim_now(r)  # a second run changes nothing
        assert r("XLEN", EVENTS) == (100_000 if case == "count_bound" else 100_005)
        r("DEL", EVENTS)
