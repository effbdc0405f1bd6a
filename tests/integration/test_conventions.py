"""§1 conventions: trailing slash, 404/405/413, CORS, request ids, content type, formats."""
import time
import uuid

import pytest

from conftest import (
    PASSWORD, TS_RE, UUID_RE, assert_json, auth_headers, login_json, uname,
)

ALLOWED = "http://localhost:3000"
ALLOWED_2 = "http://allowed.example"
DISALLOWED = "http://evil.example"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
HEADERS = {"authorization", "content-type", "idempotency-key", "x-request-id"}


def header_set(r, name):
    return {v.strip().lower() for v in r.headers.get(name, "").split(",") if v.strip()}


# ---------------------------------------------------------------------------------------------
# trailing slash


@pytest.mark.parametrize("a, b", [
    ("/api/v1/auth/me", "/api/v1/auth/me/"),
    ("/api/v1/users/me", "/api/v1/users/me/"),
    ("/api/v1/users", "/api/v1/users/"),
])
def test_trailing_slash_same_route(api, user, a, b):
    ra = api.get(a, headers=auth_headers(user.access))
    rb = api.get(b, headers=auth_headers(user.access))
    assert ra.status_code == 200, (a, ra.status_code, ra.headers.get("location"), ra.text)
    assert rb.status_code == 200, (b, rb.status_code, rb.headers.get("location"), rb.text)
    assert ra.json() == rb.json()


def test_trailing_slash_on_post_routes(api, user):
    name = uname()
    r = api.post("/api/v1/auth/register/", json={"email": f"{name}@example.com", "username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/auth/login/", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    r = api.post("/api/v1/auth/login/access-token/", data={"username": f"{name}@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.text
    r = api.get(f"/api/v1/users/{user.user['id']}/", headers=auth_headers(user.access))
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------------------------------
# 404 / 405


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/auth/nope"),
    ("POST", "/api/v1/auth/nope/deeper"),
    ("GET", "/api/v1/auth"),
    ("GET", "/api/v1/users/me/extra/deep"),
    ("GET", "/api/v1/nope"),
    ("GET", "/nope-" + uuid.uuid4().hex[:6]),
    ("DELETE", "/totally/unknown/path"),
    ("GET", "/api/v2/users/"),
])
def test_unknown_path(api, method, path):
    """404 comes before authentication: no token is sent."""
    r = api.request(method, path)
    assert r.status_code == 404, r.text
    assert_json(r)
    assert r.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/api/v1/auth/me", {"GET"}),
    ("POST", "/api/v1/auth/me", {"GET"}),
    ("GET", "/api/v1/auth/login", {"POST"}),
    ("GET", "/api/v1/auth/register", {"POST"}),
    ("GET", "/api/v1/auth/refresh", {"POST"}),
    ("GET", "/api/v1/auth/logout", {"POST"}),
    ("DELETE", "/api/v1/auth/password", {"PUT"}),
    ("PUT", "/api/v1/users/me", {"GET"}),
    ("DELETE", "/api/v1/users/search", {"GET"}),
    ("DELETE", "/api/v1/users/", {"GET", "POST"}),
])
def test_wrong_method(api, method, path, allowed):
    """405 comes before authentication and before body validation."""
    r = api.request(method, path)
    assert r.status_code == 405, r.text
    assert_json(r)
    assert r.json() == {"detail": "Method Not Allowed"}
    allow = {m.upper() for m in header_set(r, "allow")}
    assert allowed <= allow, r.headers.get("allow")
    assert method not in allow, r.headers.get("allow")


# ---------------------------------------------------------------------------------------------
# body size


def test_body_too_large(api):
    big = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'
    r = api.post("/api/v1/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert_json(r)
    assert r.json() == {"detail": "Request body too large"}


BIG = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/api/v1/auth/login", {"POST"}),
    ("PUT", "/api/v1/channels/my", {"GET"}),
    ("PATCH", "/api/v1/messages/", {"POST"}),
    ("DELETE", "/health", {"GET"}),
])
def test_wrong_method_with_an_oversized_body_is_405(api, method, path, allowed):
    """§1 order of checks: routing errors (404, 405) before the body size (413)."""
    for kwargs in ({"content": BIG}, {"content": iter([BIG[:1000], BIG[1000:]])}):  # Content-Length, then chunked
        r = api.request(method, path, headers={"Content-Type": "application/json"}, **kwargs)
        assert r.status_code == 405, r.text[:300]
        assert r.json() == {"detail": "Method Not Allowed"}
        assert allowed <= {m.upper() for m in header_set(r, "allow")}, r.headers


def test_unknown_path_with_an_oversized_body_is_404(api):
    for kwargs in ({"content": BIG}, {"content": iter([BIG[:1000], BIG[1000:]])}):
        r = api.request("POST", "/api/v1/auth/nope", headers={"Content-Type": "application/json"}, **kwargs)
        assert r.status_code == 404, r.text[:300]
        assert r.json() == {"detail": "Not Found"}


def test_a_chunked_body_over_one_mib_is_413_not_an_empty_body(api, user):
    """A body without Content-Length that grows past 1 MiB is refused whole, never handled as if it were empty."""
    r = api.put(f"/api/v1/users/{user.user['id']}", content=iter([b'{"avatar": "', b"a" * (2 * 1024 * 1024), b'"}']),
                headers={**auth_headers(user.access), "Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert r.json() == {"detail": "Request body too large"}


def test_body_under_one_mib_is_not_too_large(api):
    body = b'{"username": "' + b"a" * 1_000_000 + b'", "password": "x"}'
    r = api.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (401, 422), r.text[:300]


def test_body_too_large_on_authenticated_route(api, user):
    big = b'{"avatar": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    r = api.put(f"/api/v1/users/{user.user['id']}", content=big,
                headers={**auth_headers(user.access), "Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert r.json() == {"detail": "Request body too large"}


# ---------------------------------------------------------------------------------------------
# CORS


def preflight(api, path, origin, method="POST"):
    return api.options(path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })


@pytest.mark.parametrize("path", [
    "/api/v1/auth/login", "/api/v1/auth/me", "/api/v1/users/", f"/api/v1/users/{uuid.uuid4()}",
    "/api/v1/nope/unknown", "/api/v1/auth/nope",
])
@pytest.mark.parametrize("origin", [ALLOWED, ALLOWED_2])
def test_cors_preflight_allowed(api, path, origin):
    r = preflight(api, path, origin)
    assert r.status_code == 204, r.text
    assert r.headers.get("access-control-allow-origin") == origin, r.headers
    assert METHODS <= {m.upper() for m in header_set(r, "access-control-allow-methods")}, r.headers
    assert HEADERS <= header_set(r, "access-control-allow-headers"), r.headers
    assert int(r.headers.get("access-control-max-age", "0")) > 0, r.headers


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/nope/unknown"])
def test_cors_preflight_disallowed(api, path):
    r = preflight(api, path, DISALLOWED)
    assert r.status_code == 403, r.text
    for h in r.headers:
        assert not h.lower().startswith("access-control-allow"), r.headers


def _cors_cases(user):
    return {
        "200": ("GET", "/api/v1/auth/me", auth_headers(user.access), None),
        "401": ("GET", "/api/v1/auth/me", {}, None),
        "404": ("GET", "/api/v1/nope/unknown", {}, None),
        "405": ("DELETE", "/api/v1/auth/me", {}, None),
        "422": ("POST", "/api/v1/auth/login", {}, {}),
        "413": ("POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, b"{" + b" " * (2 * 1024 * 1024) + b"}"),
    }


@pytest.mark.parametrize("case", ["200", "401", "404", "405", "422", "413"])
def test_cors_allow_origin_on_every_response(api, user, case):
    method, path, headers, body = _cors_cases(user)[case]
    kwargs = {"json": body} if isinstance(body, dict) else {"content": body} if body else {}
    r = api.request(method, path, headers={**headers, "Origin": ALLOWED}, **kwargs)
    assert r.status_code == int(case), r.text[:300]
    assert r.headers.get("access-control-allow-origin") == ALLOWED, r.headers
    r = api.request(method, path, headers={**headers, "Origin": DISALLOWED}, **kwargs)
    assert r.status_code == int(case), r.text[:300]
    assert "access-control-allow-origin" not in r.headers, r.headers


# ---------------------------------------------------------------------------------------------
# request id


@pytest.mark.parametrize("path, status", [("/api/v1/auth/me", 401), ("/health", 200), ("/api/v1/nope", 404)])
def test_request_id_echoed(api, path, status):
    rid = "it-" + uuid.uuid4().hex
    r = api.get(path, headers={"X-Request-ID": rid})
    assert r.status_code == status, r.text
    assert r.headers.get("x-request-id") == rid, r.headers


def test_request_id_generated(api, user):
    ids = set()
    for _ in range(3):
        r = api.get("/api/v1/auth/me", headers=auth_headers(user.access))
        assert r.status_code == 200
        rid = r.headers.get("x-request-id")
        assert rid and len(rid) >= 8, r.headers
        ids.add(rid)
    assert len(ids) == 3, ids


def _logs_text(stack):
    out = []
    for f in (stack.run_dir / "logs").rglob("*"):
        if f.is_file():
            out.append(f.read_text(errors="replace"))
    return "\n".join(out)


def test_request_id_in_logs(api, stack, user):
    rid = "it-log-" + uuid.uuid4().hex
    r = api.get("/api/v1/auth/me", headers={**auth_headers(user.access), "X-Request-ID": rid})
    assert r.status_code == 200
    deadline = time.monotonic() + 5
    while rid not in _logs_text(stack) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rid in _logs_text(stack), f"request id {rid} written in no log under {stack.run_dir / 'logs'}"


def test_no_secrets_in_logs(api, stack, register):
    pw = "Secret-pw-" + uuid.uuid4().hex
    u, access, refresh = register(password=pw)
    assert login_json(api, u["username"], pw).status_code == 200
    assert api.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 200
    time.sleep(0.5)
    logs = _logs_text(stack)
    assert pw not in logs, "a password was logged"
    assert access.split(".")[2] not in logs, "an access token was logged"
    assert refresh not in logs, "a refresh token was logged"


# ---------------------------------------------------------------------------------------------
# formats


def test_every_response_is_json(api, user):
    cases = [
        api.get("/"),
        api.get("/health"),
        api.get("/api/v1/auth/me", headers=auth_headers(user.access)),
        api.get("/api/v1/auth/me"),
        api.get("/api/v1/nope"),
        api.delete("/api/v1/auth/me"),
        api.post("/api/v1/auth/login", json={}),
        api.post("/api/v1/auth/login", json={"username": uname(), "password": PASSWORD}),
        api.get("/api/v1/users/", headers=auth_headers(user.access)),
        api.get(f"/api/v1/users/{uuid.uuid4()}", headers=auth_headers(user.access)),
    ]
    for r in cases:
        assert_json(r)
        r.json()


def test_ids_and_timestamps(api, user):
    r = api.get("/api/v1/users/me", headers=auth_headers(user.access))
    u = r.json()
    assert UUID_RE.match(u["id"]), u
    for k in ("created_at", "updated_at"):
        assert TS_RE.match(u[k]), (k, u[k])
    assert u["last_seen_at"] is None or TS_RE.match(u["last_seen_at"]), u
    # the id in the token and in paths is the same lowercase form
    r = api.get(f"/api/v1/users/{u['id']}", headers=auth_headers(user.access))
    assert r.status_code == 200 and r.json()["id"] == u["id"]


def test_empty_json_body_is_no_body(api, user):
    """Content-Type: application/json with no body is no body, never malformed JSON."""
    h = {**auth_headers(user.access), "Content-Type": "application/json"}
    r = api.get("/api/v1/users/", headers=h)
    assert r.status_code == 200, r.text
    r = api.request("GET", "/api/v1/users/search/abc", headers={**h, "Content-Length": "0"})
    assert r.status_code == 200, r.text
    r = api.post("/api/v1/auth/logout", headers={**h, "Content-Length": "0"})
    assert r.status_code == 204, r.text


# ---------------------------------------------------------------------------------------------
# order of checks: 404 -> 405 -> 413 -> 401/403 -> 429 -> 422 -> 404 (visibility) -> 403 -> 400


def test_order_413_before_401(api, user):
    big = b'{"avatar": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    r = api.put(f"/api/v1/users/{user.user['id']}", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]


def test_order_401_before_422(api, user):
    r = api.put("/api/v1/auth/password", json={"new_password": "x"})
    assert r.status_code == 401, r.text
    r = api.put(f"/api/v1/users/{user.user['id']}", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 401, r.text


def test_order_422_before_404(api, admin):
    """Validation before visibility: an unknown user with a bad body is a 422."""
    r = api.put(f"/api/v1/users/{uuid.uuid4()}", json={"username": "bad name"}, headers=auth_headers(admin.access))
    assert r.status_code == 422, r.text


def test_order_422_before_403(api, register):
    """Validation before permission: another's profile with a bad body is a 422."""
    a, b = register(), register()
    r = api.patch(f"/api/v1/users/{b.user['id']}", json={"email": "nope"}, headers=auth_headers(a.access))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
def test_malformed_id_in_path_is_404(api, user, admin, method):
    for token in (user.access, admin.access):
        kwargs = {} if method == "GET" else {"json": {"avatar": "x"}}
        r = api.request(method, "/api/v1/users/not-a-uuid", headers=auth_headers(token), **kwargs)
        assert r.status_code == 404, r.text
        assert_json(r)
