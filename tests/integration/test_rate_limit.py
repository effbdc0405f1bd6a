"""§1 rate limits: the auth bucket per client address (login, register, refresh, POST /users/).

Floods are sent from their own loopback source addresses (127.0.0.77, 127.0.0.78) so that the
bucket of 127.0.0.1, which every other test uses, is never touched.
"""
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import assert_json

AUTH_ROUTES = [
    ("/api/v1/auth/login", {"json": {}}),
    ("/api/v1/auth/login/access-token", {"data": {}}),
    ("/api/v1/auth/register", {"json": {}}),
    ("/api/v1/auth/refresh", {"json": {}}),
    ("/api/v1/users/", {"json": {}}),
]


def flood(base_url, source, requests, workers=48):
    """POST every (path, kwargs) of requests concurrently from source; returns [(path, response)]."""
    transport = httpx.HTTPTransport(
        local_address=source, limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    )
    with httpx.Client(base_url=base_url, transport=transport, timeout=30) as client:
        def one(req):
            path, kwargs = req
            return path, client.post(path, **kwargs)
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, requests))


def check_429(r):
    assert r.status_code == 429
    assert_json(r)
    assert r.json() == {"detail": "Too many requests"}
    assert int(r.headers["retry-after"]) >= 1, r.headers


def test_login_flood_gets_429(stack, api):
    n = 2 * stack.auth_burst + 2 * stack.auth_rate + 50
    origin = "http://localhost:3000"
    req = ("/api/v1/auth/login", {"json": {}, "headers": {"Origin": origin}})
    results = flood(stack.base_url, "127.0.0.77", [req] * n)
    statuses = [r.status_code for _, r in results]
    limited = [r for _, r in results if r.status_code == 429]
    assert limited, f"no 429 among {n} login requests: {sorted(set(statuses))}"
    for r in limited[:5]:
        check_429(r)
        assert r.headers.get("access-control-allow-origin") == origin, r.headers
    assert set(statuses) <= {422, 429}, sorted(set(statuses))
    # the limit is per address: 127.0.0.1 is not throttled, and reads are never counted
    assert api.post("/api/v1/auth/login", json={}).status_code == 422
    transport = httpx.HTTPTransport(local_address="127.0.0.77")
    with httpx.Client(base_url=stack.base_url, transport=transport, timeout=30) as client:
        assert client.get("/api/v1/users/").status_code == 401


def test_auth_routes_share_one_bucket(stack):
    """Each route alone stays under the burst; together they pass it, so each sees a 429."""
    per_route = stack.auth_burst - 10
    reqs = [AUTH_ROUTES[i % len(AUTH_ROUTES)] for i in range(per_route * len(AUTH_ROUTES))]
    results = flood(stack.base_url, "127.0.0.78", reqs)
    for path, _ in AUTH_ROUTES:
        statuses = [r.status_code for p, r in results if p == path]
        assert len(statuses) == per_route
        assert 429 in statuses, f"{path}: no 429 in a shared flood: {sorted(set(statuses))}"
        assert set(statuses) <= {422, 429}, (path, sorted(set(statuses)))
    for _, r in results:
        if r.status_code == 429:
            check_429(r)


def test_refusals_are_not_written_to_the_error_log(stack):
    """A flood of 429s must not fill nginx's error log (three 10 s floods once made a 307 MB file)."""
    log = stack.run_dir / "logs" / "nginx-error.log"
    before = log.stat().st_size if log.exists() else 0
    n = 2 * stack.auth_burst + 200
    results = flood(stack.base_url, "127.0.0.79", [("/api/v1/auth/login", {"json": {}})] * n)
    assert sum(1 for _, r in results if r.status_code == 429) > 100, "the flood was not limited"
    grown = log.read_bytes()[before:] if log.exists() else b""
    assert b"limiting requests" not in grown, grown[-500:]
    assert len(grown) < 2000, f"the error log grew by {len(grown)} bytes during the flood: {grown[-500:]!r}"
