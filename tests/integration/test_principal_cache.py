"""The handlers' principal cache (domain/principal_cache.hpp): a token's session and user, once checked, are
remembered by a handler process for at most PRINCIPAL_CACHE_MS (1 s) and dropped at once on the messages the
handlers publish after a logout, a ban, a password reset or a role or username change. So a refusal takes
effect on the very next request: each test warms every handler process of the groups it uses (several requests
each, so that every process of the group has the principal), changes the user, and sends the next requests
straight after the 2xx, without waiting."""
from __future__ import annotations

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    H, MESSAGES, create_channel, join, send, stream_after, stream_mark,
)
from conftest import login_json

A = "/api/v1/admin"
WARM = 12  # requests per route: more than the processes x threads of a handler group in the test stack


def warm(api, user, ch_id):
    """Every process of chat-auth, chat-channels and chat-messages has answered `user` from PostgreSQL."""
    for _ in range(WARM):
        assert api.get("/api/v1/auth/me", headers=H(user)).status_code == 200
        assert api.get(f"/api/v1/channels/{ch_id}", headers=H(user)).status_code == 200
        assert api.get(f"{MESSAGES}channel/{ch_id}", params={"limit": 1}, headers=H(user)).status_code == 200


def statuses(api, user, ch_id, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else H(user)
    got = []
    for _ in range(WARM):
        got.append(api.get("/api/v1/auth/me", headers=headers).status_code)
        got.append(api.get(f"/api/v1/channels/{ch_id}", headers=headers).status_code)
        got.append(api.post(MESSAGES, json={"channel_id": ch_id, "content": "after"}, headers=headers).status_code)
    return set(got)


def test_a_ban_is_refused_on_the_next_request_of_every_session(api, admin, users):
    (victim,) = users(1)
    other = login_json(api, victim.user["username"]).json()["access_token"]
    ch = create_channel(api, victim)["id"]
    warm(api, victim, ch)
    for _ in range(WARM):
        assert api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    r = api.post(f"{A}/users/{victim.user['id']}/ban", json={"reason": "spam"}, headers=H(admin))
    assert r.status_code == 200, r.text
    assert statuses(api, victim, ch) == {403}
    assert statuses(api, victim, ch, token=other) == {403}
    r = api.get("/api/v1/auth/me", headers=H(victim))
    assert r.json() == {"detail": "Inactive user"}, r.text


def test_a_logout_is_refused_on_the_next_request(api, users):
    (user,) = users(1)
    other = login_json(api, user.user["username"]).json()["access_token"]
    ch = create_channel(api, user)["id"]
    warm(api, user, ch)
    r = api.post("/api/v1/auth/logout", headers=H(user))
    assert r.status_code == 204, r.text
    assert statuses(api, user, ch) == {401}
    # the other session was not logged out, and its cached principal still answers
    assert statuses(api, user, ch, token=other) == {200, 201}


def test_a_role_taken_away_is_gone_on_the_next_request(api, admin, users):
    moderator, author = users(2)
    r = api.put(f"{A}/users/{moderator.user['id']}/role", json={"role": "moderator"}, headers=H(admin))
    assert r.status_code == 200, r.text
    ch = create_channel(api, author)["id"]
    join(api, moderator, ch)
    first, second = send(api, author, ch, "one"), send(api, author, ch, "two")
    warm(api, moderator, ch)
    r = api.delete(f"{MESSAGES}{first['id']}", headers=H(moderator))
    assert r.status_code in (200, 204), r.text
    r = api.put(f"{A}/users/{moderator.user['id']}/role", json={"role": "member"}, headers=H(admin))
    assert r.status_code == 200, r.text
    for _ in range(WARM):
        r = api.delete(f"{MESSAGES}{second['id']}", headers=H(moderator))
        assert r.status_code == 403, r.text


def test_a_new_username_is_in_the_next_event(api, users, redis_cli):
    """The principal's username is what the handlers write into events (a reaction's data.username): a rename
    drops it."""
    (user,) = users(1)
    ch = create_channel(api, user)["id"]
    m = send(api, user, ch, "to react to")
    warm(api, user, ch)
    new = user.user["username"] + "x"
    r = api.patch(f"/api/v1/users/{user.user['id']}", json={"username": new}, headers=H(user))
    assert r.status_code == 200, r.text
    mark = stream_mark(redis_cli)
    for i in range(WARM):
        r = api.post(f"{MESSAGES}reactions", json={"message_id": m["id"], "emoji": "👍"}, headers=H(user))
        assert r.status_code in (200, 201), r.text
    names = [e["_payload"]["data"]["username"] for e in stream_after(redis_cli, mark, conversation_id=ch)
             if e["type"] == "message_reaction"]
    assert names and set(names) == {new}, names
