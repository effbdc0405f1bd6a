"""chat-worker's mention_notification job (docs/api.md#messages, #server-frames; docs/events.md §2): a mention
becomes one notifications row, one mention_notification event for that user only, and an unread counter for an
offline user; nobody who cannot see the message is notified; a rerun changes nothing."""
import json
import time

import pytest

from conftest import UUID_RE, TS_RE
from worker_helpers import (
    EVENTS, JOBS, Redis, enqueue, entries, join, last_id, me, mentions_of, new_channel, send, uniq, wait_until,
)


@pytest.fixture(scope="module")
def r(stack):
    with Redis(stack.redis_sock) as client:
        yield client


def mention_events(r, mark, user_id=None, message_id=None):
    """mention_notification entries of chat:events after `mark` (for one user / message)."""
    out = []
    for eid, f in entries(r, EVENTS, "(" + mark):
        if f.get("type") != "mention_notification":
            continue
        p = json.loads(f["payload"])
        if user_id and f.get("user_ids") != user_id:
            continue
        if message_id and p["data"]["message_id"] != message_id:
            continue
        out.append((eid, f, p))
    return out


def notification_rows(db, user_id, message_id):
    return db("SELECT kind, payload::text, read_at IS NULL FROM notifications WHERE user_id = :'p1' AND message_id = :'p2'",
              user_id, message_id)


def jobs_done(r, job_type="mention_notification"):
    return int(r("HGET", "chat:metrics:jobs:by_type", f"{job_type}:done") or 0)


def test_mention_notifies_the_user_once_within_2s(api, register, db, r):
    alice, bob, carol = register(), register(), register()
    cid = new_channel(api, alice)
    join(api, bob, cid)
    join(api, carol, cid)
    assert me(api, bob)["unread_mentions"] == 0
    mark = last_id(r, EVENTS)
    t0 = time.monotonic()
    m = send(api, alice, cid, f"hello @{bob.user['username']}, see this")
    assert m["mentions"] == [bob.user["id"]]
    found = wait_until(lambda: mention_events(r, mark, bob.user["id"], m["id"]), 2.0,
                       "the mention_notification event of bob in chat:events")
    took = time.monotonic() - t0
    assert took < 2.0, took
    assert len(found) == 1, found
    eid, f, p = found[0]
    # routed to bob alone, ordered with the conversation's other events (same relay, same stream)
    assert f["audience"] == "users" and f["user_ids"] == bob.user["id"], f
    assert f["conversation_id"] == cid and f["outbox_id"].isdigit(), f
    assert p["type"] == "mention_notification" and TS_RE.match(p["timestamp"]), p
    assert p["data"] == {"message_id": m["id"], "channel_id": cid, "content": m["content"],
                         "from_user_id": alice.user["id"], "from_username": alice.user["username"]}, p
    assert "event_id" not in p
    new_message = [e for e, fl in entries(r, EVENTS, "(" + mark) if fl.get("type") == "new_message"
                   and json.loads(fl["payload"])["data"]["id"] == m["id"]]
    assert len(new_message) == 1 and new_message[0] < eid, "the mention comes after its new_message"
    # nobody else is told
    assert mention_events(r, mark, carol.user["id"]) == []
    assert mention_events(r, mark, alice.user["id"]) == []

    rows = notification_rows(db, bob.user["id"], m["id"])
    assert len(rows) == 1 and rows[0][0] == "mention" and rows[0][2] == "t", rows
    assert json.loads(rows[0][1]) == p["data"]
    assert db("SELECT notified_at IS NOT NULL FROM mentions WHERE message_id = :'p1' AND user_id = :'p2'",
              m["id"], bob.user["id"]) == [["t"]]
    # bob is offline (no socket): his counter went up, and GET /users/me shows it too
    assert me(api, bob)["unread_mentions"] == 1
    r2 = api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {bob.access}"})
    assert r2.status_code == 200 and r2.json()["unread_mentions"] == 1, r2.text
    # reading the mentions lists the message and clears the counter
    listed = mentions_of(api, bob)
    assert [x["id"] for x in listed] == [m["id"]]
    assert me(api, bob)["unread_mentions"] == 0
    assert notification_rows(db, bob.user["id"], m["id"])[0][2] == "f"
    # the counter is the caller's own: others never see it in an embedded or foreign User
    other = api.get(f"/api/v1/users/{bob.user['id']}", headers={"Authorization": f"Bearer {carol.access}"}).json()
    assert "unread_mentions" not in other


def test_rerun_of_the_same_job_changes_nothing(api, register, db, r):
    alice, bob = register(), register()
    cid = new_channel(api, alice)
    join(api, bob, cid)
    mark = last_id(r, EVENTS)
    m = send(api, alice, cid, f"@{bob.user['username']} once")
    wait_until(lambda: mention_events(r, mark, bob.user["id"], m["id"]), 2.0, "the first notification")
    before = jobs_done(r)
    payload = {"message_id": m["id"], "conversation_id": cid, "sender_id": alice.user["id"],
               "user_ids": [bob.user["id"]]}
    # the same job again (a redelivery, or a relay that appended its outbox row twice)
    enqueue(r, "mention_notification", payload)
    enqueue(r, "mention_notification", payload, outbox_id="1")
    wait_until(lambda: jobs_done(r) >= before + 2, 5.0, "both reruns to be done")
    assert len(notification_rows(db, bob.user["id"], m["id"])) == 1
    assert len(mention_events(r, mark, bob.user["id"], m["id"])) == 1
    assert me(api, bob)["unread_mentions"] == 1


def test_online_user_gets_the_event_but_no_unread_count(api, register, db, r):
    alice, bob = register(), register()
    cid = new_channel(api, alice)
    join(api, bob, cid)
    db("UPDATE users SET is_online = true WHERE id = :'p1'", bob.user["id"])
    try:
        mark = last_id(r, EVENTS)
        m = send(api, alice, cid, f"are you there @{bob.user['username']}")
        wait_until(lambda: mention_events(r, mark, bob.user["id"], m["id"]), 2.0, "bob's notification")
        assert len(notification_rows(db, bob.user["id"], m["id"])) == 1
        assert me(api, bob)["unread_mentions"] == 0
    finally:
        db("UPDATE users SET is_online = false WHERE id = :'p1'", bob.user["id"])


def test_edit_that_adds_a_mention_notifies_only_the_new_user(api, register, db, r):
    alice, bob, carol = register(), register(), register()
    cid = new_channel(api, alice)
    join(api, bob, cid)
    join(api, carol, cid)
    mark = last_id(r, EVENTS)
    m = send(api, alice, cid, f"hi @{bob.user['username']}")
    wait_until(lambda: mention_events(r, mark, bob.user["id"], m["id"]), 2.0, "bob's notification")
    e = api.put(f"/api/v1/messages/{m['id']}", json={"content": f"hi @{bob.user['username']} @{carol.user['username']}"},
                headers={"Authorization": f"Bearer {alice.access}"})
    assert e.status_code == 200, e.text
    got = wait_until(lambda: mention_events(r, mark, carol.user["id"], m["id"]), 2.0, "carol's notification")
    assert got[0][2]["data"]["content"] == e.json()["content"]
    time.sleep(0.3)
    assert len(mention_events(r, mark, bob.user["id"], m["id"])) == 1
    assert len(notification_rows(db, bob.user["id"], m["id"])) == 1
    assert len(notification_rows(db, carol.user["id"], m["id"])) == 1


def test_mention_of_someone_who_cannot_see_the_conversation_notifies_nobody(api, register, db, r):
    alice, bob, outsider = register(), register(), register()
    cid = new_channel(api, alice, private=True)
    add = api.post(f"/api/v1/channels/{cid}/add-user", json={"user_id": bob.user["id"]},
                   headers={"Authorization": f"Bearer {alice.access}"})
    assert add.status_code == 200, add.text
    mark = last_id(r, EVENTS)
    m = send(api, alice, cid, f"secret for @{outsider.user['username']} and @{bob.user['username']}")
    assert m["mentions"] == [bob.user["id"]]  # the outsider is no mention at all
    wait_until(lambda: mention_events(r, mark, bob.user["id"], m["id"]), 2.0, "bob's notification")
    # a job naming the outsider anyway (a stale or forged job): the worker checks membership itself
    before = jobs_done(r)
    enqueue(r, "mention_notification", {"message_id": m["id"], "conversation_id": cid, "sender_id": alice.user["id"],
                                        "user_ids": [outsider.user["id"], alice.user["id"]]})
    wait_until(lambda: jobs_done(r) > before, 5.0, "the forged job to be done")
    assert mention_events(r, mark, outsider.user["id"]) == []
    assert notification_rows(db, outsider.user["id"], m["id"]) == []
    assert mentions_of(api, outsider) == []
    assert me(api, outsider)["unread_mentions"] == 0
    # the sender is never notified of its own mention
    assert notification_rows(db, alice.user["id"], m["id"]) == []
    # a member who left before the job ran is not notified either
    carol = register()
    join(api, carol, new_channel(api, alice))  # unrelated channel: carol is no member of cid
    m2 = send(api, alice, cid, "no mention here")
    before = jobs_done(r)
    enqueue(r, "mention_notification", {"message_id": m2["id"], "conversation_id": cid, "sender_id": alice.user["id"],
                                        "user_ids": [carol.user["id"]]})
    wait_until(lambda: jobs_done(r) > before, 5.0, "the job for a non-member to be done")
    assert notification_rows(db, carol.user["id"], m2["id"]) == []


def test_deleted_message_notifies_nobody(api, register, db, r):
    alice, bob = register(), register()
    cid = new_channel(api, alice)
    join(api, bob, cid)
    m = send(api, alice, cid, "about to vanish")
    d = api.delete(f"/api/v1/messages/{m['id']}", headers={"Authorization": f"Bearer {alice.access}"})
    assert d.status_code == 200, d.text
    mark = last_id(r, EVENTS)
    before = jobs_done(r)
    enqueue(r, "mention_notification", {"message_id": m["id"], "conversation_id": cid, "sender_id": alice.user["id"],
                                        "user_ids": [bob.user["id"]]})
    wait_until(lambda: jobs_done(r) > before, 5.0, "the job to be done")
    assert notification_rows(db, bob.user["id"], m["id"]) == []
    assert mention_events(r, mark, bob.user["id"]) == []


def test_malformed_mention_job_goes_to_the_dead_letter_stream_at_once(stack, r):
    mark = last_id(r, "chat:jobs:dead")
    eid = enqueue(r, "mention_notification", {"message_id": "nope"})
    dead = wait_until(lambda: [f for _, f in entries(r, "chat:jobs:dead", "(" + mark) if f.get("entry_id") == eid],
                      5.0, "the malformed job in chat:jobs:dead")
    f = dead[0]
    assert f["attempts"] == "1" and "malformed" in f["error"], f
    assert f["type"] == "mention_notification" and UUID_RE.match(f["job_id"]) is None
    assert r("XLEN", JOBS) == 0 or eid not in [e for e, _ in entries(r, JOBS)]
    r("XDEL", "chat:jobs:dead", *[e for e, fl in entries(r, "chat:jobs:dead", "(" + mark) if fl.get("entry_id") == eid])
