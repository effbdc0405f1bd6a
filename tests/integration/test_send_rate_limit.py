"""docs/api.md#rate-limits for message sends: one leaky bucket per user in Redis (RATE_LIMIT_SEND).

The session stack runs with a huge send rate so other tests never hit it; here the user's bucket is
filled through Redis itself (the key the handlers use) and the real send path must answer 429.
"""
import time

from chat_helpers import (  # noqa: F401 (fixtures)
    _user_pool, api_fixture, users_fixture,
    CONVERSATIONS, H, create_channel, send_raw,
)
from conftest import assert_error


def fill_bucket(redis_cli, user_id, seconds_ahead=30):
    """Puts the bucket's theoretical arrival time far ahead: the next token is `seconds_ahead` away."""
    now_us = int(time.time() * 1_000_000)
    redis_cli("SET", f"rl:send:{user_id}", str(now_us + seconds_ahead * 1_000_000 * 10), "PX", "60000")


def test_send_over_the_limit_is_429_with_retry_after(api, users, redis_cli, db):
    owner, other = users(2)
    ch = create_channel(api, owner)
    assert send_raw(api, owner, ch["id"], "before the flood").status_code == 201
    fill_bucket(redis_cli, owner.user["id"])
    r = send_raw(api, owner, ch["id"], "over the limit")
    assert_error(r, 429, "Too many requests")
    assert int(r.headers["retry-after"]) >= 1
    # nothing was stored for the refused send, on either send route
    r = api.post(f"{CONVERSATIONS}{ch['id']}/messages", json={"content": "also over"}, headers=H(owner))
    assert_error(r, 429, "Too many requests")
    rows = db("SELECT count(*) FROM messages WHERE conversation_id = :'p1'", ch["id"])
    assert rows == [["1"]]
    # the bucket is per user: another user sends freely
    create = create_channel(api, other)
    assert send_raw(api, other, create["id"], "not limited").status_code == 201
    # and the owner is back once the bucket drains
    redis_cli("DEL", f"rl:send:{owner.user['id']}")
    assert send_raw(api, owner, ch["id"], "after the flood").status_code == 201


def test_rate_limit_comes_after_auth_and_before_validation(api, users, redis_cli):
    (owner,) = users(1)
    fill_bucket(redis_cli, owner.user["id"])
    # no token: 401 first (docs/api.md#order-of-checks)
    r = api.post("/api/v1/messages/", json={"channel_id": "x", "content": ""})
    assert r.status_code == 401
    # a token but an invalid body: 429 comes before 422
    r = api.post("/api/v1/messages/", json={"channel_id": "not-a-uuid", "content": ""}, headers=H(owner))
    assert_error(r, 429, "Too many requests")
    redis_cli("DEL", f"rl:send:{owner.user['id']}")
