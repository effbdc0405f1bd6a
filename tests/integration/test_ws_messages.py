"""§9.2 message events end to end: a REST action, then the frames every socket got. Members on both daemons
and through nginx, every socket of a user, the sender included; non-members get nothing (checked with a
marker message sent afterwards to a conversation both are in: the marker arrives, the event did not)."""
import time

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CONVERSATIONS, MESSAGES, H, add_user, conv_send, create_channel, create_conversation, join, react, send, uid,
)
from ws_helpers import (  # noqa: F401 (fixtures rt, ws)
    STORED_TYPES, assert_stored_event, event_key, rt, ws,
)


def marker_check(api, sender, marker_cid, watchers, absent, *, since):
    """Sends a marker to marker_cid; once each watcher has it, none of them may hold a frame matching
    `absent` (a predicate over parsed events) received after `since[watcher]`."""
    m = send(api, sender, marker_cid, "marker")
    for w in watchers:
        w.wait_event("new_message", 5, since=since[w], data_id=m["id"])
        bad = [e for e in w.events(since=since[w]) if absent(e)]
        assert not bad, f"{w.label} got what it must not: {bad}"


def about(cid):
    """Events about conversation cid (any type that names it)."""
    return lambda e: cid in (e.get("channel_id"), e.get("conversation_id")) or (
        isinstance(e.get("data"), dict) and cid in (e["data"].get("channel_id"), e["data"].get("id")))


def test_new_message_reaches_every_member_socket_on_both_daemons(api, users, rt, ws):
    alice, bob, carol = users(3)
    ch = create_channel(api, alice)
    cid = ch["id"]
    join(api, bob, cid)
    side = create_channel(api, alice)  # alice and carol share only this one (and general)
    join(api, carol, side["id"])

    a_nginx = ws(alice)
    a_d1 = ws(alice, port=rt.ports[0])
    a_d2 = ws(alice, port=rt.ports[1])
    b_d1 = ws(bob, port=rt.ports[0])
    b_d2 = ws(bob, port=rt.ports[1])
    c_d1 = ws(carol, port=rt.ports[0])
    c_d2 = ws(carol, port=rt.ports[1])
    socks = [a_nginx, a_d1, a_d2, b_d1, b_d2, c_d1, c_d2]
    marks = {s: s.mark() for s in socks}

    m = send(api, alice, cid, "hello members")
    got = []
    for s in (a_nginx, a_d1, a_d2, b_d1, b_d2):
        e = s.wait_event("new_message", 5, since=marks[s], data_id=m["id"])
        assert_stored_event(e, "new_message")
        assert set(e) == {"type", "data", "channel_id", "conversation_id", "event_id", "timestamp"}, e
        assert e["data"] == m, f"{s.label}: the event's Message differs from the REST answer"
        assert (e["channel_id"], e["conversation_id"]) == (cid, cid), e
        got.append(e)
    # one event: the same event_id on every socket, whatever the daemon
    assert len({e["event_id"] for e in got}) == 1, [e["event_id"] for e in got]
    # and once per socket
    for s in (a_nginx, a_d1, a_d2, b_d1, b_d2):
        assert len(s.events("new_message", since=marks[s], data_id=m["id"])) == 1, s.types(marks[s])

    # carol is not in the channel: the marker reaches her sockets, the message never did
    marker_check(api, alice, side["id"], [c_d1, c_d2], about(cid), since=marks)


def test_a_message_sent_through_either_daemon_reaches_sockets_on_both(api, users, rt, ws):
    """The events stream carries events between daemons: sockets of the sender and the reader on one daemon
    each; each sends in turn (REST, through nginx, to any handler)."""
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    a1 = ws(a, port=rt.ports[0])
    b2 = ws(b, port=rt.ports[1])
    sent = []
    for who in (a, b, a, b):
        sent.append(send(api, who, ch["id"]))
    for s in (a1, b2):
        es = s.wait_count("new_message", 4, 5, channel_id=ch["id"])
        assert [e["data"]["id"] for e in es] == [m["id"] for m in sent], s.label
        assert [e["data"]["seq"] for e in es] == [1, 2, 3, 4]
        keys = [event_key(e["event_id"]) for e in es]
        assert keys == sorted(keys) and len(set(keys)) == 4, keys


def test_message_edited(api, users, rt, ws):
    a, b, outsider = users(3)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    side = create_channel(api, a)
    join(api, outsider, side["id"])
    m = send(api, b, ch["id"], "first version")
    sa, sb, so = ws(a, port=rt.ports[0]), ws(b, port=rt.ports[1]), ws(outsider)
    marks = {s: s.mark() for s in (sa, sb, so)}
    r = api.put(MESSAGES + m["id"], json={"content": "second version"}, headers=H(b))
    assert r.status_code == 200, r.text
    edited = r.json()
    for s in (sa, sb):
        e = s.wait_event("message_edited", 5, since=marks[s])
        assert_stored_event(e, "message_edited")
        assert e["data"] == edited, e
        assert e["data"]["is_edited"] is True and e["data"]["content"] == "second version"
        assert e["data"]["id"] == m["id"] and e["data"]["seq"] == m["seq"]
    marker_check(api, a, side["id"], [so], about(ch["id"]), since=marks)


def test_message_deleted_names_the_deleter(api, users, rt, ws):
    owner, author, outsider = users(3)
    ch = create_channel(api, owner)
    join(api, author, ch["id"])
    side = create_channel(api, owner)
    join(api, outsider, side["id"])
    m1 = send(api, author, ch["id"], "to be removed by the owner")
    m2 = send(api, author, ch["id"], "to be removed by the author, headless route")
    so_ = ws(owner, port=rt.ports[0])
    sa = ws(author, port=rt.ports[1])
    sx = ws(outsider)
    marks = {s: s.mark() for s in (so_, sa, sx)}

    assert api.delete(MESSAGES + m1["id"], headers=H(owner)).status_code == 200
    r = api.delete(f"{CONVERSATIONS}{ch['id']}/messages/{m2['id']}", headers=H(author))
    assert r.status_code == 200, r.text
    for s in (so_, sa):
        es = s.wait_count("message_deleted", 2, 5, since=marks[s], channel_id=ch["id"])
        for e in es:
            assert_stored_event(e, "message_deleted")
            assert set(e) >= {"message_id", "channel_id", "conversation_id", "deleted_by"}, e
        assert [(e["message_id"], e["channel_id"], e["conversation_id"], e["deleted_by"]) for e in es] == [
            (m1["id"], ch["id"], ch["id"], owner.user["username"]),
            (m2["id"], ch["id"], ch["id"], author.user["username"]),
        ]
    marker_check(api, owner, side["id"], [sx], about(ch["id"]), since=marks)


def test_message_reaction_add_remove(api, users, rt, ws):
    a, b, outsider = users(3)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    side = create_channel(api, a)
    join(api, outsider, side["id"])
    m = send(api, a, ch["id"], "react to me")
    sa, sb, sx = ws(a, port=rt.ports[0]), ws(b, port=rt.ports[1]), ws(outsider)
    marks = {s: s.mark() for s in (sa, sb, sx)}

    r1 = react(api, b, m["id"], "👍")
    assert r1.status_code == 200 and r1.json()["action"] == "add", r1.text
    rid = r1.json()["reaction"]["id"]
    r2 = react(api, b, m["id"], "👍")  # toggles off
    assert r2.status_code == 200 and r2.json()["action"] == "remove", r2.text
    r3 = react(api, a, m["id"], "🎉")
    rid3 = r3.json()["reaction"]["id"]
    r4 = api.delete(f"{MESSAGES}reactions/{rid3}", headers=H(a))
    assert r4.status_code == 200 and r4.json() == {"action": "remove"}, r4.text

    def data(user, emoji, action, reaction_id):
        return {"emoji": emoji, "user_id": uid(user), "username": user.user["username"], "action": action,
                "reaction_id": reaction_id}

    expected = [data(b, "👍", "add", rid), data(b, "👍", "remove", rid), data(a, "🎉", "add", rid3),
                data(a, "🎉", "remove", rid3)]
    for s in (sa, sb):
        es = s.wait_count("message_reaction", 4, 5, since=marks[s], channel_id=ch["id"])
        for e in es:
            assert_stored_event(e, "message_reaction")
            assert (e["message_id"], e["channel_id"], e["conversation_id"]) == (m["id"], ch["id"], ch["id"]), e
        assert [e["data"] for e in es] == expected, s.label
    marker_check(api, a, side["id"], [sx], about(ch["id"]), since=marks)


def test_mention_notification_reaches_the_mentioned_user_within_2s(api, users, rt, ws):
    alice, bob, carol = users(3)
    ch = create_channel(api, alice)
    join(api, bob, ch["id"])
    join(api, carol, ch["id"])
    sb1 = ws(bob, port=rt.ports[0])
    sb2 = ws(bob, port=rt.ports[1])
    sc = ws(carol)
    sa = ws(alice)
    marks = {s: s.mark() for s in (sb1, sb2, sc, sa)}
    content = f"look here @{bob.user['username']}!"
    t0 = time.monotonic()
    m = send(api, alice, ch["id"], content)
    assert m["mentions"] == [uid(bob)]
    for s in (sb1, sb2):
        f = s.wait(lambda f: f.type == "mention_notification", 2.0, "mention_notification", since=marks[s])
        assert f.at - t0 < 2.0, f"{s.label}: mention_notification {f.at - t0:.2f} s after the send"
        e = f.obj
        assert_stored_event(e, "mention_notification")
        assert e["data"] == {"message_id": m["id"], "channel_id": ch["id"], "content": content,
                             "from_user_id": uid(alice), "from_username": alice.user["username"]}, e
        types = s.types(marks[s])
        assert types.index("new_message") < types.index("mention_notification"), types
    # nobody else: carol (a member) and alice (the sender) get the new_message and no notification, up to a
    # marker sent after bob's notification came (the worker writes one job's notifications together)
    marker_check(api, alice, ch["id"], [sc, sa], lambda e: e.get("type") == "mention_notification", since=marks)
    for s in (sc, sa):
        s.wait_event("new_message", 1, since=marks[s], data_id=m["id"])
    for s in (sb1, sb2):
        assert len(s.events("mention_notification", since=marks[s])) == 1, s.types(marks[s])


def test_headless_send_in_a_direct_conversation(api, users, rt, ws):
    a, b, c = users(3)
    sa, sb, sc = ws(a, port=rt.ports[0]), ws(b, port=rt.ports[1]), ws(c)
    marks = {s: s.mark() for s in (sa, sb, sc)}
    r = create_conversation(api, a, [uid(b)])
    assert r.status_code == 201, r.text
    d = r.json()
    m = conv_send(api, b, d["id"], "direct hello")
    for s in (sa, sb):
        e = s.wait_event("new_message", 5, since=marks[s], data_id=m["id"])
        assert e["data"] == m and (e["channel_id"], e["conversation_id"]) == (d["id"], d["id"]), e
    # c shares only general with them
    general = [x for x in api.get("/api/v1/channels/my", headers=H(c)).json() if x["name"] == "general"][0]
    marker_check(api, a, general["id"], [sc], about(d["id"]), since=marks)


def test_every_stored_event_carries_event_id_and_timestamp(api, users, ws):
    """A sweep over one socket's frames after a mixed sequence: stored events carry ordered event_ids."""
    a, b = users(2)
    s = ws(a)
    mark = s.mark()
    ch = create_channel(api, a)
    add_user(api, a, ch["id"], b)
    m = send(api, b, ch["id"], f"hi @{a.user['username']}")
    # The worker notifies only while the message can be seen: wait for it before the delete.
    s.wait_event("mention_notification", 5, since=mark)
    react(api, a, m["id"], "✅")
    api.put(MESSAGES + m["id"], json={"content": "edited"}, headers=H(b))
    api.delete(MESSAGES + m["id"], headers=H(b))
    s.wait_event("message_deleted", 5, since=mark, message_id=m["id"])
    mine = [e for e in s.events(since=mark) if e["type"] in STORED_TYPES]
    assert {e["type"] for e in mine} >= {"channel_created", "user_joined", "new_message", "message_reaction",
                                         "message_edited", "message_deleted", "mention_notification"}, mine
    for e in mine:
        assert_stored_event(e, e["type"])
    keys = [event_key(e["event_id"]) for e in mine]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), "event ids must grow along one socket"
