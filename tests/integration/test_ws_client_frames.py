"""§9.1 client → server frames: ping/pong (JSON and text), error frames that leave the socket open,
join_channel / leave_channel on one socket, get_online_users."""
import uuid

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    create_channel, join, send, uid,
)
from ws_helpers import assert_stamped, rt, ws  # noqa: F401 (fixtures rt, ws)


def test_json_ping_gets_pong_and_text_ping_gets_text_pong(users, rt, ws):
    (u,) = users(1)
    for port in (None, rt.ports[0]):
        s = ws(u, port=port)
        mark = s.mark()
        s.send_json({"type": "ping"})
        e = s.wait_event("pong", 5, since=mark)
        assert set(e) == {"type", "timestamp"}, e
        assert_stamped(e)
        mark = s.mark()
        s.send("ping")
        f = s.wait(lambda f: f.obj is None, 5, "a non-JSON frame", since=mark)
        assert f.data == "pong" and isinstance(f.data, str), f
        assert s.events("error", since=mark) == [] and s.events("pong", since=mark) == [], s.types(mark)


def test_bad_frames_get_error_frames_and_the_socket_stays_open(api, users, ws):
    a, b = users(2)
    theirs = create_channel(api, b)  # public, a is not in it
    private = create_channel(api, b, private=True)
    s = ws(a)
    cases = [
        ("not json at all", "invalid_json"),
        ('{"type": "ping"', "invalid_json"),
        (b'{"type": "ping"}', "invalid_json"),  # a binary frame, whatever it holds
        (b"\x00\xff", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"type": "no_such_thing"}', "unknown_message_type"),
        ('{"channel_id": "x"}', "unknown_message_type"),
        ('{"type": "join_channel"}', "missing_channel_id"),
        ('{"type": "leave_channel", "channel_id": ""}', "missing_channel_id"),
        ('{"type": "typing_indicator", "is_typing": true}', "missing_channel_id"),
        ('{"type": "get_online_users"}', "missing_channel_id"),
        (f'{{"type": "join_channel", "channel_id": "{theirs["id"]}"}}', "access_denied"),
        (f'{{"type": "join_channel", "channel_id": "{private["id"]}"}}', "access_denied"),
        (f'{{"type": "leave_channel", "channel_id": "{uuid.uuid4()}"}}', "access_denied"),
        (f'{{"type": "get_online_users", "channel_id": "{theirs["id"]}"}}', "access_denied"),
        (f'{{"type": "typing_indicator", "channel_id": "{private["id"]}", "is_typing": true}}', "access_denied"),
    ]
    for frame, code in cases:
        mark = s.mark()
        s.send(frame)
        e = s.wait_event("error", 5, since=mark)
        assert e["error_code"] == code, (frame, e)
        assert isinstance(e["message"], str) and e["message"], e
        assert_stamped(e)
        assert set(e) == {"type", "error_code", "message", "timestamp"}, e
        # still open and answering
        s.send_json({"type": "ping"})
        s.wait_event("pong", 5, since=mark)
        assert [t for t in s.types(mark) if t in ("error", "pong")] == ["error", "pong"], (frame, s.types(mark))
    assert not s.is_closed
    # and still subscribed: a message in a channel of a's arrives
    mine = create_channel(api, a)
    m = send(api, a, mine["id"])
    s.wait_event("new_message", 5, data_id=m["id"])
    # b heard nothing of a's refused typing in the private channel: a's typing in a channel both are in,
    # published afterwards by the same daemon, reaches b, and nothing came before it
    join(api, b, mine["id"])
    sb = ws(b)
    mark_b = sb.mark()
    mark = s.mark()
    s.send_json({"type": "typing_indicator", "channel_id": private["id"], "is_typing": True})
    assert s.wait_event("error", 5, since=mark)["error_code"] == "access_denied"
    s.send_json({"type": "typing_indicator", "channel_id": mine["id"], "is_typing": True})
    sb.wait_event("typing_indicator", 5, since=mark_b, channel_id=mine["id"])
    assert [e["channel_id"] for e in sb.events("typing_indicator", since=mark_b)] == [mine["id"]]


def test_leave_channel_and_join_channel_on_one_socket(api, users, rt, ws):
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    s1, s2 = ws(a, port=rt.ports[0]), ws(a, port=rt.ports[1])
    mark1, mark2 = s1.mark(), s2.mark()

    s1.send_json({"type": "leave_channel", "channel_id": ch["id"]})
    e = s1.wait_event("channel_left", 5, since=mark1)
    assert (e["channel_id"], set(e)) == (ch["id"], {"type", "channel_id", "timestamp"}), e
    m1 = send(api, b, ch["id"], "while s1 is out")
    s2.wait_event("new_message", 5, since=mark2, data_id=m1["id"])  # the user's other socket still gets it
    # s1 gets no more of it, but keeps its other conversations: a marker in another channel arrives
    other = create_channel(api, a)
    join(api, b, other["id"])
    sb = ws(b)
    m_other = send(api, a, other["id"], "elsewhere")
    s1.wait_event("new_message", 5, since=mark1, data_id=m_other["id"])
    assert s1.events("new_message", since=mark1, channel_id=ch["id"]) == [], s1.types(mark1)
    # ephemeral signals skip it too: b's typing in ch reaches s2, not s1 (b's typing in `other`, sent after
    # through the same daemon, does reach s1)
    sb.send_json({"type": "typing_indicator", "channel_id": ch["id"], "is_typing": True})
    s2.wait_event("typing_indicator", 5, since=mark2, channel_id=ch["id"], user_id=uid(b))
    sb.send_json({"type": "typing_indicator", "channel_id": other["id"], "is_typing": True})
    s1.wait_event("typing_indicator", 5, since=mark1, channel_id=other["id"], user_id=uid(b))
    assert s1.events("typing_indicator", since=mark1, channel_id=ch["id"]) == [], s1.types(mark1)
    # membership is unchanged (REST)
    r = api.get(f"/api/v1/channels/{ch['id']}", headers={"Authorization": f"Bearer {a.access}"})
    assert uid(a) in [u["id"] for u in r.json()["members"]], r.text
    s1.send_json({"type": "join_channel", "channel_id": ch["id"]})
    e = s1.wait_event("channel_joined", 5, since=mark1)
    assert (e["channel_id"], set(e)) == (ch["id"], {"type", "channel_id", "timestamp"}), e
    m2 = send(api, b, ch["id"], "s1 is back")
    for s, mark in ((s1, mark1), (s2, mark2)):
        s.wait_event("new_message", 5, since=mark, data_id=m2["id"])
    assert [e["data"]["id"] for e in s1.events("new_message", since=mark1, channel_id=ch["id"])] == [m2["id"]]
    # join_channel on a subscribed conversation is harmless (no duplicates)
    s2.send_json({"type": "join_channel", "channel_id": ch["id"]})
    s2.wait_event("channel_joined", 5, since=mark2)
    m3 = send(api, b, ch["id"])
    s2.wait_event("new_message", 5, since=mark2, data_id=m3["id"])
    assert len(s2.events("new_message", since=mark2, data_id=m3["id"])) == 1


def test_online_users(api, users, rt, ws):
    a, b, offline = users(3)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    join(api, offline, ch["id"])
    sa = ws(a, port=rt.ports[0])
    mark = sa.mark()
    ws(b, port=rt.ports[1])  # online through the other daemon
    # presence is shared through Redis: once a has heard that b is online, every daemon knows it
    sa.wait_event("user_status", 5, since=mark, user_id=uid(b), status="online")
    for s in (sa,):
        mark = s.mark()
        s.send_json({"type": "get_online_users", "channel_id": ch["id"]})
        e = s.wait_event("online_users", 5, since=mark)
        assert set(e) == {"type", "channel_id", "users", "timestamp"}, e
        assert e["channel_id"] == ch["id"]
        assert sorted(e["users"]) == sorted([uid(a), uid(b)]), e
    # headless clients may name it conversation_id
    mark = sa.mark()
    sa.send_json({"type": "get_online_users", "conversation_id": ch["id"]})
    assert sorted(sa.wait_event("online_users", 5, since=mark)["users"]) == sorted([uid(a), uid(b)])
