"""The objects of docs/api.md#objects as real clients read them: every User, Message, Channel and Conversation
on every route and every WebSocket event, against the schemas of /openapi.json — types and nullability, not only
values.

A real team-chat web client crashed on a populated server because its add-members dialog calls
`email.toLowerCase()` on every listed user and hidden emails came back `null`. So the server here is populated
(many users whose names match nothing the caller searches for), every list and embedding of users is read, and
besides the schema each user object must survive what that client does with it.
"""
from __future__ import annotations

import pytest

from chat_helpers import api_fixture, create_channel, join, send  # noqa: F401 (api_fixture is `api`)
from conftest import auth_headers, register_user, uname
from openapi_schema import Checker, validate
from ws_helpers import rt, ws  # noqa: F401 (fixtures)

V = "/api/v1"
EVENT_SCHEMAS = {  # WebSocket frames (docs/api.md#server-frames) -> their schema in components.schemas
    "connection_established": "WsConnectionEstablished", "new_message": "WsNewMessage",
    "message_edited": "WsMessageEdited", "message_deleted": "WsMessageDeleted",
    "message_reaction": "WsMessageReaction", "user_joined": "WsMembership", "user_left": "WsMembership",
    "channel_created": "WsChannelCreated", "conversation_created": "WsConversationCreated",
    "mention_notification": "WsMentionNotification", "read_receipt": "WsReadReceipt",
    "typing_indicator": "WsTypingIndicator", "user_status": "WsUserStatus", "pong": "WsPong",
    "online_users": "WsOnlineUsers", "channel_joined": "WsChannelJoinedLeft", "channel_left": "WsChannelJoinedLeft",
    "error": "WsError",
}


def users_in(value, found=None) -> list[dict]:
    """Every object shaped like a User anywhere in a JSON value."""
    found = [] if found is None else found
    if isinstance(value, dict):
        if {"id", "username", "email", "role"} <= set(value):
            found.append(value)
        for v in value.values():
            users_in(v, found)
    elif isinstance(value, list):
        for v in value:
            users_in(v, found)
    return found


def as_the_web_client_reads(u: dict) -> None:
    """What the team-chat web client does with every listed user (it filters with email.toLowerCase())."""
    u["email"].lower()
    u["username"].lower()
    assert u["avatar"] is None or isinstance(u["avatar"], str), u


@pytest.fixture(scope="module")
def spec(api):
    return api.get("/openapi.json").json()


@pytest.fixture(scope="module")
def town(api, stack):
    """A populated server: the caller, a friend, 40 users whose names share nothing with the caller's searches,
    a public channel they are all in, a private one, messages with mentions, reactions and a reply, a direct and
    a group conversation."""
    me = register_user(api, uname("tt_me_"))
    friend = register_user(api, uname("tt_fr_"))
    crowd = [register_user(api, uname("zq")) for _ in range(40)]
    public = create_channel(api, me)
    for u in [friend, *crowd]:
        join(api, u, public["id"])
    private = create_channel(api, me, private=True)
    r = api.post(f"{V}/channels/{private['id']}/add-user", json={"user_id": friend.user["id"]},
                 headers=auth_headers(me.access))
    assert r.status_code == 200, r.text
    first = send(api, me, public["id"], f"hello @{friend.user['username']}")
    api.post(f"{V}/messages/reactions", json={"message_id": first["id"], "emoji": "ok"},
             headers=auth_headers(friend.access))
    reply = send(api, friend, public["id"], "a reply", parent_id=first["id"])
    for u in crowd[:5]:
        send(api, u, public["id"], f"noise from {u.user['username']}")
    direct = api.post(f"{V}/conversations/", json={"participant_ids": [friend.user["id"]]},
                      headers=auth_headers(me.access)).json()
    group = api.post(f"{V}/conversations/", json={"title": "types", "is_group": True,
                                                  "participant_ids": [friend.user["id"], crowd[0].user["id"]]},
                     headers=auth_headers(me.access)).json()
    for conv in (direct, group):
        r = api.post(f"{V}/conversations/{conv['id']}/messages", json={"content": "in a conversation"},
                     headers=auth_headers(friend.access))
        assert r.status_code == 201, r.text
    return {"me": me, "friend": friend, "crowd": crowd, "public": public, "private": private, "first": first,
            "reply": reply, "direct": direct, "group": group}


def test_every_route_that_lists_or_embeds_users_matches_the_schema(api, spec, town, admin):
    ck = Checker(api, spec)
    me, t = town["me"].access, town
    pid, cid, did, gid = t["public"]["id"], t["private"]["id"], t["direct"]["id"], t["group"]["id"]
    answers = [
        ck.call("GET", V + "/auth/me", 200, token=me),
        ck.call("GET", V + "/users/me", 200, token=me),
        ck.call("GET", V + "/users/{id}", 200, args={"id": t["friend"].user["id"]}, token=me),
        ck.call("GET", V + "/users/{id}", 200, args={"id": town["me"].user["id"]}, token=me),
        ck.call("GET", V + "/users", 200, token=me, params={"limit": 100}),
        ck.call("GET", V + "/users", 200, token=admin.access, params={"limit": 100}),
        # names that match only the caller and its friend: everyone else must not be in the way
        ck.call("GET", V + "/users/search", 200, token=me, params={"q": "tt_"}),
        ck.call("GET", V + "/users/search/{query}", 200, args={"query": "zq"}, token=me),
        ck.call("GET", V + "/users/search", 200, token=me, params={"q": town["me"].user["email"]}),
        ck.call("GET", V + "/channels/users/available", 200, token=me),
        ck.call("GET", V + "/channels", 200, token=me),
        ck.call("GET", V + "/channels/my", 200, token=me),
        ck.call("GET", V + "/channels/{id}", 200, args={"id": pid}, token=me),
        ck.call("GET", V + "/channels/{id}", 200, args={"id": cid}, token=me),
        ck.call("GET", V + "/messages/channel/{channel_id}", 200, args={"channel_id": pid}, token=me),
        ck.call("GET", V + "/messages/{id}", 200, args={"id": t["first"]["id"]}, token=me),
        ck.call("GET", V + "/messages/{id}/replies", 200, args={"id": t["first"]["id"]}, token=me),
        ck.call("GET", V + "/messages/mentions/my", 200, token=t["friend"].access),
        ck.call("GET", V + "/messages/search", 200, token=me, params={"q": "noise"}),
        ck.call("PUT", V + "/messages/{id}", 200, args={"id": t["first"]["id"]}, token=me,
                json={"content": f"hello again @{t['friend'].user['username']}"}),
        ck.call("POST", V + "/messages", 201, token=me, json={"channel_id": pid, "content": "one more"}),
        ck.call("GET", V + "/conversations", 200, token=me),
        ck.call("GET", V + "/conversations/{id}", 200, args={"id": did}, token=me),
        ck.call("GET", V + "/conversations/{id}", 200, args={"id": gid}, token=me),
        ck.call("GET", V + "/conversations/{id}", 200, args={"id": pid}, token=me),
        ck.call("GET", V + "/conversations/{id}/messages", 200, args={"id": gid}, token=me),
        ck.call("POST", V + "/conversations/{id}/messages", 201, args={"id": did}, token=me,
                json={"content": "typed"}),
    ]
    ck.done()
    users = [u for r in answers for u in users_in(r.json())]
    assert len(users) > 150, len(users)  # the crowd was listed
    for u in users:
        as_the_web_client_reads(u)
    # the available-users list of a populated server, read the way the add-members dialog filters it
    available = answers[9].json()
    assert len(available) >= 41, len(available)
    assert [u for u in available if "tt_fr_" in u["username"].lower() or "tt_fr_" in u["email"].lower()]


def test_hidden_emails_are_empty_strings_and_only_answers_about_oneself_or_to_an_admin_carry_them(api, town, admin):
    me, friend = town["me"], town["friend"]
    H = auth_headers
    own = [api.get(V + "/auth/me", headers=H(me.access)).json(), api.get(V + "/users/me", headers=H(me.access)).json(),
           api.get(f"{V}/users/{me.user['id']}", headers=H(me.access)).json()]
    for u in own:
        assert u["email"] == me.user["email"], u
    assert api.get(f"{V}/users/{friend.user['id']}", headers=H(me.access)).json()["email"] == ""
    assert api.get(f"{V}/users/{friend.user['id']}", headers=H(admin.access)).json()["email"] == friend.user["email"]
    # embedded users — the caller's own included — and lists and search results: ""
    for path in (f"{V}/channels/{town['public']['id']}", f"{V}/messages/channel/{town['public']['id']}",
                 f"{V}/conversations/{town['direct']['id']}", f"{V}/channels/users/available", f"{V}/users/?limit=100"):
        for u in users_in(api.get(path, headers=H(me.access)).json()):
            assert u["email"] == "", (path, u)
    # search never carries the caller's own address, even when the caller searches for it
    found = api.get(f"{V}/users/search", params={"q": me.user["email"]}, headers=H(me.access)).json()
    assert [u["id"] for u in found] == [me.user["id"]] and found[0]["email"] == "", found
    # an admin's REST answers carry the others' addresses
    listed = api.get(f"{V}/users/search", params={"q": friend.user["username"]}, headers=H(admin.access)).json()
    assert [u["email"] for u in listed] == [friend.user["email"]], listed


def test_every_event_matches_the_schema(api, spec, town, ws):
    me, friend, crowd = town["me"], town["friend"], town["crowd"]
    mine = ws(me)
    theirs = ws(friend)
    # the stored events
    ch = create_channel(api, me)
    join(api, friend, ch["id"])
    m = send(api, me, ch["id"], f"hi @{friend.user['username']}")
    api.put(f"{V}/messages/{m['id']}", json={"content": "edited"}, headers=auth_headers(me.access))
    api.post(f"{V}/messages/reactions", json={"message_id": m["id"], "emoji": "ok"},
             headers=auth_headers(friend.access))
    api.post(f"{V}/messages/read", json={"channel_id": ch["id"], "seq": 1}, headers=auth_headers(friend.access))
    api.delete(f"{V}/messages/{m['id']}", headers=auth_headers(me.access))
    conv = api.post(f"{V}/conversations/", json={"title": "ev", "is_group": True,
                                                 "participant_ids": [friend.user["id"], crowd[1].user["id"]]},
                    headers=auth_headers(me.access)).json()
    api.delete(f"{V}/channels/{ch['id']}/leave", headers=auth_headers(friend.access))
    # the ephemeral ones and the replies
    mine.send_json({"type": "typing_indicator", "channel_id": town["public"]["id"], "is_typing": True})
    mine.send_json({"type": "ping"})
    mine.send_json({"type": "get_online_users", "channel_id": town["public"]["id"]})
    mine.send_json({"type": "join_channel", "channel_id": town["public"]["id"]})
    mine.send_json({"type": "leave_channel", "channel_id": town["public"]["id"]})
    mine.send_json({"type": "no_such_type"})
    theirs.wait_event("mention_notification", 10)
    theirs.wait_event("typing_indicator", 10)
    theirs.wait_event("read_receipt", 10)
    theirs.wait(lambda f: f.type == "conversation_created" and f.obj["data"]["id"] == conv["id"], 10,
                "conversation_created of the new group")
    for reply in ("user_left", "pong", "online_users", "channel_joined", "channel_left", "error"):
        mine.wait_event(reply, 10)
    frames = [f.obj for c in (mine, theirs) for f in c.since() if f.obj is not None]
    seen = {}
    problems = []
    for e in frames:
        name = EVENT_SCHEMAS.get(e["type"])
        if name is None:
            problems.append(f"{e['type']}: no schema for this event type")
            continue
        seen[e["type"]] = seen.get(e["type"], 0) + 1
        schema = spec["components"]["schemas"][name]
        problems += [f"{e['type']}: {p}" for p in validate(e, schema, spec)]
        for u in users_in(e):
            as_the_web_client_reads(u)
    assert not problems, "\n".join(problems[:30])
    expected = {"connection_established", "new_message", "message_edited", "message_reaction", "message_deleted",
                "user_joined", "user_left", "channel_created", "conversation_created", "mention_notification",
                "read_receipt", "typing_indicator", "pong", "online_users", "channel_joined", "channel_left", "error"}
    assert expected <= set(seen), expected - set(seen)
