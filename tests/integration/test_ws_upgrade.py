"""§9 the upgrade: who gets a socket (401 / 403 at the upgrade, with no socket), the Origin check before the
token check, and connection_established as the first frame. Through nginx and on a daemon's own port."""
import json
import time
import urllib.request
import uuid

import pytest
import websockets

from chat_helpers import stream_mark
from conftest import PASSWORD, b64url, forge_jwt, jwt_payload, login_json, register_user
from ws_helpers import (  # noqa: F401 (fixtures rt, ws)
    WsClient, accept_value, assert_established, event_key, metrics_of, raw_upgrade, rt, wait_until, ws,
)

BAD_ORIGIN = "http://evil.example"
ALLOWED_ORIGINS = ["http://localhost:3000", "http://allowed.example"]


@pytest.fixture(scope="module")
def person(api):
    return register_user(api)


DAEMON_PORTS = set()


def ports(rt):
    """nginx's /ws and the first daemon directly: the daemon answers refusals itself; nginx passes them on."""
    DAEMON_PORTS.update(rt.ports)
    return {"nginx": rt.http_port, "daemon": rt.ports[0]}


def upgrade(port, token=None, origin=None, **query):
    """The raw handshake; on a daemon's own port also whether it closed TCP after a refusal."""
    check_closed = port in DAEMON_PORTS
    q = dict(query)
    if token is not None:
        q["token"] = token
    target = "/ws" + ("?" + "&".join(f"{k}={v}" for k, v in q.items()) if q else "")
    return raw_upgrade(port, target, {"Origin": origin} if origin else None, check_closed=check_closed)


def assert_refused(resp, status, detail, *, via):
    assert resp.status == status, f"{via}: expected {status}, got {resp.status} {resp.headers} {resp.body!r}"
    assert "sec-websocket-accept" not in resp.headers, resp.headers
    assert resp.headers.get("content-type", "").split(";")[0] == "application/json", resp.headers
    assert resp.json() == {"detail": detail}, resp.body
    if status == 401:
        assert resp.headers.get("www-authenticate", "").split(" ")[0].lower() == "bearer", resp.headers
    if via == "daemon":  # no socket: the daemon closes TCP after the refusal (nginx may keep its side alive)
        assert resp.closed, "the daemon kept the refused connection open"


def token_variants(stack, user):
    claims = jwt_payload(user.access)
    key = stack.jwt_secret
    now = int(time.time())
    h, p, s = user.access.split(".")
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    return {
        "garbage": "garbage",
        "bad_signature": f"{h}.{p}.{s[:-4]}{'AAAA' if not s.endswith('AAAA') else 'BBBB'}",
        "wrong_key": forge_jwt(claims, b"not-the-secret-" + key, "HS256"),
        "tampered_payload": f"{h}.{b64url(json.dumps({**claims, 'sub': str(uuid.uuid4())}).encode())}.{s}",
        "expired": forge_jwt({**claims, "iat": now - 7200, "exp": now - 3600}, key, "HS256"),
        "no_exp": forge_jwt(no_exp, key, "HS256"),
        "alg_hs512": forge_jwt(claims, key, "HS512"),
        "alg_hs384": forge_jwt(claims, key, "HS384"),
        "alg_none": forge_jwt(claims, None, "none"),
        "unknown_user": forge_jwt({**claims, "sub": str(uuid.uuid4())}, key, "HS256"),
        "unknown_session": forge_jwt({**claims, "sid": str(uuid.uuid4())}, key, "HS256"),
    }


def test_forged_control_token_is_accepted(rt, stack, person):
    """Control for the refusals below: a token this test signs with the stack's secret is good for /ws."""
    token = forge_jwt(jwt_payload(person.access), stack.jwt_secret, "HS256")
    for via, port in ports(rt).items():
        r = upgrade(port, token)
        assert r.status == 101, f"{via}: {r.status} {r.body!r}"
        assert r.headers.get("sec-websocket-accept") == accept_value(r.key), r.headers
        assert r.headers.get("upgrade", "").lower() == "websocket", r.headers


def test_missing_token_is_401(rt):
    for via, port in ports(rt).items():
        assert_refused(upgrade(port), 401, "Not authenticated", via=via)
        assert_refused(upgrade(port, ""), 401, "Not authenticated", via=via)
        assert_refused(upgrade(port, last_event_id="0"), 401, "Not authenticated", via=via)


@pytest.mark.parametrize("variant", [
    "garbage", "bad_signature", "wrong_key", "tampered_payload", "expired", "no_exp", "alg_hs512", "alg_hs384",
    "alg_none", "unknown_user", "unknown_session",
])
def test_bad_token_is_401(rt, stack, person, variant):
    token = token_variants(stack, person)[variant]
    for via, port in ports(rt).items():
        assert_refused(upgrade(port, token), 401, "Could not validate credentials", via=via)


def test_logged_out_session_is_401(rt, api):
    u = register_user(api)
    other = login_json(api, u.user["username"], PASSWORD).json()["access_token"]  # a second session
    assert upgrade(rt.http_port, u.access).status == 101
    assert api.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {u.access}"}).status_code == 204
    for via, port in ports(rt).items():
        assert_refused(upgrade(port, u.access), 401, "Could not validate credentials", via=via)
        assert upgrade(port, other).status == 101, "logging one session out must leave the other one alone"


@pytest.mark.parametrize("status", ["banned", "suspended"])
def test_inactive_user_is_403(rt, api, db, status):
    u = register_user(api)
    assert upgrade(rt.http_port, u.access).status == 101
    db("UPDATE users SET status = :'p2' WHERE id = :'p1'", u.user["id"], status)
    for via, port in ports(rt).items():
        assert_refused(upgrade(port, u.access), 403, "Inactive user", via=via)
    db("UPDATE users SET status = 'active' WHERE id = :'p1'", u.user["id"])
    assert upgrade(rt.http_port, u.access).status == 101, "a lifted ban lets the user in again"


def test_disallowed_origin_is_403_before_the_token_is_looked_at(rt, stack, person):
    bad = token_variants(stack, person)["expired"]
    for via, port in ports(rt).items():
        assert_refused(upgrade(port, person.access, BAD_ORIGIN), 403, "Origin not allowed", via=via)
        # the Origin check comes first: no token, a bad token, the same 403
        assert_refused(upgrade(port, None, BAD_ORIGIN), 403, "Origin not allowed", via=via)
        assert_refused(upgrade(port, bad, BAD_ORIGIN), 403, "Origin not allowed", via=via)
        # an origin that only resembles an allowed one
        assert_refused(upgrade(port, person.access, "http://localhost:3001"), 403, "Origin not allowed", via=via)
        assert_refused(upgrade(port, person.access, "http://allowed.example.evil.example"), 403,
                       "Origin not allowed", via=via)


def test_allowed_origins_and_no_origin_are_accepted(rt, person):
    for via, port in ports(rt).items():
        for origin in ALLOWED_ORIGINS + [None]:
            r = upgrade(port, person.access, origin)
            assert r.status == 101, f"{via} origin {origin}: {r.status} {r.body!r}"
        # the allowed origin does not excuse a bad token: then the token check answers
        assert_refused(upgrade(port, "garbage", ALLOWED_ORIGINS[0]), 401, "Could not validate credentials", via=via)


def test_a_real_client_gets_no_socket_when_refused(rt, person):
    """python3-websockets sees the refusal as the HTTP status, and no connection is opened."""
    for url, origin, status in [
        (rt.url("garbage"), None, 401),
        (rt.url(person.access), BAD_ORIGIN, 403),
        (rt.url(None, port=rt.ports[1]), None, 401),
    ]:
        with pytest.raises(websockets.InvalidStatusCode) as e:
            WsClient(url, origin=origin).open()
        assert e.value.status_code == status, (url, origin, e.value)


def test_connection_established_comes_first(rt, api, redis_cli, ws):
    u = register_user(api)
    sid = jwt_payload(u.access)["sid"]
    for port in (None, rt.ports[0], rt.ports[1]):
        before = stream_mark(redis_cli)
        c = ws(u, port=port, established=False)
        first = c.wait(lambda f: True, 10, "a first frame")
        after = stream_mark(redis_cli)
        assert first.obj is not None, f"the first frame is not a JSON object: {first.data!r}"
        e = first.obj
        assert_established(e, u, sid)
        # the newest event of the whole stream at connect time (nothing else writes to it in between here)
        assert event_key(before) <= event_key(e["last_event_id"]) <= event_key(after), (before, e, after)


def test_connection_established_for_a_fresh_login_names_its_session(rt, api, ws):
    u = register_user(api)
    second = login_json(api, u.user["username"], PASSWORD).json()
    c1 = ws(u)
    c2 = ws(second["access_token"], port=rt.ports[1])
    assert c1.established["session_id"] == jwt_payload(u.access)["sid"]
    assert c2.established["session_id"] == jwt_payload(second["access_token"])["sid"]
    assert c1.established["session_id"] != c2.established["session_id"]
    assert c1.established["user_id"] == c2.established["user_id"] == u.user["id"]


def test_each_daemon_counts_its_upgrades_and_sockets_on_metrics(rt, person, ws):
    """GET /metrics on a daemon's own port: Prometheus text; refusals by status, accepted upgrades, open sockets."""
    port = rt.ports[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain"), r.headers
        text = r.read().decode()
    assert "# TYPE chat_realtime_open_sockets gauge" in text, text[:500]
    before = metrics_of(port)
    refused = 'chat_realtime_upgrades_total{result="refused",status="401"}'
    accepted = 'chat_realtime_upgrades_total{result="accepted",status="101"}'
    assert upgrade(port, "garbage").status == 401
    s = ws(person, port=port)
    mid = metrics_of(port)
    assert mid.get(refused, 0) == before.get(refused, 0) + 1, (before.get(refused), mid.get(refused))
    assert mid[accepted] == before.get(accepted, 0) + 1
    assert mid["chat_realtime_open_sockets"] == before["chat_realtime_open_sockets"] + 1
    s.close()
    assert s.close_code == 1000, "the server answers a client's close frame with its code"
    wait_until(lambda: metrics_of(port)["chat_realtime_open_sockets"] == before["chat_realtime_open_sockets"], 5,
               "the closed socket to leave chat_realtime_open_sockets")
