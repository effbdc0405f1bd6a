"""§6 conversations routes: direct and group create, list, get with participants, add participants, leave,
send, delete, and the visibility rules of §1 on them (private channels and others' conversations are 404)."""
import uuid

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, CONVERSATIONS, H, MESSAGES, assert_conversation, assert_message, conv_page, conv_send,
    conv_send_raw, conversation_in_list, create_channel, create_conversation, get_message, list_conversations,
    make_role, send, uid,
)
from conftest import assert_422, assert_error, assert_json


def get_conv(api, user, cid):
    r = api.get(CONVERSATIONS + cid, headers=H(user))
    assert r.status_code == 200, r.text
    c = r.json()
    assert_conversation(c, participants=True)
    return c


def roles(conv):
    return {p["user"]["id"]: p["role"] for p in conv["participants"]}


# ---------------------------------------------------------------------------------------------
# POST /conversations/ (direct)


def test_create_direct(api, users):
    a, b = users(2)
    r = create_conversation(api, a, [uid(b)])
    assert r.status_code == 201, r.text
    assert_json(r)
    c = r.json()
    assert_conversation(c)
    assert (c["kind"], c["title"], c["is_group"], c["is_private"]) == ("direct", None, False, True)
    assert (c["creator_id"], c["unread_count"], c["last_message_at"]) == (uid(a), 0, None)
    full = get_conv(api, b, c["id"])
    assert roles(full) == {uid(a): "member", uid(b): "member"}
    # the same pair again, from either side: 200 and the same conversation
    for who, other in ((a, b), (b, a)):
        r = create_conversation(api, who, [uid(other)])
        assert r.status_code == 200, r.text
        assert r.json()["id"] == c["id"]
        assert_conversation(r.json())
    # listing the caller itself among participant_ids changes nothing
    r = create_conversation(api, a, [uid(a), uid(b)])
    assert r.status_code == 200 and r.json()["id"] == c["id"], r.text


def test_create_direct_errors(api, users):
    a, b, c = users(3)
    assert_error(create_conversation(api, a, [uid(a)]), 400, "Cannot create direct chat with yourself")
    assert_error(create_conversation(api, a, [uid(b), uid(c)]), 400, "Direct chats must have exactly 1 other participant")
    assert_error(create_conversation(api, a, []), 400, "Direct chats must have exactly 1 other participant")
    assert_error(create_conversation(api, a, [str(uuid.uuid4())]), 404)
    assert_422(create_conversation(api, a, ["not-a-uuid"]))
    assert_422(api.post(CONVERSATIONS, json={"is_group": False}, headers=H(a)), ("body", "participant_ids"))
    assert_422(api.post(CONVERSATIONS, json={"participant_ids": uid(b)}, headers=H(a)), ("body", "participant_ids"))
    assert_error(api.post(CONVERSATIONS, json={"participant_ids": [uid(b)]}), 401, "Not authenticated")
    # none of these created anything
    for who in (a, b):
        assert [x for x in list_conversations(api, who) if x["kind"] != "channel"] == []


# ---------------------------------------------------------------------------------------------
# POST /conversations/ (group), GET /conversations/{id}


def test_create_group_and_get(api, users, admin):
    a, b, c, outsider = users(4)
    r = create_conversation(api, a, [uid(b), uid(c)], is_group=True, title="Project X")
    assert r.status_code == 201, r.text
    g = r.json()
    assert_conversation(g)
    assert (g["kind"], g["title"], g["is_group"], g["is_private"], g["creator_id"]) == (
        "group", "Project X", True, True, uid(a))
    full = get_conv(api, c, g["id"])
    assert roles(full) == {uid(a): "owner", uid(b): "member", uid(c): "member"}
    for p in full["participants"]:
        assert p["user"]["email"] == ""
    assert {k: v for k, v in get_conv(api, a, g["id"]).items() if k != "participants"} == g
    # a group is a new conversation every time
    r = create_conversation(api, a, [uid(b), uid(c)], is_group=True, title="Project X")
    assert r.status_code == 201 and r.json()["id"] != g["id"], r.text
    # not visible to outsiders, nor to a global admin
    assert_error(api.get(CONVERSATIONS + g["id"], headers=H(outsider)), 404)
    assert_error(api.get(CONVERSATIONS + g["id"], headers=H(admin)), 404)
    assert_error(api.get(CONVERSATIONS + str(uuid.uuid4()), headers=H(a)), 404)
    assert_error(api.get(CONVERSATIONS + "bogus", headers=H(a)), 404)
    d = create_conversation(api, a, [uid(b)]).json()
    assert_error(api.get(CONVERSATIONS + d["id"], headers=H(admin)), 404)
    assert_error(api.get(CONVERSATIONS + d["id"], headers=H(outsider)), 404)
    assert_error(api.get(f"{CONVERSATIONS}{d['id']}/messages", headers=H(admin)), 404)


# ---------------------------------------------------------------------------------------------
# GET /conversations/


def test_list_all_kinds_by_latest_activity(api, users):
    a, b, c = users(3)
    ch = create_channel(api, a)
    d = create_conversation(api, a, [uid(b)]).json()
    g = create_conversation(api, a, [uid(b), uid(c)], is_group=True, title="grp").json()
    general = [x for x in list_conversations(api, a) if x["kind"] == "channel" and x["title"] == "general"]

    def order():
        lst = list_conversations(api, a)
        for x in lst:
            assert_conversation(x)
        keys = [x["last_message_at"] or x["created_at"] for x in lst]
        assert keys == sorted(keys, reverse=True), "GET /conversations/ is not by latest activity"
        return [x["id"] for x in lst if x["id"] in (ch["id"], d["id"], g["id"])]

    assert order() == [g["id"], d["id"], ch["id"]]  # by creation while nothing was sent
    conv_send(api, b, d["id"], "hi a")
    assert order() == [d["id"], g["id"], ch["id"]]
    send(api, a, ch["id"], "channel news")
    assert order() == [ch["id"], d["id"], g["id"]]
    conv_send(api, c, g["id"], "group news")
    assert order() == [g["id"], ch["id"], d["id"]]
    lst = {x["id"]: x for x in list_conversations(api, a)}
    assert lst[d["id"]]["unread_count"] == 1 and lst[g["id"]]["unread_count"] == 1 and lst[ch["id"]]["unread_count"] == 0
    assert (lst[ch["id"]]["kind"], lst[ch["id"]]["title"], lst[ch["id"]]["is_group"]) == ("channel", ch["name"], True)
    assert len(general) == 1 and general[0]["id"] in lst
    # paging
    full = [x["id"] for x in list_conversations(api, a)]
    assert len(full) >= 4
    assert [x["id"] for x in list_conversations(api, a, skip=1, limit=2)] == full[1:3]
    for params in ({"limit": 0}, {"limit": 101}, {"skip": -1}):
        assert_422(api.get(CONVERSATIONS, params=params, headers=H(a)))
    # the other user's list has the shared ones, not a's channel
    ids_b = [x["id"] for x in list_conversations(api, b)]
    assert d["id"] in ids_b and g["id"] in ids_b and ch["id"] not in ids_b


# ---------------------------------------------------------------------------------------------
# POST /conversations/{id}/participants


def test_add_participants(api, users):
    a, b, c, e, outsider = users(5)
    d = create_conversation(api, a, [uid(b)]).json()
    assert_error(api.post(f"{CONVERSATIONS}{d['id']}/participants", json={"participant_ids": [uid(c)]},
                          headers=H(b)), 403, "Only the creator can add participants")
    assert_error(api.post(f"{CONVERSATIONS}{d['id']}/participants", json={"participant_ids": [uid(c)]},
                          headers=H(outsider)), 404)
    assert_error(api.post(f"{CONVERSATIONS}{d['id']}/participants", json={"participant_ids": [str(uuid.uuid4())]},
                          headers=H(a)), 404)
    assert_422(api.post(f"{CONVERSATIONS}{d['id']}/participants", json={"participant_ids": ["x"]}, headers=H(a)))
    assert get_conv(api, a, d["id"])["kind"] == "direct"
    r = api.post(f"{CONVERSATIONS}{d['id']}/participants", json={"participant_ids": [uid(c)]}, headers=H(a))
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Participants added successfully"}
    full = get_conv(api, c, d["id"])
    assert (full["kind"], full["is_group"], full["is_private"]) == ("group", True, True)
    assert roles(full) == {uid(a): "owner", uid(b): "member", uid(c): "member"}
    # still a plain member: b cannot add
    assert_error(api.post(f"{CONVERSATIONS}{d['id']}/participants", json={"participant_ids": [uid(e)]},
                          headers=H(b)), 403, "Only the creator can add participants")
    # a group's creator adds more; adding a member again changes nothing
    r = api.post(f"{CONVERSATIONS}{d['id']}/participants", json={"participant_ids": [uid(e), uid(b)]}, headers=H(a))
    assert r.status_code == 200, r.text
    assert roles(get_conv(api, e, d["id"])) == {uid(a): "owner", uid(b): "member", uid(c): "member", uid(e): "member"}
    # the new member sees the history from here on, and can send
    m = conv_send(api, c, d["id"], "hello all")
    assert_message(m, conversation_id=d["id"], sender=c)


# ---------------------------------------------------------------------------------------------
# DELETE /conversations/{id}/participants/me


def test_leave_and_direct_recreate(api, users):
    a, b = users(2)
    d = create_conversation(api, a, [uid(b)]).json()
    m = conv_send(api, a, d["id"], "before leaving")
    r = api.delete(f"{CONVERSATIONS}{d['id']}/participants/me", headers=H(b))
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_error(api.get(CONVERSATIONS + d["id"], headers=H(b)), 404)
    assert_error(api.get(f"{CONVERSATIONS}{d['id']}/messages", headers=H(b)), 404)
    assert_error(conv_send_raw(api, b, d["id"], "still here?"), 404, "Conversation not found")
    assert_error(api.get(MESSAGES + m["id"], headers=H(b)), 404)
    assert_error(api.delete(f"{CONVERSATIONS}{d['id']}/participants/me", headers=H(b)), 404)
    assert conversation_in_list(api, b, d["id"]) is None
    assert roles(get_conv(api, a, d["id"])) == {uid(a): "member"}
    # a direct re-create brings the caller back, same conversation
    r = create_conversation(api, b, [uid(a)])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == d["id"]
    assert roles(get_conv(api, b, d["id"])) == {uid(a): "member", uid(b): "member"}
    assert [x["id"] for x in conv_page(api, b, d["id"])["items"]] == [m["id"]]
    assert_error(api.delete(f"{CONVERSATIONS}{uuid.uuid4()}/participants/me", headers=H(b)), 404)


def test_leave_group_and_channel(api, users):
    a, b, c = users(3)
    g = create_conversation(api, a, [uid(b), uid(c)], is_group=True, title="t").json()
    assert api.delete(f"{CONVERSATIONS}{g['id']}/participants/me", headers=H(c)).status_code == 204
    assert_error(api.get(CONVERSATIONS + g["id"], headers=H(c)), 404)
    assert set(roles(get_conv(api, a, g["id"]))) == {uid(a), uid(b)}
    # a channel left through the conversations route: no longer a member
    ch = create_channel(api, a)
    assert api.post(CHANNELS + "join", json={"channel_id": ch["id"]}, headers=H(b)).status_code == 200
    assert api.delete(f"{CONVERSATIONS}{ch['id']}/participants/me", headers=H(b)).status_code == 204
    r = api.get(CHANNELS + ch["id"], headers=H(b))
    assert r.status_code == 200 and r.json()["is_member"] is False, r.text


# ---------------------------------------------------------------------------------------------
# POST /conversations/{id}/messages


def test_send_through_conversations(api, users, admin):
    a, b, outsider = users(3)
    d = create_conversation(api, a, [uid(b)]).json()
    r = conv_send_raw(api, a, d["id"], "  direct hello  ")
    assert r.status_code == 201, r.text
    m = r.json()
    assert_message(m, conversation_id=d["id"], sender=a, content="direct hello")
    assert m["seq"] == 1
    assert get_message(api, b, m["id"]) == m
    m2 = conv_send(api, b, d["id"], "reply", parent_id=m["id"], message_type="file", media_url="https://x/y.pdf")
    assert (m2["seq"], m2["parent_id"], m2["message_type"], m2["media_url"]) == (2, m["id"], "file", "https://x/y.pdf")
    assert_error(conv_send_raw(api, a, d["id"], ""), 422, "Message content cannot be empty")
    assert_error(conv_send_raw(api, a, d["id"], "z" * 4001), 422, "Message content is too long")
    assert_error(conv_send_raw(api, outsider, d["id"], "hi"), 404, "Conversation not found")
    assert_error(conv_send_raw(api, admin, d["id"], "hi"), 404, "Conversation not found")
    assert_error(conv_send_raw(api, a, str(uuid.uuid4()), "hi"), 404, "Conversation not found")
    assert_error(conv_send_raw(api, a, "bad-id", "hi"), 404)
    # channels through the conversations route
    pub = create_channel(api, a)
    assert_error(conv_send_raw(api, outsider, pub["id"], "hi"), 403, "Access denied to channel")
    assert_error(api.get(f"{CONVERSATIONS}{pub['id']}/messages", headers=H(outsider)), 403, "Access denied to channel")
    cm = conv_send(api, a, pub["id"], "into the channel")
    assert_message(cm, conversation_id=pub["id"], sender=a)
    hist = api.get(f"{MESSAGES}channel/{pub['id']}", headers=H(a)).json()
    assert [x["id"] for x in hist] == [cm["id"]]
    assert api.delete(CHANNELS + pub["id"], headers=H(a)).status_code == 204
    assert_error(conv_send_raw(api, a, pub["id"], "after archive"), 403, "Cannot send messages to an archived conversation")


# ---------------------------------------------------------------------------------------------
# private channels on the conversations routes


def test_private_channel_is_404_on_conversation_routes(api, users, admin):
    owner, outsider = users(2)
    priv = create_channel(api, owner, private=True)
    pid = priv["id"]
    m = send(api, owner, pid, "hidden")
    checks = [
        api.get(CONVERSATIONS + pid, headers=H(outsider)),
        api.get(f"{CONVERSATIONS}{pid}/messages", headers=H(outsider)),
        conv_send_raw(api, outsider, pid, "hi"),
        api.put(f"{CONVERSATIONS}{pid}/messages/read", json={"last_seen_message_id": m["id"]}, headers=H(outsider)),
        api.post(f"{CONVERSATIONS}{pid}/participants", json={"participant_ids": [uid(outsider)]}, headers=H(outsider)),
        api.delete(f"{CONVERSATIONS}{pid}/participants/me", headers=H(outsider)),
        api.delete(f"{CONVERSATIONS}{pid}/messages/{m['id']}", headers=H(outsider)),
    ]
    for r in checks:
        assert_error(r, 404)
    assert conversation_in_list(api, outsider, pid) is None
    # a global admin sees a private channel, on these routes too
    c = get_conv(api, admin, pid)
    assert c["kind"] == "channel" and c["is_private"] is True
    assert [x["id"] for x in conv_page(api, admin, pid)["items"]] == [m["id"]]
    assert get_message(api, owner, m["id"])["is_deleted"] is False


# ---------------------------------------------------------------------------------------------
# DELETE /conversations/{id}/messages/{message_id}


def test_delete_through_conversations(api, users, admin, db):
    a, b, c = users(3)
    d = create_conversation(api, a, [uid(b)]).json()
    ma = conv_send(api, a, d["id"], "from a")
    mb = conv_send(api, b, d["id"], "from b")
    assert_error(api.delete(f"{CONVERSATIONS}{d['id']}/messages/{ma['id']}", headers=H(b)), 403,
                 "You can only delete your own messages")
    r = api.delete(f"{CONVERSATIONS}{d['id']}/messages/{mb['id']}", headers=H(b))
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "deleted"}
    assert_error(api.delete(f"{CONVERSATIONS}{d['id']}/messages/{mb['id']}", headers=H(b)), 400,
                 "Message is already deleted")
    assert_error(api.get(MESSAGES + mb["id"], headers=H(a)), 404)
    assert [x["id"] for x in conv_page(api, a, d["id"])["items"]] == [ma["id"]]
    # a message of another conversation, a missing and a malformed id
    g = create_conversation(api, a, [uid(b), uid(c)], is_group=True, title="g").json()
    mg = conv_send(api, c, g["id"], "group msg")
    for mid in (mg["id"], str(uuid.uuid4()), "nope"):
        assert_error(api.delete(f"{CONVERSATIONS}{d['id']}/messages/{mid}", headers=H(a)), 404,
                     "Message not found in this conversation")
    # the group owner may delete a member's message; another member may not
    assert_error(api.delete(f"{CONVERSATIONS}{g['id']}/messages/{mg['id']}", headers=H(b)), 403,
                 "You can only delete your own messages")
    r = api.delete(f"{CONVERSATIONS}{g['id']}/messages/{mg['id']}", headers=H(a))
    assert r.status_code == 200 and r.json() == {"status": "deleted"}, r.text
    # a global admin/moderator in a channel it is not in
    ch = create_channel(api, a)
    mc = send(api, a, ch["id"], "channel msg")
    r = api.delete(f"{CONVERSATIONS}{ch['id']}/messages/{mc['id']}", headers=H(admin))
    assert r.status_code == 200 and r.json() == {"status": "deleted"}, r.text
    # but not in others' direct conversations
    assert_error(api.delete(f"{CONVERSATIONS}{d['id']}/messages/{ma['id']}", headers=H(admin)), 404)
    make_role(db, c, "moderator")
    assert_error(api.delete(f"{CONVERSATIONS}{d['id']}/messages/{ma['id']}", headers=H(c)), 404)
    assert get_message(api, b, ma["id"])["is_deleted"] is False


def test_conversation_routes_require_auth(api):
    cid, mid = str(uuid.uuid4()), str(uuid.uuid4())
    for method, path in (("POST", CONVERSATIONS), ("GET", CONVERSATIONS), ("GET", CONVERSATIONS + cid),
                         ("POST", f"{CONVERSATIONS}{cid}/participants"),
                         ("DELETE", f"{CONVERSATIONS}{cid}/participants/me"),
                         ("POST", f"{CONVERSATIONS}{cid}/messages"), ("GET", f"{CONVERSATIONS}{cid}/messages"),
                         ("PUT", f"{CONVERSATIONS}{cid}/messages/read"),
                         ("DELETE", f"{CONVERSATIONS}{cid}/messages/{mid}")):
        r = api.request(method, path)
        assert_error(r, 401, "Not authenticated")
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), (method, path, r.headers)
