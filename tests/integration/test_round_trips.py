"""Round trips per request, from /metrics (chat_http_route_{requests,db_round_trips,redis_round_trips}_total).

Each hot route has a fixed number of PostgreSQL and Redis round trips; a later change that adds one (a second
query, a statement no longer pipelined) fails here instead of showing only as lost throughput. A pipelined
flight (BEGIN, statement, COMMIT) is one round trip, and preparing a statement travels with its first run.
The counters are added to Redis once a second by each handler process, so every count is read back after all
N requests have shown up. A request whose principal came from its process's cache (domain/principal_cache.hpp)
skips the principal's round trip and says so (chat_http_route_principal_cached_total): the PostgreSQL figures
below count it back in, so they stay exact whichever process answered.
"""
import re
import time

import pytest

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    H, MESSAGES, create_channel, join, send, send_raw,
)
from conftest import wait_until

N = 6
LINE = re.compile(r'^chat_http_route_(requests|db_round_trips|redis_round_trips|principal_cached)_total\{program="([^"]+)",'
                  r'method="([A-Z]+)",route="([^"]+)"\} (\d+)$', re.M)


def counters(api, method: str, route: str) -> tuple[int, int, int, int]:
    """(requests, PostgreSQL round trips, Redis round trips, principals from the cache) of a route, summed over
    the programs."""
    text = api.get("/metrics").text
    got = {"requests": 0, "db_round_trips": 0, "redis_round_trips": 0, "principal_cached": 0}
    for kind, _program, m, r, value in LINE.findall(text):
        if m == method and r == route:
            got[kind] += int(value)
    return got["requests"], got["db_round_trips"], got["redis_round_trips"], got["principal_cached"]


def settled(api, method: str, route: str) -> tuple[int, int, int]:
    """The counters once the requests made before (a fixture's) have all been added: unchanged over a flush."""
    last = counters(api, method, route)
    for _ in range(20):
        time.sleep(1.2)
        now = counters(api, method, route)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the counters of {method} {route} keep moving: {last}")


def per_request(api, method: str, route: str, request, n: int = N, cached: list | None = None) -> tuple[float, float]:
    """Runs `request` n times and returns the PostgreSQL round trips of one (a principal from the cache counted as
    the round trip it saved) and its Redis round trips; `cached` gets how many principals came from the cache."""
    before = settled(api, method, route)
    for _ in range(n):
        request()
    wait_until(lambda: counters(api, method, route)[0] - before[0] >= n, 10,
               f"the {n} requests of {method} {route} in /metrics")
    after = counters(api, method, route)
    assert after[0] - before[0] == n, f"another request of {method} {route} ran meanwhile: {before} -> {after}"
    saved = after[3] - before[3]
    if cached is not None:
        cached.append(saved)
    return (after[1] - before[1] + saved) / n, (after[2] - before[2]) / n


def assert_send_trips(trips):
    """Three PostgreSQL round trips, always; Redis: the rate limit, then the XADD pipeline, which is skipped when
    another relay (the worker's, after a mention job, or its periodic one) appended the conversation's rows
    first — so one or two, and never more."""
    pg, redis = trips
    assert pg == 3, trips
    assert 1 < redis <= 2, trips


@pytest.fixture()
def channel(api, users):
    owner, member = users(2)
    ch = create_channel(api, owner)
    join(api, member, ch["id"])
    for i in range(25):
        send(api, owner, ch["id"], f"history {i}")
    return owner, member, ch


def test_auth_me_is_two_postgres_round_trips(api, users):
    """The principal (session and user state), then the User object."""
    (u,) = users(1)

    def me():
        r = api.get("/api/v1/auth/me", headers=H(u))
        assert r.status_code == 200, r.text

    assert per_request(api, "GET", "/api/v1/auth/me", me) == (2, 0)


def test_a_principal_seen_a_moment_ago_costs_no_round_trip(api, users):
    """Requests in a row with one token: after the first in each handler process, the principal comes from the
    process's cache (the test stack runs a few processes of two threads per group, far fewer than 20)."""
    (u,) = users(1)

    def me():
        r = api.get("/api/v1/auth/me", headers=H(u))
        assert r.status_code == 200, r.text

    cached = []
    assert per_request(api, "GET", "/api/v1/auth/me", me, n=20, cached=cached) == (2, 0)
    assert cached[0] >= 10, f"only {cached[0]} of 20 principals came from the cache"


def test_a_plain_send_is_three_postgres_and_two_redis_round_trips(api, channel):
    """Principal, the send (BEGIN + the statement, which reads the conversation and the membership itself +
    COMMIT, then the relay's BEGIN + lock + DELETE … RETURNING, in one flight), and the relay's COMMIT; Redis: the
    rate limit and the pipelined XADDs."""
    owner, _member, ch = channel

    def plain():
        r = send_raw(api, owner, ch["id"], "a plain message")
        assert r.status_code == 201, r.text

    assert_send_trips(per_request(api, "POST", "/api/v1/messages", plain))


def test_a_send_with_mentions_costs_no_more_round_trips(api, channel):
    """The mentions and the mention job are written by the same statement; the job's XADD is in the same pipeline."""
    owner, member, ch = channel
    name = member.user["username"]

    def mention():
        r = send_raw(api, owner, ch["id"], f"hello @{name}")
        assert r.status_code == 201, r.text
        assert r.json()["mentions"] == [member.user["id"]]

    assert_send_trips(per_request(api, "POST", "/api/v1/messages", mention))


def test_a_send_with_an_idempotency_key_costs_no_more_round_trips(api, channel):
    owner, _member, ch = channel
    keys = iter(range(N))

    def keyed():
        r = send_raw(api, owner, ch["id"], "keyed", headers={"Idempotency-Key": f"rt-{ch['id']}-{next(keys)}"})
        assert r.status_code == 201, r.text

    assert_send_trips(per_request(api, "POST", "/api/v1/messages", keyed))


def test_a_history_page_is_three_postgres_round_trips(api, channel):
    """Principal, conversation, and the page itself (one statement building the JSON)."""
    _owner, member, ch = channel

    def page():
        r = api.get(f"{MESSAGES}channel/{ch['id']}", params={"limit": 20}, headers=H(member))
        assert r.status_code == 200, r.text
        assert len(r.json()) == 20

    assert per_request(api, "GET", "/api/v1/messages/channel/:channel_id", page) == (3, 0)
