"""docs/events.md §1: a committed message is never lost. With Redis down, sends still succeed and their events wait
in the outbox (in order); once Redis is back, the next relay of the conversation (or the worker) appends them to the
stream before the newer ones. Runs late: it stops and restarts the session stack's Redis."""
import json
import time

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    assert_event_entry, create_channel, http_client, send_raw, stream_after, uniq,
)
from conftest import redis_cli_run, start_service, stop_service


def wait_health(base_url, status, timeout=20.0):
    deadline = time.monotonic() + timeout
    with http_client(base_url) as c:
        while True:
            r = c.get("/health")
            if r.status_code == status or time.monotonic() > deadline:
                return r
            time.sleep(0.1)


def test_sends_survive_redis_down_and_are_relayed_in_order(api, users, stack, db, redis_cli):
    owner, member = users(2)
    ch = create_channel(api, owner)
    cid = ch["id"]
    r = api.post("/api/v1/channels/join", json={"channel_id": cid}, headers={"Authorization": f"Bearer {member.access}"})
    assert r.status_code == 200, r.text
    sock = stack.redis_sock
    assert db("SELECT count(*) FROM outbox WHERE conversation_id = :'p1'", cid) == [["0"]]

    stop_service(stack, "redis")
    try:
        deadline = time.monotonic() + 10
        while redis_cli_run(sock, "ping", check=False).stdout.strip() == "PONG":
            assert time.monotonic() < deadline, "redis did not stop"
            time.sleep(0.05)
        sent = []
        for i in range(3):
            r = send_raw(api, owner if i != 1 else member, cid, f"while redis is down {i} {uniq()}")
            assert r.status_code == 201, f"a send failed while Redis was down: {r.status_code} {r.text}"
            sent.append(r.json())
        assert [m["seq"] for m in sent] == [1, 2, 3]
        # acknowledged means stored
        rows = db("SELECT id::text, seq, content FROM messages WHERE conversation_id = :'p1' ORDER BY seq", cid)
        assert rows == [[m["id"], str(m["seq"]), m["content"]] for m in sent]
        # their events wait in the outbox, in order, exactly as clients will get them
        pending = db("SELECT event_type, stream, audience, payload FROM outbox WHERE conversation_id = :'p1' ORDER BY id",
                     cid)
        assert [(p[0], p[1], p[2]) for p in pending] == [("new_message", "events", "conversation")] * 3, pending
        payloads = [json.loads(p[3]) for p in pending]
        assert [p["data"]["id"] for p in payloads] == [m["id"] for m in sent]
        assert [p["data"] for p in payloads] == sent
    finally:
        start_service(stack, "redis")

    r = send_raw(api, member, cid, "redis is back")
    assert r.status_code == 201, r.text
    last = r.json()
    assert last["seq"] == 4
    # every new_message of the channel is in the stream now, in seq order, each once
    entries = [e for e in stream_after(redis_cli, "0-0", conversation_id=cid) if e["type"] == "new_message"]
    datas = [assert_event_entry(e, "new_message", cid)["data"] for e in entries]
    assert [d["seq"] for d in datas] == [1, 2, 3, 4], [d["seq"] for d in datas]
    assert datas == sent + [last]
    assert db("SELECT count(*) FROM outbox WHERE conversation_id = :'p1'", cid) == [["0"]]
    h = wait_health(stack.base_url, 200)
    assert h.status_code == 200, h.text
    assert h.json()["redis"] == "ok"
