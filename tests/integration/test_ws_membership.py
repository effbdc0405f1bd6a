"""§9.2 membership and creation events, and open sockets following membership at once (§9: join, leave, add,
remove, a new conversation): no reconnect is ever needed. read_receipt goes to the reader's own sockets."""
from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, CONVERSATIONS, H, add_user, conv_send, create_channel, create_conversation, join, mark_read, send, uid,
)
from ws_helpers import assert_stamped, assert_stored_event, rt, ws  # noqa: F401 (fixtures rt, ws)


def about(cid):
    return lambda e: cid in (e.get("channel_id"), e.get("conversation_id")) or (
        isinstance(e.get("data"), dict) and cid in (e["data"].get("channel_id"), e["data"].get("id")))


def marker_check(api, sender, marker_cid, watchers, absent, *, since):
    """A marker message to marker_cid, sent after the action: once a watcher has it, the watcher may not hold
    any frame matching `absent` (stored events reach a socket in stream order)."""
    m = send(api, sender, marker_cid, "marker")
    for w in watchers:
        w.wait_event("new_message", 5, since=since[w], data_id=m["id"])
        bad = [e for e in w.events(since=since[w]) if absent(e)]
        assert not bad, f"{w.label} got what it must not: {bad}"


def assert_membership_event(e, etype, user, cid):
    assert_stored_event(e, etype)
    assert (e["user_id"], e["username"], e["channel_id"]) == (uid(user), user.user["username"], cid), e


def test_join_reaches_members_and_the_joiner_whose_open_socket_then_follows_the_channel(api, users, rt, ws):
    owner, member, joiner, outsider = users(4)
    ch = create_channel(api, owner)
    cid = ch["id"]
    join(api, member, cid)
    side = create_channel(api, owner)
    join(api, outsider, side["id"])
    so, sm = ws(owner, port=rt.ports[0]), ws(member, port=rt.ports[1])
    sj1, sj2 = ws(joiner, port=rt.ports[0]), ws(joiner, port=rt.ports[1])  # opened before the join
    sx = ws(outsider)
    marks = {s: s.mark() for s in (so, sm, sj1, sj2, sx)}

    before = send(api, owner, cid, "before the join")
    join(api, joiner, cid)
    for s in (so, sm, sj1, sj2):
        assert_membership_event(s.wait_event("user_joined", 5, since=marks[s], channel_id=cid), "user_joined",
                                joiner, cid)
    after = send(api, member, cid, "after the join")
    for s in (sj1, sj2):
        e = s.wait_event("new_message", 5, since=marks[s], data_id=after["id"])
        assert e["data"] == after
        assert s.events("new_message", since=marks[s], data_id=before["id"]) == [], "sent before the join"
    marker_check(api, owner, side["id"], [sx], about(cid), since=marks)


def test_add_user_to_a_private_channel(api, users, rt, ws):
    owner, added, outsider = users(3)
    ch = create_channel(api, owner, private=True)
    cid = ch["id"]
    side = create_channel(api, owner)
    join(api, added, side["id"])
    join(api, outsider, side["id"])
    so, sa, sx = ws(owner, port=rt.ports[0]), ws(added, port=rt.ports[1]), ws(outsider)
    marks = {s: s.mark() for s in (so, sa, sx)}

    secret = send(api, owner, cid, "before adding")
    marker_check(api, owner, side["id"], [sa, sx], about(cid), since=marks)
    add_user(api, owner, cid, added)
    for s in (so, sa):
        assert_membership_event(s.wait_event("user_joined", 5, since=marks[s], channel_id=cid), "user_joined",
                                added, cid)
    m = send(api, owner, cid, "after adding")
    assert sa.wait_event("new_message", 5, since=marks[sa], data_id=m["id"])["data"] == m
    assert sa.events("new_message", since=marks[sa], data_id=secret["id"]) == []
    # the added user can use the channel on the open socket at once
    sa.send_json({"type": "get_online_users", "channel_id": cid})
    assert set(sa.wait_event("online_users", 5, channel_id=cid)["users"]) >= {uid(owner), uid(added)}
    marker_check(api, owner, side["id"], [sx], about(cid), since=marks)


def test_leave_reaches_members_and_the_leaver_then_nothing_more(api, users, rt, ws):
    owner, leaver, headless_leaver = users(3)
    ch = create_channel(api, owner)
    cid = ch["id"]
    join(api, leaver, cid)
    join(api, headless_leaver, cid)
    side = create_channel(api, owner)
    join(api, leaver, side["id"])
    join(api, headless_leaver, side["id"])
    so = ws(owner, port=rt.ports[0])
    sl1, sl2 = ws(leaver, port=rt.ports[0]), ws(leaver, port=rt.ports[1])
    sh = ws(headless_leaver)
    marks = {s: s.mark() for s in (so, sl1, sl2, sh)}

    r = api.delete(f"{CHANNELS}{cid}/leave", headers=H(leaver))
    assert r.status_code == 200, r.text
    for s in (so, sl1, sl2, sh):
        assert_membership_event(s.wait_event("user_left", 5, since=marks[s], user_id=uid(leaver)), "user_left",
                                leaver, cid)
    r = api.delete(f"{CONVERSATIONS}{cid}/participants/me", headers=H(headless_leaver))
    assert r.status_code == 204, r.text
    for s in (so, sh):
        assert_membership_event(s.wait_event("user_left", 5, since=marks[s], user_id=uid(headless_leaver)),
                                "user_left", headless_leaver, cid)
    left_marks = {s: s.mark() for s in (sl1, sl2, sh)}
    assert sl1.events("user_left", since=marks[sl1], user_id=uid(headless_leaver)) == [], \
        "a user who left earlier does not hear of later departures"

    # nothing more of that channel reaches the leavers: the owner's next message, reactions, typing...
    m = send(api, owner, cid, "after they left")
    assert so.wait_event("new_message", 5, since=marks[so], data_id=m["id"])
    marker_check(api, owner, side["id"], [sl1, sl2, sh], about(cid), since=left_marks)


def test_removed_member_stops_receiving_at_once(api, users, rt, ws):
    owner, removed, stays = users(3)
    ch = create_channel(api, owner)
    cid = ch["id"]
    join(api, removed, cid)
    join(api, stays, cid)
    side = create_channel(api, owner)
    join(api, removed, side["id"])
    so, sr, ss = ws(owner), ws(removed, port=rt.ports[0]), ws(stays, port=rt.ports[1])
    marks = {s: s.mark() for s in (so, sr, ss)}
    r = api.delete(f"{CHANNELS}{cid}/members/{uid(removed)}", headers=H(owner))
    assert r.status_code == 204, r.text
    for s in (so, sr, ss):
        assert_membership_event(s.wait_event("user_left", 5, since=marks[s], channel_id=cid), "user_left", removed,
                                cid)
    after = {s: s.mark() for s in (sr,)}
    m = send(api, stays, cid, "you are gone")
    assert so.wait_event("new_message", 5, since=marks[so], data_id=m["id"])
    marker_check(api, owner, side["id"], [sr], about(cid), since=after)
    # the open socket may no longer use it either
    sr.send_json({"type": "join_channel", "channel_id": cid})
    e = sr.wait_event("error", 5, since=after[sr])
    assert e["error_code"] == "access_denied", e


def test_channel_created_public_reaches_everyone_private_only_members(api, users, rt, ws):
    creator, stranger = users(2)
    sc1, sc2 = ws(creator, port=rt.ports[0]), ws(creator, port=rt.ports[1])
    s1, s2 = ws(stranger, port=rt.ports[0]), ws(stranger, port=rt.ports[1])
    marks = {s: s.mark() for s in (sc1, sc2, s1, s2)}

    r = api.post(CHANNELS, json={"name": f"pub_{uid(creator)[:8]}", "description": "open"}, headers=H(creator))
    assert r.status_code == 201, r.text
    pub = r.json()
    for s in (sc1, sc2, s1, s2):
        e = s.wait_event("channel_created", 5, since=marks[s], data_id=pub["id"])
        assert_stored_event(e, "channel_created")
        assert e["data"] == pub, e

    priv = create_channel(api, creator, private=True)
    for s in (sc1, sc2):
        e = s.wait_event("channel_created", 5, since=marks[s], data_id=priv["id"])
        assert e["data"] == priv and e["data"]["is_private"] is True, e
    # the creator's open sockets follow the new channels at once
    m = send(api, creator, priv["id"], "private hello")
    for s in (sc1, sc2):
        s.wait_event("new_message", 5, since=marks[s], data_id=m["id"])
    general = [c for c in api.get(CHANNELS + "my", headers=H(stranger)).json() if c["name"] == "general"][0]
    marker_check(api, creator, general["id"], [s1, s2], about(priv["id"]), since=marks)


def test_conversation_created_reaches_the_participants_and_follows_at_once(api, users, rt, ws):
    a, b, c, outsider = users(4)
    sa, sb, sc = ws(a, port=rt.ports[0]), ws(b, port=rt.ports[1]), ws(c, port=rt.ports[0])
    sx = ws(outsider, port=rt.ports[1])
    marks = {s: s.mark() for s in (sa, sb, sc, sx)}

    r = create_conversation(api, a, [uid(b)])
    assert r.status_code == 201, r.text
    direct = r.json()
    for s in (sa, sb):
        e = s.wait_event("conversation_created", 5, since=marks[s], data_id=direct["id"])
        assert_stored_event(e, "conversation_created")
        assert {k: e["data"][k] for k in ("id", "kind", "title", "is_group", "is_private", "creator_id")} == {
            "id": direct["id"], "kind": "direct", "title": None, "is_group": False, "is_private": True,
            "creator_id": uid(a)}, e
    m = conv_send(api, b, direct["id"], "no reconnect needed")
    for s in (sa, sb):
        assert s.wait_event("new_message", 5, since=marks[s], data_id=m["id"])["data"] == m

    r = create_conversation(api, a, [uid(b), uid(c)], is_group=True, title="trio")
    assert r.status_code == 201, r.text
    group = r.json()
    for s in (sa, sb, sc):
        e = s.wait_event("conversation_created", 5, since=marks[s], data_id=group["id"])
        assert (e["data"]["kind"], e["data"]["title"]) == ("group", "trio"), e
    # adding a participant: user_joined to the group and to the new member, whose socket then follows it
    r = api.post(f"{CONVERSATIONS}{group['id']}/participants", json={"participant_ids": [uid(outsider)]},
                 headers=H(a))
    assert r.status_code == 200, r.text
    for s in (sa, sb, sc, sx):
        assert_membership_event(s.wait_event("user_joined", 5, since=marks[s], channel_id=group["id"]),
                                "user_joined", outsider, group["id"])
    m2 = conv_send(api, c, group["id"], "welcome")
    for s in (sa, sb, sc, sx):
        s.wait_event("new_message", 5, since=marks[s], data_id=m2["id"])
    # the outsider never heard of the direct conversation
    assert [e for e in sx.events(since=marks[sx]) if about(direct["id"])(e)] == []
    # nor c: a marker in the group (which both are in) comes after everything above
    marker_check(api, a, group["id"], [sc, sx], about(direct["id"]), since=marks)


def test_read_receipt_goes_to_the_readers_own_sockets_only(api, users, rt, ws):
    reader, other = users(2)
    ch = create_channel(api, reader)
    join(api, other, ch["id"])
    msgs = [send(api, other, ch["id"]) for _ in range(3)]
    r1, r2 = ws(reader, port=rt.ports[0]), ws(reader, port=rt.ports[1])
    so = ws(other)
    marks = {s: s.mark() for s in (r1, r2, so)}

    assert mark_read(api, reader, ch["id"], seq=2).status_code == 204
    for s in (r1, r2):
        e = s.wait_event("read_receipt", 5, since=marks[s])
        assert (e["channel_id"], e["seq"]) == (ch["id"], 2), e
        assert_stamped(e)
    # the headless route too, by message id
    r = api.put(f"{CONVERSATIONS}{ch['id']}/messages/read", json={"last_seen_message_id": msgs[2]["id"]},
                headers=H(reader))
    assert r.status_code == 200, r.text
    for s in (r1, r2):
        e = s.wait_event("read_receipt", 5, since=marks[s], seq=3)
        assert e["channel_id"] == ch["id"], e
    # the other member: its own receipt is published after the reader's, so it would have come first
    assert mark_read(api, other, ch["id"], seq=3).status_code == 204
    mine = so.wait_event("read_receipt", 5, since=marks[so])
    assert (mine["channel_id"], mine["seq"]) == (ch["id"], 3), mine
    assert len(so.events("read_receipt", since=marks[so])) == 1, so.types(marks[so])
    # and the reader's sockets do not get the other's receipt: a typing signal the other sends afterwards goes
    # through the same pub/sub channel, later, and arrives
    so.send_json({"type": "typing_indicator", "channel_id": ch["id"], "is_typing": True})
    for s in (r1, r2):
        s.wait_event("typing_indicator", 5, since=marks[s], user_id=uid(other))
        assert [(e["seq"]) for e in s.events("read_receipt", since=marks[s])] == [2, 3], s.types(marks[s])
