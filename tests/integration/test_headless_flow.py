"""The headless client's flow end to end: POST /users/, form login with the email, a direct conversation,
send, list with unread, mark read, delete rules, empty page."""
from chat_helpers import (  # noqa: F401 (api_fixture: the fixture `api`)
    api_fixture,
    CONVERSATIONS, assert_conversation, assert_message, uniq,
)
from conftest import PASSWORD, assert_error, assert_json, assert_user, auth_headers


def create_and_login(api):
    name = uniq("hl_")
    email = f"{name}@Example.org"
    r = api.post("/api/v1/users/", json={"email": email, "username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    user = r.json()
    assert_user(user, email_visible=True)
    assert user["email"] == f"{name}@example.org"
    r = api.post("/api/v1/auth/login/access-token", data={"username": email, "password": PASSWORD},
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert_json(r)
    body = r.json()
    assert body["token_type"] == "bearer" and isinstance(body["access_token"], str) and body["access_token"]
    return user, auth_headers(body["access_token"])


def test_headless_flow(api):
    alice, ha = create_and_login(api)
    bob, hb = create_and_login(api)
    r = api.get("/api/v1/users/me", headers=ha)
    assert r.status_code == 200 and r.json()["id"] == alice["id"], r.text

    r = api.post(CONVERSATIONS, json={"participant_ids": [bob["id"]], "is_group": False}, headers=ha)
    assert r.status_code == 201, r.text
    conv = r.json()
    assert_conversation(conv)
    assert (conv["kind"], conv["title"], conv["is_private"], conv["is_group"]) == ("direct", None, True, False)
    cid = conv["id"]

    r = api.post(f"{CONVERSATIONS}{cid}/messages", json={"content": "Hello Bob"}, headers=ha)
    assert r.status_code == 201, r.text
    msg = r.json()
    assert_message(msg, conversation_id=cid, content="Hello Bob")
    assert msg["sender_id"] == alice["id"] and msg["seq"] == 1

    r = api.get(CONVERSATIONS, headers=hb)
    assert r.status_code == 200, r.text
    listed = [c for c in r.json() if c["id"] == cid]
    assert len(listed) == 1, r.json()
    assert listed[0]["unread_count"] == 1
    assert r.json()[0]["id"] == cid, "the conversation with the newest message comes first"
    r = api.get(CONVERSATIONS, headers=ha)
    assert [c["unread_count"] for c in r.json() if c["id"] == cid] == [0]

    r = api.get(f"{CONVERSATIONS}{cid}/messages", headers=hb)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [m["id"] for m in page["items"]] == [msg["id"]] and page["next_cursor"] is None
    assert page["items"][0] == msg

    r = api.put(f"{CONVERSATIONS}{cid}/messages/read", json={"last_seen_message_id": msg["id"]}, headers=hb)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok"}
    r = api.get(CONVERSATIONS, headers=hb)
    assert [c["unread_count"] for c in r.json() if c["id"] == cid] == [0]

    assert_error(api.delete(f"{CONVERSATIONS}{cid}/messages/{msg['id']}", headers=hb), 403,
                 "You can only delete your own messages")
    r = api.delete(f"{CONVERSATIONS}{cid}/messages/{msg['id']}", headers=ha)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "deleted"}

    for h in (ha, hb):
        r = api.get(f"{CONVERSATIONS}{cid}/messages", headers=h)
        assert r.status_code == 200, r.text
        assert r.json() == {"items": [], "next_cursor": None}
