"""§5 message routes: send, history, get, edit, delete (permissions), replies, search, read markers / unread."""
import uuid

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, CONVERSATIONS, H, MESSAGES, add_user, all_history, assert_message, channel_setup, conv_page,
    conversation_in_list, create_channel, get_channel, get_message, history, in_my_channels, join, make_role,
    mark_read, my_mentions, search, send, send_raw, uid, uniq,
)
from conftest import assert_422, assert_error, assert_json


# ---------------------------------------------------------------------------------------------
# POST /messages/


def test_send_message_shape(api, users):
    owner, member = users(2)
    ch = create_channel(api, owner)
    join(api, member, ch["id"])
    r = send_raw(api, owner, ch["id"], "  hello world \n")
    assert r.status_code == 201, r.text
    assert_json(r)
    m = r.json()
    assert_message(m, conversation_id=ch["id"], sender=owner, content="hello world")
    assert (m["seq"], m["message_type"], m["media_url"], m["parent_id"]) == (1, "text", None, None)
    assert (m["reply_count"], m["is_edited"], m["is_deleted"], m["reactions"], m["mentions"]) == (0, False, False, [], [])
    assert m["user"]["email"] == ""
    m2 = send(api, member, ch["id"], "second", message_type="image", media_url="https://cdn.example/x.png")
    assert_message(m2, conversation_id=ch["id"], sender=member, content="second")
    assert (m2["seq"], m2["message_type"], m2["media_url"]) == (2, "image", "https://cdn.example/x.png")
    # stored as sent, never interpreted
    html = "<b>bold</b> & <script>alert(1)</script> 'q' \"dq\" ünïcødé 🎉"
    m3 = send(api, owner, ch["id"], html)
    assert m3["content"] == html and get_message(api, member, m3["id"])["content"] == html
    assert m3["seq"] == 3
    # the same message through GET and the conversations route
    assert get_message(api, member, m["id"]) == m
    items = conv_page(api, member, ch["id"])["items"]
    assert [x["id"] for x in items] == [m3["id"], m2["id"], m["id"]]
    assert items[2] == m


def test_send_validation_and_access(api, users, admin):
    owner, member, outsider = users(3)
    ch = create_channel(api, owner)
    join(api, member, ch["id"])
    cid = ch["id"]
    assert_error(send_raw(api, member, cid, ""), 422, "Message content cannot be empty")
    assert_error(send_raw(api, member, cid, "   \n\t "), 422, "Message content cannot be empty")
    assert_error(send_raw(api, member, cid, "x" * 4001), 422, "Message content is too long")
    assert_error(send_raw(api, member, cid, "  " + "é" * 4001 + "  "), 422, "Message content is too long")
    m = send(api, member, cid, "  " + "é" * 4000 + "  ")
    assert m["content"] == "é" * 4000
    assert_422(send_raw(api, member, cid, "ok", message_type="video"), ("body", "message_type"))
    assert_422(api.post(MESSAGES, json={"content": "no channel"}, headers=H(member)), ("body", "channel_id"))
    assert_422(api.post(MESSAGES, json={"channel_id": "zzz", "content": "x"}, headers=H(member)), ("body", "channel_id"))
    assert_422(api.post(MESSAGES, json={"channel_id": cid}, headers=H(member)), ("body", "content"))
    assert_422(api.post(MESSAGES, json={"channel_id": cid, "content": 5}, headers=H(member)), ("body", "content"))
    assert_error(send_raw(api, member, str(uuid.uuid4()), "x"), 404)
    # a public channel the caller has not joined
    assert_error(send_raw(api, outsider, cid, "let me in"), 403, "Access denied to channel")
    # a private channel does not exist for an outsider
    priv = create_channel(api, owner, private=True)
    assert_error(send_raw(api, outsider, priv["id"], "hello?"), 404)
    # a global admin sees it, but may not post in a channel it is not in
    assert_error(send_raw(api, admin, priv["id"], "moderating"), 403)
    assert_error(api.post(MESSAGES, json={"channel_id": cid, "content": "x"}), 401, "Not authenticated")
    # nothing of the refused sends was stored
    assert [x["id"] for x in all_history(api, owner, cid)] == [m["id"]]


# ---------------------------------------------------------------------------------------------
# GET /messages/channel/{id}


def test_history_paging(api, users):
    owner, member = users(2)
    ch = create_channel(api, owner)
    join(api, member, ch["id"])
    cid = ch["id"]
    sent = [send(api, owner if i % 2 else member, cid, f"h{i}") for i in range(12)]
    seqs = [m["seq"] for m in sent]
    assert seqs == list(range(1, 13))

    page = history(api, member, cid)
    assert [m["seq"] for m in page] == seqs  # chronological
    for m in page:
        assert_message(m, conversation_id=cid)
    assert [m["seq"] for m in history(api, member, cid, limit=5)] == [8, 9, 10, 11, 12]
    assert [m["seq"] for m in history(api, member, cid, limit=5, offset=5)] == [3, 4, 5, 6, 7]
    assert [m["seq"] for m in history(api, member, cid, limit=5, offset=10)] == [1, 2]
    assert history(api, member, cid, limit=5, offset=12) == []
    assert [m["seq"] for m in history(api, member, cid, limit=3, before_seq=8)] == [5, 6, 7]
    assert [m["seq"] for m in history(api, member, cid, limit=3, before_seq=2)] == [1]
    assert [m["seq"] for m in history(api, member, cid, limit=3, after_seq=8)] == [9, 10, 11]
    assert [m["seq"] for m in history(api, member, cid, limit=3, after_seq=11)] == [12]
    assert history(api, member, cid, after_seq=12) == []
    assert [m["seq"] for m in history(api, member, cid, limit=100, after_seq=0)] == seqs

    # deleted messages are left out
    r = api.delete(MESSAGES + sent[6]["id"], headers=H(member if 6 % 2 == 0 else owner))
    assert r.status_code == 200, r.text
    assert [m["seq"] for m in history(api, member, cid, limit=3, before_seq=9)] == [5, 6, 8]
    assert 7 not in [m["seq"] for m in history(api, member, cid)]

    for params in ({"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"offset": -1},
                   {"offset": 1, "before_seq": 5}, {"before_seq": 5, "after_seq": 1}, {"offset": 0, "after_seq": 1}):
        assert_422(api.get(f"{MESSAGES}channel/{cid}", params=params, headers=H(member)))


def test_history_visibility(api, users, admin):
    owner, outsider = users(2)
    pub = create_channel(api, owner)
    m = send(api, owner, pub["id"], "public words")
    assert_error(api.get(f"{MESSAGES}channel/{pub['id']}", headers=H(outsider)), 403, "Access denied to channel")
    assert_error(api.get(MESSAGES + m["id"], headers=H(outsider)), 403, "Access denied to channel")
    assert_error(api.get(f"{MESSAGES}{m['id']}/replies", headers=H(outsider)), 403, "Access denied to channel")
    priv = create_channel(api, owner, private=True)
    pm = send(api, owner, priv["id"], "private words")
    assert_error(api.get(f"{MESSAGES}channel/{priv['id']}", headers=H(outsider)), 404)
    assert_error(api.get(MESSAGES + pm["id"], headers=H(outsider)), 404)
    assert_error(api.get(f"{MESSAGES}{pm['id']}/replies", headers=H(outsider)), 404)
    # global admins read every channel
    assert [x["id"] for x in history(api, admin, priv["id"])] == [pm["id"]]
    assert [x["id"] for x in history(api, admin, pub["id"])] == [m["id"]]
    for bad in ("nope", str(uuid.uuid4())):
        assert_error(api.get(f"{MESSAGES}channel/{bad}", headers=H(owner)), 404)
        assert_error(api.get(MESSAGES + bad, headers=H(owner)), 404)


# ---------------------------------------------------------------------------------------------
# PUT /messages/{id}


def test_edit_message(api, users):
    owner, (member,), ch = channel_setup(api, members=1)
    m = send(api, member, ch["id"], "original")
    r = api.put(MESSAGES + m["id"], json={"content": "  edited text  "}, headers=H(member))
    assert r.status_code == 200, r.text
    e = r.json()
    assert_message(e, conversation_id=ch["id"], sender=member, content="edited text")
    assert (e["id"], e["seq"], e["is_edited"], e["created_at"]) == (m["id"], m["seq"], True, m["created_at"])
    assert e["updated_at"] >= m["updated_at"]
    assert get_message(api, owner, m["id"]) == e
    assert_error(api.put(MESSAGES + m["id"], json={"content": "hijack"}, headers=H(owner)), 403,
                 "Can only edit your own messages")
    assert_error(api.put(MESSAGES + m["id"], json={"content": ""}, headers=H(member)), 422,
                 "Message content cannot be empty")
    assert_error(api.put(MESSAGES + m["id"], json={"content": "y" * 4001}, headers=H(member)), 422,
                 "Message content is too long")
    assert_error(api.put(MESSAGES + str(uuid.uuid4()), json={"content": "x"}, headers=H(member)), 404)
    assert get_message(api, owner, m["id"])["content"] == "edited text"
    assert api.delete(MESSAGES + m["id"], headers=H(member)).status_code == 200
    assert_error(api.put(MESSAGES + m["id"], json={"content": "ghost"}, headers=H(member)), 404)


# ---------------------------------------------------------------------------------------------
# DELETE /messages/{id}


def test_delete_permissions(api, users, db, admin):
    owner, author, other, moderator = users(4)
    make_role(db, moderator, "moderator")
    ch = create_channel(api, owner)
    for u in (author, other):
        join(api, u, ch["id"])
    cid = ch["id"]
    msgs = [send(api, author, cid, f"m{i}") for i in range(4)]

    assert_error(api.delete(MESSAGES + msgs[0]["id"], headers=H(other)), 403)
    r = api.delete(MESSAGES + msgs[0]["id"], headers=H(author))
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Message deleted successfully"}
    r = api.delete(MESSAGES + msgs[1]["id"], headers=H(owner))  # channel owner
    assert r.status_code == 200 and r.json() == {"message": "Message deleted successfully"}, r.text
    r = api.delete(MESSAGES + msgs[2]["id"], headers=H(moderator))  # global moderator, not a member
    assert r.status_code == 200 and r.json() == {"message": "Message deleted successfully"}, r.text
    r = api.delete(MESSAGES + msgs[3]["id"], headers=H(admin))  # global admin, not a member
    assert r.status_code == 200 and r.json() == {"message": "Message deleted successfully"}, r.text
    for m in msgs:
        assert_error(api.get(MESSAGES + m["id"], headers=H(owner)), 404)
        assert_error(api.delete(MESSAGES + m["id"], headers=H(author)), 404)
    assert history(api, owner, cid) == []
    deleted = db("SELECT id::text, deleted_by::text FROM messages WHERE conversation_id = :'p1' AND deleted_at IS NOT NULL "
                 "ORDER BY seq", cid)
    assert deleted == [[msgs[0]["id"], uid(author)], [msgs[1]["id"], uid(owner)], [msgs[2]["id"], uid(moderator)],
                       [msgs[3]["id"], uid(admin)]]
    assert_error(api.delete(MESSAGES + "not-a-uuid", headers=H(owner)), 404)
    # a private channel's message is 404 to an outsider
    priv = create_channel(api, owner, private=True)
    pm = send(api, owner, priv["id"], "p")
    assert_error(api.delete(MESSAGES + pm["id"], headers=H(other)), 404)


def test_deleted_message_left_out_everywhere(api, users):
    owner, (bob,), ch = channel_setup(api, members=1)
    cid = ch["id"]
    word = uniq("zeta")
    parent = send(api, owner, cid, "the parent")
    keep = send(api, owner, cid, f"{word} kept @{bob.user['username']}", parent_id=parent["id"])
    gone = send(api, owner, cid, f"{word} gone @{bob.user['username']}", parent_id=parent["id"])
    assert get_message(api, owner, parent["id"])["reply_count"] == 2
    r = api.delete(MESSAGES + gone["id"], headers=H(owner))
    assert r.status_code == 200, r.text
    assert_error(api.get(MESSAGES + gone["id"], headers=H(bob)), 404)
    assert [m["id"] for m in history(api, bob, cid)] == [parent["id"], keep["id"]]
    rs = search(api, bob, word)
    assert rs.status_code == 200, rs.text
    assert [m["id"] for m in rs.json()] == [keep["id"]]
    r = api.get(f"{MESSAGES}{parent['id']}/replies", headers=H(bob))
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()] == [keep["id"]]
    ids = [m["id"] for m in my_mentions(api, bob)]
    assert keep["id"] in ids and gone["id"] not in ids
    assert [m["id"] for m in conv_page(api, bob, cid)["items"]] == [keep["id"], parent["id"]]
    # a deleted message cannot be replied to or reacted to
    assert_error(send_raw(api, bob, cid, "late reply", parent_id=gone["id"]), 404)
    r = api.post(MESSAGES + "reactions", json={"message_id": gone["id"], "emoji": "👍"}, headers=H(bob))
    assert_error(r, 404)


# ---------------------------------------------------------------------------------------------
# replies


def test_replies(api, users):
    owner, (member,), ch = channel_setup(api, members=1)
    cid = ch["id"]
    parent = send(api, owner, cid, "question?")
    replies = []
    for i in range(5):
        replies.append(send(api, member if i % 2 == 0 else owner, cid, f"answer {i}", parent_id=parent["id"]))
        send(api, owner, cid, f"unrelated {i}")
    for rep in replies:
        assert rep["parent_id"] == parent["id"]
    p = get_message(api, member, parent["id"])
    assert p["reply_count"] == 5 and p["parent_id"] is None
    r = api.get(f"{MESSAGES}{parent['id']}/replies", headers=H(member))
    assert r.status_code == 200, r.text
    got = r.json()
    assert [m["id"] for m in got] == [x["id"] for x in replies]  # oldest first
    for m in got:
        assert_message(m, conversation_id=cid)
    r = api.get(f"{MESSAGES}{parent['id']}/replies", params={"after_seq": replies[1]["seq"]}, headers=H(member))
    assert [m["id"] for m in r.json()] == [x["id"] for x in replies[2:]]
    r = api.get(f"{MESSAGES}{parent['id']}/replies", params={"after_seq": replies[1]["seq"], "limit": 2},
                headers=H(member))
    assert [m["id"] for m in r.json()] == [x["id"] for x in replies[2:4]]
    r = api.get(f"{MESSAGES}{replies[0]['id']}/replies", headers=H(member))
    assert r.status_code == 200 and r.json() == []
    assert_error(api.get(f"{MESSAGES}{uuid.uuid4()}/replies", headers=H(member)), 404)
    assert_422(api.get(f"{MESSAGES}{parent['id']}/replies", params={"limit": 0}, headers=H(member)))
    assert_422(send_raw(api, member, cid, "reply", parent_id="bad"), ("body", "parent_id"))
    # a reply through the conversations route counts too
    r = api.post(f"{CONVERSATIONS}{cid}/messages", json={"content": "headless reply", "parent_id": parent["id"]},
                 headers=H(member))
    assert r.status_code == 201, r.text
    assert get_message(api, owner, parent["id"])["reply_count"] == 6


# ---------------------------------------------------------------------------------------------
# GET /messages/search


def test_search(api, users, admin):
    owner, member, outsider = users(3)
    pub = create_channel(api, owner)
    join(api, member, pub["id"])
    priv = create_channel(api, owner, private=True)
    word = uniq("kw")
    older_strong = send(api, owner, pub["id"], f"{word} {word} {word} repeated")
    weak1 = send(api, member, pub["id"], f"just one {word} here")
    weak2 = send(api, owner, pub["id"], f"and another {word} here")
    send(api, owner, pub["id"], "nothing relevant")
    secret = send(api, owner, priv["id"], f"{word} private secret")

    r = search(api, member, word)
    assert r.status_code == 200, r.text
    got = r.json()
    for m in got:
        assert_message(m)
    # best match first, then newest
    assert [m["id"] for m in got] == [older_strong["id"], weak2["id"], weak1["id"]]
    # the owner is in the private channel too
    ids = [m["id"] for m in search(api, owner, word).json()]
    assert set(ids) == {older_strong["id"], weak1["id"], weak2["id"], secret["id"]}
    # channel filter
    r = search(api, owner, word, channel_id=priv["id"])
    assert r.status_code == 200 and [m["id"] for m in r.json()] == [secret["id"]], r.text
    # outsiders: a private channel's message is never found; its id is 404
    assert search(api, outsider, word).json() == []
    assert search(api, member, f"{word} private").json() == []
    assert_error(search(api, outsider, word, channel_id=priv["id"]), 404)
    assert_error(search(api, member, word, channel_id=priv["id"]), 404)
    # search covers conversations the caller is a member of: not a public channel it has not joined
    assert_error(search(api, outsider, word, channel_id=pub["id"]), 403, "Access denied to channel")
    # limit
    r = search(api, owner, word, limit=2)
    assert r.status_code == 200 and len(r.json()) == 2, r.text
    # empty q
    assert_422(search(api, owner, ""), ("query", "q"))
    assert_422(search(api, owner, "   "))
    assert_422(api.get(MESSAGES + "search", headers=H(owner)), ("query", "q"))
    # after deletion it is gone
    assert api.delete(MESSAGES + secret["id"], headers=H(owner)).status_code == 200
    assert secret["id"] not in [m["id"] for m in search(api, owner, word).json()]
    assert search(api, owner, word, channel_id=priv["id"]).json() == []


# ---------------------------------------------------------------------------------------------
# read markers and unread counts


def unread_everywhere(api, user, cid):
    """(GET /channels/{id}, /channels/my, /conversations/) unread counts of one channel; all must agree."""
    a = get_channel(api, user, cid)["unread_count"]
    mine = in_my_channels(api, user, cid)
    b = mine["unread_count"] if mine else "missing"
    conv = conversation_in_list(api, user, cid)
    c = conv["unread_count"] if conv else "missing"
    assert a == b == c, f"unread counts disagree: channel {a}, my {b}, conversations {c}"
    return a


def test_unread_counts_and_read_markers(api, users):
    alice, (bob,), ch = channel_setup(api, members=1)
    cid = ch["id"]
    assert unread_everywhere(api, bob, cid) == 0
    a = [send(api, alice, cid, f"a{i}") for i in range(3)]  # seq 1..3
    assert unread_everywhere(api, bob, cid) == 3
    assert unread_everywhere(api, alice, cid) == 0  # own messages never count
    send(api, bob, cid, "b1")  # seq 4
    assert unread_everywhere(api, bob, cid) == 3
    assert unread_everywhere(api, alice, cid) == 1

    r = mark_read(api, bob, cid, seq=2)
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert unread_everywhere(api, bob, cid) == 1
    r = mark_read(api, bob, cid, message_id=a[2]["id"])
    assert r.status_code == 204, r.text
    assert unread_everywhere(api, bob, cid) == 0
    # the marker only moves forward
    assert mark_read(api, bob, cid, seq=1).status_code == 204
    assert mark_read(api, bob, cid, message_id=a[0]["id"]).status_code == 204
    assert unread_everywhere(api, bob, cid) == 0
    more = [send(api, alice, cid, f"a{i}") for i in range(3, 6)]  # seq 5..7
    assert unread_everywhere(api, bob, cid) == 3
    # a deleted message by others no longer counts
    assert api.delete(MESSAGES + more[0]["id"], headers=H(alice)).status_code == 200
    assert unread_everywhere(api, bob, cid) == 2

    # the headless route
    r = api.put(f"{CONVERSATIONS}{cid}/messages/read", json={"last_seen_message_id": more[1]["id"]}, headers=H(bob))
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok"}
    assert unread_everywhere(api, bob, cid) == 1
    r = api.put(f"{CONVERSATIONS}{cid}/messages/read", json={"last_seen_message_id": a[0]["id"]}, headers=H(bob))
    assert r.status_code == 200, r.text
    assert unread_everywhere(api, bob, cid) == 1
    assert mark_read(api, bob, cid, seq=more[2]["seq"]).status_code == 204
    assert unread_everywhere(api, bob, cid) == 0

    # errors
    other = create_channel(api, alice)
    om = send(api, alice, other["id"], "elsewhere")
    assert_error(mark_read(api, bob, cid, message_id=om["id"]), 404)
    assert_error(mark_read(api, bob, cid, message_id=str(uuid.uuid4())), 404)
    assert_error(mark_read(api, bob, str(uuid.uuid4()), seq=1), 404)
    assert_422(mark_read(api, bob, cid))
    assert_422(mark_read(api, bob, cid, seq="x"))
    assert_422(api.post(MESSAGES + "read", json={"seq": 1}, headers=H(bob)), ("body", "channel_id"))
    priv = create_channel(api, alice, private=True)
    pm = send(api, alice, priv["id"], "p")
    assert_error(mark_read(api, bob, priv["id"], seq=1), 404)
    r = api.put(f"{CONVERSATIONS}{cid}/messages/read", json={"last_seen_message_id": om["id"]}, headers=H(bob))
    assert_error(r, 404, "Message not found in this conversation")
    r = api.put(f"{CONVERSATIONS}{priv['id']}/messages/read", json={"last_seen_message_id": pm["id"]}, headers=H(bob))
    assert_error(r, 404)
    assert_422(api.put(f"{CONVERSATIONS}{cid}/messages/read", json={}, headers=H(bob)), ("body", "last_seen_message_id"))
    assert unread_everywhere(api, bob, cid) == 0


def test_unread_in_private_channel_and_after_rejoin(api, users):
    alice, (bob,), ch = channel_setup(api, members=1, private=True)
    cid = ch["id"]
    for i in range(4):
        send(api, alice, cid, f"p{i}")
    assert unread_everywhere(api, bob, cid) == 4
    assert api.delete(f"{CHANNELS}{cid}/members/{uid(bob)}", headers=H(alice)).status_code == 204
    send(api, alice, cid, "while away")
    add_user(api, alice, cid, bob)
    # back in: the marker starts at the newest message
    assert unread_everywhere(api, bob, cid) == 0


def test_message_routes_require_auth(api):
    mid = str(uuid.uuid4())
    for method, path in (("GET", f"{MESSAGES}channel/{mid}"), ("POST", MESSAGES), ("GET", MESSAGES + mid),
                         ("PUT", MESSAGES + mid), ("DELETE", MESSAGES + mid), ("POST", MESSAGES + "reactions"),
                         ("DELETE", f"{MESSAGES}reactions/{mid}"), ("GET", MESSAGES + "mentions/my"),
                         ("GET", f"{MESSAGES}{mid}/replies"), ("GET", MESSAGES + "search?q=x"),
                         ("POST", MESSAGES + "read")):
        r = api.request(method, path)
        assert_error(r, 401, "Not authenticated")
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), (method, path, r.headers)


def test_literal_message_routes_win_over_ids(api, users):
    (a,) = users(1)
    for method, path, allowed in (("GET", MESSAGES + "reactions", "POST"), ("GET", MESSAGES + "read", "POST"),
                                  ("DELETE", MESSAGES + "search", "GET"), ("POST", MESSAGES + "mentions/my", "GET")):
        r = api.request(method, path, headers=H(a))
        assert_error(r, 405)
        assert allowed in r.headers.get("allow", ""), (method, path, r.headers)
