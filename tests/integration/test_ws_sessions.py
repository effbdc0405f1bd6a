"""§3/§9.2 revoked sessions lose their sockets: force_disconnect {reason}, then close code 4003, within 1 s of
the REST answer (logout; a password change for the other sessions; refresh-token reuse), on both daemons and
through nginx. Other sessions of the same user keep theirs."""
import hashlib
import time

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    H, create_channel, send,
)
from conftest import PASSWORD, Registered, jwt_payload, login_json
from ws_helpers import assert_stamped, raw_upgrade, rt, ws  # noqa: F401 (fixtures rt, ws)


def login(api, user) -> Registered:
    r = login_json(api, user.user["username"], PASSWORD)
    assert r.status_code == 200, r.text
    d = r.json()
    return Registered(d["user"], d["access_token"], d["refresh_token"])


def assert_forced_out(sock, reason, t_answer):
    """force_disconnect {reason} as the last frame, then close 4003, both within 1 s of t_answer."""
    f = sock.wait(lambda f: f.type == "force_disconnect", 3, "force_disconnect")
    sock.wait_closed(3)
    e = f.obj
    assert set(e) == {"type", "reason", "timestamp"} and e["reason"] == reason, e
    assert_stamped(e)
    assert sock.close_code == 4003, f"{sock.label}: close code {sock.close_code} {sock.close_reason!r}"
    assert sock.since()[-1] is f, f"{sock.label}: frames after force_disconnect: {sock.types()}"
    assert f.at - t_answer < 1.0, f"{sock.label}: force_disconnect {f.at - t_answer:.2f} s after the answer"
    assert sock.closed_at - t_answer < 1.0, f"{sock.label}: closed {sock.closed_at - t_answer:.2f} s after the answer"


def assert_alive(api, sock, user, cid):
    mark = sock.mark()
    sock.send_json({"type": "ping"})
    sock.wait_event("pong", 5, since=mark)
    m = send(api, user, cid)
    sock.wait_event("new_message", 5, since=mark, data_id=m["id"])
    assert not sock.is_closed


def test_logout_closes_that_sessions_sockets_with_4003_within_1s(api, users, rt, ws):
    (u,) = users(1)
    other = login(api, u)
    ch = create_channel(api, u)
    mine = [ws(u), ws(u, port=rt.ports[0]), ws(u, port=rt.ports[1])]
    theirs = [ws(other.access, port=rt.ports[0]), ws(other.access, port=rt.ports[1])]

    r = api.post("/api/v1/auth/logout", headers=H(u))
    t_answer = time.monotonic()
    assert r.status_code == 204, r.text
    for s in mine:
        assert_forced_out(s, "logout", t_answer)
    # the other session of the same user keeps its sockets
    for s in theirs:
        assert_alive(api, s, other, ch["id"])
    # and the logged-out token gets no new socket
    assert raw_upgrade(rt.ports[1], f"/ws?token={u.access}").status == 401


def test_password_change_closes_every_other_session(api, users, rt, ws):
    (u,) = users(1)
    s2, s3 = login(api, u), login(api, u)
    ch = create_channel(api, u)
    keeper = [ws(u, port=rt.ports[0]), ws(u, port=rt.ports[1])]
    gone = [ws(s2.access, port=rt.ports[0]), ws(s2.access), ws(s3.access, port=rt.ports[1])]
    assert len({s.established["session_id"] for s in gone + keeper}) == 3

    r = api.put("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "Another-pass-77"},
                headers=H(u))
    t_answer = time.monotonic()
    assert r.status_code == 204, r.text
    for s in gone:
        assert_forced_out(s, "password_changed", t_answer)
    for s in keeper:
        assert_alive(api, s, u, ch["id"])


def test_refresh_token_reuse_closes_the_session(api, users, rt, ws, db):
    (u,) = users(1)
    ch = create_channel(api, u)
    r = api.post("/api/v1/auth/refresh", json={"refresh_token": u.refresh})
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert jwt_payload(fresh["access_token"])["sid"] == jwt_payload(u.access)["sid"]
    other = login(api, u)
    same_session = [ws(fresh["access_token"], port=rt.ports[0]), ws(u.access, port=rt.ports[1])]
    survivor = ws(other.access)

    # the old one again, past the grace window of a repeated refresh (two tabs): reuse
    db("UPDATE refresh_tokens SET used_at = used_at - interval '1 minute' WHERE token_hash = :'p1'",
       hashlib.sha256(u.refresh.encode()).hexdigest())
    r = api.post("/api/v1/auth/refresh", json={"refresh_token": u.refresh})
    t_answer = time.monotonic()
    assert r.status_code == 401, r.text
    for s in same_session:
        assert_forced_out(s, "refresh_token_reuse", t_answer)
    assert_alive(api, survivor, other, ch["id"])


def test_a_revocation_missed_by_pubsub_still_closes_the_sockets(api, users, rt, ws, db):
    """A session revoked in PostgreSQL with no pub/sub message (as when a daemon's subscription was
    reconnecting at that moment), and a user banned the same way: each daemon's periodic check against
    the database (every 15 s) closes their sockets with force_disconnect + 4003; others stay."""
    a, b, c = users(3)
    ch = create_channel(api, c)
    socks_a = [ws(a, port=rt.ports[0]), ws(a, port=rt.ports[1])]
    socks_b = [ws(b, port=rt.ports[0])]
    keep = ws(c, port=rt.ports[1])
    sid = jwt_payload(a.access)["sid"]
    db("UPDATE sessions SET revoked_at = now(), revoke_reason = 'logout' WHERE id = :'p1'", sid)
    db("UPDATE users SET status = 'banned' WHERE id = :'p1'", b.user["id"])
    try:
        for s, reason in [(x, "logout") for x in socks_a] + [(x, "user_inactive") for x in socks_b]:
            f = s.wait(lambda f: f.type == "force_disconnect", 20, "force_disconnect from the periodic check")
            assert f.obj["reason"] == reason, f.obj
            s.wait_closed(3)
            assert s.close_code == 4003, (s.label, s.close_code)
        assert_alive(api, keep, c, ch["id"])
    finally:
        db("UPDATE users SET status = 'active' WHERE id = :'p1'", b.user["id"])
