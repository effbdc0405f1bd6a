"""§9.1/§9.2 ephemeral signals across the two daemons: typing_indicator (relayed to the other members, never
to the typist, ended by a 10 s silence, by closing the typist's last socket, by leaving) and user_status
(online at the first socket, offline 5 s after the last one anywhere closed, not while another tab lives).

Ephemeral signals travel through Redis pub/sub, not the events stream, so absence is proven with a later
signal through the same channel: pub/sub delivers in publish order, and a daemon publishes in order."""
import time

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, H, create_channel, join, uid,
)
from ws_helpers import assert_stamped, rt, ws  # noqa: F401 (fixtures rt, ws)

TYPING_FIELDS = {"type", "user_id", "username", "channel_id", "is_typing", "timestamp"}
STATUS_FIELDS = {"type", "user_id", "status", "last_seen_at", "timestamp"}


def typing(sock, cid, flag=True):
    sock.send_json({"type": "typing_indicator", "channel_id": cid, "is_typing": flag})


def assert_typing(e, user, cid, flag):
    assert set(e) == TYPING_FIELDS, e
    assert (e["user_id"], e["username"], e["channel_id"], e["is_typing"]) == (
        uid(user), user.user["username"], cid, flag), e
    assert_stamped(e)


def typing_of(sock, user, cid, since, flag=None):
    return [e for e in sock.events("typing_indicator", since=since, user_id=uid(user), channel_id=cid)
            if flag is None or e["is_typing"] is flag]


def test_typing_reaches_the_other_members_on_both_daemons_but_not_the_typist(api, users, rt, ws):
    a, b, c, outsider = users(4)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    join(api, c, ch["id"])
    side = create_channel(api, b)
    join(api, outsider, side["id"])
    a1, a2 = ws(a, port=rt.ports[0]), ws(a, port=rt.ports[1])
    sb, sc, sx = ws(b, port=rt.ports[1]), ws(c), ws(outsider, port=rt.ports[0])
    marks = {s: s.mark() for s in (a1, a2, sb, sc, sx)}

    typing(a1, ch["id"], True)
    for s in (sb, sc):
        assert_typing(s.wait_event("typing_indicator", 5, since=marks[s], user_id=uid(a)), a, ch["id"], True)
    typing(a1, ch["id"], False)
    for s in (sb, sc):
        s.wait_event("typing_indicator", 5, since=marks[s], user_id=uid(a), is_typing=False)
        assert [e["is_typing"] for e in typing_of(s, a, ch["id"], marks[s])] == [True, False]
    # b types afterwards: its signal reaches a's sockets, with nothing of a's own before it
    typing(sb, ch["id"], True)
    for s in (a1, a2):
        assert_typing(s.wait_event("typing_indicator", 5, since=marks[s], user_id=uid(b)), b, ch["id"], True)
        assert typing_of(s, a, ch["id"], marks[s]) == [], f"{s.label}: the typist got its own signal"
    # the outsider: b's typing in `side` arrives, nothing about ch ever did
    typing(sb, side["id"], True)
    sx.wait_event("typing_indicator", 5, since=marks[sx], channel_id=side["id"])
    assert sx.events("typing_indicator", since=marks[sx], channel_id=ch["id"]) == []


def test_typing_expires_10s_after_the_last_true(api, users, rt, ws):
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    sa, sb = ws(a, port=rt.ports[0]), ws(b, port=rt.ports[1])
    mark = sb.mark()
    typing(sa, ch["id"], True)
    sb.wait_event("typing_indicator", 5, since=mark, is_typing=True)
    time.sleep(1.5)
    last_true = time.monotonic()
    typing(sa, ch["id"], True)  # still typing: the 10 s count again from here
    assert len(sb.wait_count("typing_indicator", 2, 5, since=mark, is_typing=True, channel_id=ch["id"])) == 2
    f = sb.wait(lambda f: f.type == "typing_indicator" and f.obj["is_typing"] is False, 14,
                "typing_indicator is_typing false", since=mark)
    took = f.at - last_true
    assert 10.0 <= took < 12.5, f"is_typing false {took:.2f} s after the last true (expected 10 s)"
    assert_typing(f.obj, a, ch["id"], False)
    assert [e["is_typing"] for e in typing_of(sb, a, ch["id"], mark)] == [True, True, False]


def test_typing_ends_when_the_typists_last_socket_closes(api, users, rt, ws):
    a, b, c = users(3)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    join(api, c, ch["id"])
    a1, a2 = ws(a, port=rt.ports[0]), ws(a, port=rt.ports[0])  # two tabs on one daemon
    sb = ws(b, port=rt.ports[1])
    sc = ws(c, port=rt.ports[0])
    mark = sb.mark()
    typing(a1, ch["id"], True)
    sb.wait_event("typing_indicator", 5, since=mark, user_id=uid(a), is_typing=True)

    # the tab that typed closes, another tab of the typist lives on: still typing. c's typing, published by
    # the same daemon after it handled the close, reaches b with no false before it
    a1.close()
    typing(sc, ch["id"], True)
    sb.wait_event("typing_indicator", 5, since=mark, user_id=uid(c))
    assert typing_of(sb, a, ch["id"], mark, False) == [], "typing ended while the typist had a socket open"

    t0 = time.monotonic()
    a2.close()
    f = sb.wait(lambda f: f.type == "typing_indicator" and f.obj["user_id"] == uid(a) and f.obj["is_typing"] is False,
                3, "is_typing false after the typist's last socket closed", since=mark)
    assert f.at - t0 < 2.0, f"{f.at - t0:.2f} s"
    assert_typing(f.obj, a, ch["id"], False)


def test_leaving_ends_typing(api, users, rt, ws):
    a, b = users(2)
    ch = create_channel(api, b)
    join(api, a, ch["id"])
    sa, sb = ws(a, port=rt.ports[0]), ws(b, port=rt.ports[1])
    mark = sb.mark()
    typing(sa, ch["id"], True)
    sb.wait_event("typing_indicator", 5, since=mark, user_id=uid(a), is_typing=True)
    t0 = time.monotonic()
    r = api.delete(f"{CHANNELS}{ch['id']}/leave", headers=H(a))
    assert r.status_code == 200, r.text
    sb.wait_event("user_left", 5, since=mark, user_id=uid(a))
    f = sb.wait(lambda f: f.type == "typing_indicator" and f.obj["is_typing"] is False, 3,
                "is_typing false after the typist left", since=mark)
    assert f.at - t0 < 2.0, f"{f.at - t0:.2f} s"
    assert_typing(f.obj, a, ch["id"], False)


def test_user_status_online_then_offline_5s_after_the_last_tab(api, users, rt, ws, db):
    subject, watcher, loner, later = users(4)
    ch = create_channel(api, watcher)
    join(api, subject, ch["id"])
    join(api, later, ch["id"])
    # loner shares no conversation with anyone: leaves general
    for c in api.get(CHANNELS + "my", headers=H(loner)).json():
        assert api.delete(f"{CHANNELS}{c['id']}/leave", headers=H(loner)).status_code == 200
    sw = ws(watcher, port=rt.ports[1])
    sl = ws(loner, port=rt.ports[0])
    mark, mark_l = sw.mark(), sl.mark()

    tab1 = ws(subject, port=rt.ports[0])
    e = sw.wait_event("user_status", 5, since=mark, user_id=uid(subject))
    assert set(e) == STATUS_FIELDS and e["status"] == "online", e
    assert_stamped(e)
    assert isinstance(e["last_seen_at"], str), e
    r = api.get(f"/api/v1/users/{uid(subject)}", headers=H(watcher))
    assert r.json()["is_online"] is True, r.text
    # a second tab on the other daemon: no second "online"
    tab2 = ws(subject, port=rt.ports[1])

    # the loner hears nothing about the subject: a later user's online status (published after the subject's)
    # reaches the watcher; and the loner never hears of either
    ws(later, port=rt.ports[0])
    sw.wait_event("user_status", 5, since=mark, user_id=uid(later), status="online")
    assert sl.events("user_status", since=mark_l) == [], "user_status to a user who shares no conversation"

    # tab 1 closes: the user stays online while tab 2 lives (well past the 5 s grace)
    t_close1 = time.monotonic()
    tab1.close()
    while time.monotonic() < t_close1 + 6.5:
        assert sw.events("user_status", since=mark, user_id=uid(subject), status="offline") == [], \
            "offline while another tab is open"
        time.sleep(0.1)
    assert api.get(f"/api/v1/users/{uid(subject)}", headers=H(watcher)).json()["is_online"] is True

    t_close2 = time.monotonic()
    tab2.close()
    f = sw.wait(lambda f: f.type == "user_status" and f.obj["user_id"] == uid(subject)
                and f.obj["status"] == "offline", 10, "user_status offline", since=mark)
    took = f.at - t_close2
    assert 5.0 <= took < 9.0, f"offline {took:.2f} s after the last tab closed (expected 5 s)"
    assert set(f.obj) == STATUS_FIELDS, f.obj
    assert [e["status"] for e in sw.events("user_status", since=mark, user_id=uid(subject))] == ["online", "offline"]
    u = api.get(f"/api/v1/users/{uid(subject)}", headers=H(watcher)).json()
    assert u["is_online"] is False and u["last_seen_at"] is not None, u
    assert sl.events("user_status", since=mark_l, user_id=uid(subject)) == []


def test_a_quick_reconnect_is_no_offline(api, users, rt, ws):
    """Closing the only tab and opening another within the 5 s grace: no offline, no second online."""
    subject, watcher = users(2)
    ch = create_channel(api, watcher)
    join(api, subject, ch["id"])
    sw = ws(watcher, port=rt.ports[0])
    mark = sw.mark()
    tab = ws(subject, port=rt.ports[0])
    sw.wait_event("user_status", 5, since=mark, user_id=uid(subject), status="online")
    tab.close()
    time.sleep(1)
    ws(subject, port=rt.ports[1])  # back, through the other daemon
    time.sleep(6)
    assert [e["status"] for e in sw.events("user_status", since=mark, user_id=uid(subject))] == ["online"]


def test_typing_ends_on_the_other_daemon_too_only_with_the_last_socket(api, users, rt, ws):
    """The typist's tabs sit on both daemons; closing the one that typed leaves the user connected."""
    a, b, c = users(3)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    join(api, c, ch["id"])
    a1, a2 = ws(a, port=rt.ports[0]), ws(a, port=rt.ports[1])
    sb = ws(b, port=rt.ports[1])
    sc = ws(c, port=rt.ports[0])
    mark = sb.mark()
    typing(a1, ch["id"], True)
    sb.wait_event("typing_indicator", 5, since=mark, user_id=uid(a), is_typing=True)
    a1.close()
    typing(sc, ch["id"], True)  # same daemon as the closed tab, published after the close
    sb.wait_event("typing_indicator", 5, since=mark, user_id=uid(c))
    assert typing_of(sb, a, ch["id"], mark, False) == [], \
        "is_typing false although the typist still has a socket open (on the other daemon)"
    t0 = time.monotonic()
    a2.close()
    f = sb.wait(lambda f: f.type == "typing_indicator" and f.obj["user_id"] == uid(a) and f.obj["is_typing"] is False,
                3, "is_typing false after the typist's last socket closed", since=mark)
    assert f.at - t0 < 2.0, f"{f.at - t0:.2f} s"


