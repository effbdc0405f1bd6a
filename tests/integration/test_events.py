"""§9.2 stored-data events in the Redis stream chat:events (and mention jobs in chat:jobs), written through
the outbox: after each change the right entry appears with the payload clients will get."""
import time
import uuid

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, CONVERSATIONS, JOBS, MESSAGES, H, RedisMonitor, add_user, assert_event_entry, create_channel,
    create_conversation, join, mark_read, react, send, stream_after, stream_mark,
    uid,
)


def only(entries, etype=None):
    es = [e for e in entries if etype is None or e["type"] == etype]
    assert len(es) == 1, f"expected one {etype or ''} entry, got {[e['type'] for e in entries]}: {entries}"
    return es[0]


def assert_relayed(db, *cids):
    """No outbox row is left for these conversations (each conversation is relayed on its own)."""
    rows = db("SELECT count(*) FROM outbox WHERE conversation_id::text = ANY(string_to_array(:'p1', ','))",
              ",".join(cids))
    assert rows == [["0"]], f"outbox rows left after the relay of these conversations: {rows}"


def test_new_message_edit_delete_events(api, users, redis_cli, db):
    owner, member = users(2)
    ch = create_channel(api, owner)
    cid = ch["id"]
    join(api, member, cid)

    mark = stream_mark(redis_cli)
    m = send(api, member, cid, "event me")
    e = only(stream_after(redis_cli, mark, conversation_id=cid))
    p = assert_event_entry(e, "new_message", cid)
    assert set(p) == {"type", "data", "channel_id", "conversation_id", "timestamp"}, p
    assert p["data"] == m, "new_message data differs from the Message the sender got"
    assert (p["channel_id"], p["conversation_id"]) == (cid, cid)
    assert e["user_ids"] == ""
    assert_relayed(db, cid)

    mark = stream_mark(redis_cli)
    r = api.put(MESSAGES + m["id"], json={"content": "edited event"}, headers=H(member))
    assert r.status_code == 200, r.text
    e = only(stream_after(redis_cli, mark, conversation_id=cid))
    p = assert_event_entry(e, "message_edited", cid)
    assert p["data"] == r.json() and p["data"]["is_edited"] is True
    assert_relayed(db, cid)

    # deleted by the channel owner: deleted_by names the deleter
    mark = stream_mark(redis_cli)
    assert api.delete(MESSAGES + m["id"], headers=H(owner)).status_code == 200
    e = only(stream_after(redis_cli, mark, conversation_id=cid))
    p = assert_event_entry(e, "message_deleted", cid)
    assert {k: p[k] for k in ("message_id", "channel_id", "conversation_id", "deleted_by")} == {
        "message_id": m["id"], "channel_id": cid, "conversation_id": cid, "deleted_by": owner.user["username"]}
    assert_relayed(db, cid)

    # the headless delete route emits the same event
    m2 = send(api, member, cid, "second")
    mark = stream_mark(redis_cli)
    assert api.delete(f"{CONVERSATIONS}{cid}/messages/{m2['id']}", headers=H(member)).status_code == 200
    p = assert_event_entry(only(stream_after(redis_cli, mark, conversation_id=cid)), "message_deleted", cid)
    assert (p["message_id"], p["deleted_by"]) == (m2["id"], member.user["username"])


def test_reaction_events(api, users, redis_cli, db):
    owner, member = users(2)
    ch = create_channel(api, owner)
    cid = ch["id"]
    join(api, member, cid)
    m = send(api, owner, cid, "react")

    def reaction_payload(mark):
        p = assert_event_entry(only(stream_after(redis_cli, mark, conversation_id=cid)), "message_reaction", cid)
        assert (p["message_id"], p["channel_id"], p["conversation_id"]) == (m["id"], cid, cid), p
        assert set(p["data"]) == {"emoji", "user_id", "username", "action", "reaction_id"}, p
        return p["data"]

    mark = stream_mark(redis_cli)
    rid = react(api, member, m["id"], "🚀").json()["reaction"]["id"]
    assert reaction_payload(mark) == {"emoji": "🚀", "user_id": uid(member), "username": member.user["username"],
                                      "action": "add", "reaction_id": rid}
    mark = stream_mark(redis_cli)
    assert react(api, member, m["id"], "🚀").json()["action"] == "remove"
    assert reaction_payload(mark) == {"emoji": "🚀", "user_id": uid(member), "username": member.user["username"],
                                      "action": "remove", "reaction_id": rid}
    rid2 = react(api, member, m["id"], "✅").json()["reaction"]["id"]
    mark = stream_mark(redis_cli)
    assert api.delete(f"{MESSAGES}reactions/{rid2}", headers=H(member)).status_code == 200
    assert reaction_payload(mark) == {"emoji": "✅", "user_id": uid(member), "username": member.user["username"],
                                      "action": "remove", "reaction_id": rid2}
    assert_relayed(db, cid)


def test_membership_events(api, users, redis_cli, db):
    owner, joiner, added, leaver = users(4)
    ch = create_channel(api, owner)
    cid = ch["id"]

    def membership(mark, etype, user):
        e = only(stream_after(redis_cli, mark, conversation_id=cid))
        p = assert_event_entry(e, etype, cid)
        assert (p["user_id"], p["username"], p["channel_id"]) == (uid(user), user.user["username"], cid), p
        return e

    mark = stream_mark(redis_cli)
    join(api, joiner, cid)
    e = membership(mark, "user_joined", joiner)
    assert uid(joiner) in e["user_ids"].split(","), "user_joined must reach the user who joined"
    mark = stream_mark(redis_cli)
    add_user(api, owner, cid, added)
    e = membership(mark, "user_joined", added)
    assert uid(added) in e["user_ids"].split(","), "user_joined must reach the user added"
    join(api, leaver, cid)
    mark = stream_mark(redis_cli)
    assert api.delete(f"{CHANNELS}{cid}/leave", headers=H(leaver)).status_code == 200
    e = membership(mark, "user_left", leaver)
    assert uid(leaver) in e["user_ids"].split(","), "user_left must reach the user who left"
    mark = stream_mark(redis_cli)
    assert api.delete(f"{CHANNELS}{cid}/members/{uid(added)}", headers=H(owner)).status_code == 204
    e = membership(mark, "user_left", added)
    assert uid(added) in e["user_ids"].split(","), "user_left must reach the removed user"
    # leaving a conversation through the headless route
    mark = stream_mark(redis_cli)
    assert api.delete(f"{CONVERSATIONS}{cid}/participants/me", headers=H(joiner)).status_code == 204
    e = membership(mark, "user_left", joiner)
    assert uid(joiner) in e["user_ids"].split(",")
    # refused operations emit nothing
    mark = stream_mark(redis_cli)
    assert api.post(CHANNELS + "join", json={"channel_id": cid}, headers=H(owner)).status_code == 400
    assert api.delete(f"{CHANNELS}{cid}/leave", headers=H(joiner)).status_code == 400
    assert stream_after(redis_cli, mark, conversation_id=cid) == []
    assert_relayed(db, cid)


def test_creation_events(api, users, redis_cli, db):
    a, b, c = users(3)
    mark = stream_mark(redis_cli)
    pub = create_channel(api, a)
    e = only(stream_after(redis_cli, mark, conversation_id=pub["id"]))
    p = assert_event_entry(e, "channel_created", pub["id"], audience="everyone")
    assert set(p) >= {"type", "data", "timestamp"}
    assert {k: p["data"][k] for k in ("id", "name", "is_private", "creator_id")} == {
        "id": pub["id"], "name": pub["name"], "is_private": False, "creator_id": uid(a)}
    mark = stream_mark(redis_cli)
    priv = create_channel(api, a, private=True)
    e = only(stream_after(redis_cli, mark, conversation_id=priv["id"]))
    p = assert_event_entry(e, "channel_created", priv["id"], audience="conversation")
    assert p["data"]["id"] == priv["id"] and p["data"]["is_private"] is True

    mark = stream_mark(redis_cli)
    r = create_conversation(api, a, [uid(b)])
    assert r.status_code == 201, r.text
    d = r.json()
    p = assert_event_entry(only(stream_after(redis_cli, mark, conversation_id=d["id"])), "conversation_created", d["id"])
    assert {k: p["data"][k] for k in ("id", "kind", "title", "is_private")} == {
        "id": d["id"], "kind": "direct", "title": None, "is_private": True}
    # the same pair again: no new conversation, no event
    mark = stream_mark(redis_cli)
    assert create_conversation(api, b, [uid(a)]).status_code == 200
    assert stream_after(redis_cli, mark, conversation_id=d["id"]) == []
    mark = stream_mark(redis_cli)
    g = create_conversation(api, a, [uid(b), uid(c)], is_group=True, title="evt").json()
    p = assert_event_entry(only(stream_after(redis_cli, mark, conversation_id=g["id"])), "conversation_created", g["id"])
    assert (p["data"]["id"], p["data"]["kind"], p["data"]["title"]) == (g["id"], "group", "evt")
    # adding participants: user_joined for each new one
    (e2,) = users(1)
    mark = stream_mark(redis_cli)
    r = api.post(f"{CONVERSATIONS}{d['id']}/participants", json={"participant_ids": [uid(e2)]}, headers=H(a))
    assert r.status_code == 200, r.text
    p = assert_event_entry(only(stream_after(redis_cli, mark, conversation_id=d["id"])), "user_joined", d["id"])
    assert (p["user_id"], p["username"]) == (uid(e2), e2.user["username"])
    assert_relayed(db, pub["id"], priv["id"], d["id"], g["id"])


def test_conversation_send_event_and_order(api, users, redis_cli, db):
    a, b = users(2)
    d = create_conversation(api, a, [uid(b)]).json()
    mark = stream_mark(redis_cli)
    sent = []
    for i in range(5):
        r = api.post(f"{CONVERSATIONS}{d['id']}/messages", json={"content": f"n{i}"}, headers=H(a if i % 2 else b))
        assert r.status_code == 201, r.text
        sent.append(r.json())
    es = stream_after(redis_cli, mark, conversation_id=d["id"])
    assert [e["type"] for e in es] == ["new_message"] * 5
    assert [assert_event_entry(e, "new_message", d["id"])["data"] for e in es] == sent
    ids = [e["_id"] for e in es]
    assert ids == sorted(ids, key=lambda x: tuple(map(int, x.split("-"))))
    outbox_ids = [int(e["outbox_id"]) for e in es]
    assert outbox_ids == sorted(outbox_ids) and len(set(outbox_ids)) == 5
    # read markers are not stored events
    mark = stream_mark(redis_cli)
    assert mark_read(api, b, d["id"], seq=5).status_code == 204
    r = api.put(f"{CONVERSATIONS}{d['id']}/messages/read", json={"last_seen_message_id": sent[4]["id"]}, headers=H(a))
    assert r.status_code == 200, r.text
    assert stream_after(redis_cli, mark, conversation_id=d["id"]) == []
    # refused sends emit nothing
    assert api.post(f"{CONVERSATIONS}{d['id']}/messages", json={"content": ""}, headers=H(a)).status_code == 422
    assert stream_after(redis_cli, mark, conversation_id=d["id"]) == []
    assert_relayed(db, d["id"])


def test_mention_creates_job(api, users, redis_cli, db, stack):
    owner, bob, carol = users(3)
    ch = create_channel(api, owner)
    cid = ch["id"]
    join(api, bob, cid)
    join(api, carol, cid)
    ev_mark = stream_mark(redis_cli)
    with RedisMonitor(stack.redis_sock) as mon:  # chat-worker takes and deletes jobs at once: watch the XADDs
        m = send(api, owner, cid, f"hey @{bob.user['username']} and @{carol.user['username']}")
        jobs = [j for j in mon.xadds(JOBS) if j.get("conversation_id") == cid]
        assert len(jobs) == 1, jobs
        j = jobs[0]
        assert (j["type"], j["audience"]) == ("mention_notification", "users") and j["outbox_id"].isdigit(), j
        p = j["_payload"]
        assert {k: p[k] for k in ("message_id", "conversation_id", "sender_id")} == {
            "message_id": m["id"], "conversation_id": cid, "sender_id": uid(owner)}
        assert sorted(p["user_ids"]) == sorted([uid(bob), uid(carol)])
        # the job itself is not an event: the handler's only event is the new_message (chat-worker adds the
        # mention_notification events later, see below)
        types = [e["type"] for e in stream_after(redis_cli, ev_mark, conversation_id=cid)]
        assert types[:1] == ["new_message"] and set(types[1:]) <= {"mention_notification"}, types
        # no mention, no job
        send(api, owner, cid, "nobody here, x@bob.com")
        assert len([j for j in mon.xadds(JOBS) if j.get("conversation_id") == cid]) == 1
    assert_relayed(db, cid)
    assert db("SELECT count(*) FROM outbox WHERE stream = 'jobs' AND conversation_id = :'p1'", cid) == [["0"]]


def test_mention_notification_events_from_the_worker(api, users, redis_cli):
    """§9.2: chat-worker turns the job into one mention_notification event per mentioned member (not the sender)."""
    owner, bob, carol = users(3)
    ch = create_channel(api, owner)
    cid = ch["id"]
    join(api, bob, cid)
    join(api, carol, cid)
    mark = stream_mark(redis_cli)
    content = f"@{bob.user['username']} @{carol.user['username']} look"
    m = send(api, owner, cid, content)
    deadline = time.monotonic() + 15
    while True:
        notes = [e for e in stream_after(redis_cli, mark, conversation_id=cid) if e["type"] == "mention_notification"]
        if len(notes) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted(e["user_ids"] for e in notes) == sorted([uid(bob), uid(carol)]), notes
    for e in notes:
        p = assert_event_entry(e, "mention_notification", cid, audience="users")
        assert p["data"] == {"message_id": m["id"], "channel_id": cid, "content": content,
                             "from_user_id": uid(owner), "from_username": owner.user["username"]}, p


def test_private_channel_events_stay_in_the_conversation(api, users, redis_cli):
    owner, member = users(2)
    ch = create_channel(api, owner, private=True)
    add_user(api, owner, ch["id"], member)
    mark = stream_mark(redis_cli)
    send(api, member, ch["id"], "private event")
    e = only(stream_after(redis_cli, mark, conversation_id=ch["id"]))
    assert e["audience"] == "conversation" and e["user_ids"] == ""
    # an unknown conversation id never reaches the stream
    unknown = str(uuid.uuid4())
    mark = stream_mark(redis_cli)
    assert api.post(MESSAGES, json={"channel_id": unknown, "content": "x"}, headers=H(owner)).status_code == 404
    assert stream_after(redis_cli, mark, conversation_id=unknown) == []
