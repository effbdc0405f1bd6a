"""§4 channels routes: list, my, create, get, update, archive, join, leave, add-user, remove member, available users."""
import uuid

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, CONVERSATIONS, H, add_user, all_channels, all_history, assert_channel, assert_conversation,
    conv_send_raw, conversation_in_list, create_channel, get_channel, get_message, history, in_my_channels,
    join, make_role, my_channels, react, send, send_raw, uid, uniq,
)
from conftest import assert_422, assert_error, assert_json, assert_user


def ascii_sorted_by_lower(names):
    keys = [n.lower() for n in names if n.isascii()]
    return keys == sorted(keys)


# ---------------------------------------------------------------------------------------------
# GET /channels/


def test_list_by_name_case_insensitive_private_and_archived_left_out(api, users):
    a, b = users(2)
    p = uniq("ord") + "_"
    made = {}
    for suffix in ("b", "A", "c", "D"):
        made[suffix] = create_channel(api, a, p + suffix)["id"]
    other_private = create_channel(api, b, p + "e_priv", private=True)
    own_private = create_channel(api, a, p + "f_priv", private=True)
    archived = create_channel(api, a, p + "aa_arch")
    assert api.delete(CHANNELS + archived["id"], headers=H(a)).status_code == 204

    lst = all_channels(api, a)
    for c in lst:
        assert_channel(c)
        assert c["is_archived"] is False, c
    ids = [c["id"] for c in lst]
    assert len(ids) == len(set(ids)), "a channel is listed twice"
    mine = [c["name"] for c in lst if c["name"].startswith(p)]
    assert mine == [p + "A", p + "b", p + "c", p + "D", p + "f_priv"], mine
    assert other_private["id"] not in ids
    assert archived["id"] not in ids
    assert ascii_sorted_by_lower([c["name"] for c in lst]), "GET /channels/ is not ordered by name case-insensitively"
    by_id = {c["id"]: c for c in lst}
    assert by_id[own_private["id"]]["is_member"] is True and by_id[own_private["id"]]["is_private"] is True
    # b sees its private channel and not a's; b is not a member of a's public channels
    lst_b = all_channels(api, b)
    names_b = [c["name"] for c in lst_b if c["name"].startswith(p)]
    assert names_b == [p + "A", p + "b", p + "c", p + "D", p + "e_priv"], names_b
    for c in lst_b:
        if c["id"] == made["A"]:
            assert c["is_member"] is False and c["unread_count"] is None, c


def test_list_limit_offset_and_validation(api, users):
    (a,) = users(1)
    full = all_channels(api, a)
    assert len(full) >= 3
    r = api.get(CHANNELS, params={"limit": 2, "offset": 1}, headers=H(a))
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()] == [c["id"] for c in full[1:3]]
    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"offset": -1}):
        assert_422(api.get(CHANNELS, params=params, headers=H(a)))
    # without the trailing slash: the same route
    r = api.get(CHANNELS.rstrip("/"), params={"limit": 1000}, headers=H(a))
    assert r.status_code == 200 and [c["id"] for c in r.json()] == [c["id"] for c in full]


# ---------------------------------------------------------------------------------------------
# POST /channels/


def test_create_channel(api, users, db):
    a, b = users(2)
    name = uniq("Create_")
    r = api.post(CHANNELS, json={"name": name, "description": "About things", "is_private": False}, headers=H(a))
    assert r.status_code == 201, r.text
    assert_json(r)
    c = r.json()
    assert_channel(c)
    assert (c["name"], c["description"], c["is_private"], c["is_archived"]) == (name, "About things", False, False)
    assert (c["creator_id"], c["member_count"], c["is_member"], c["unread_count"]) == (uid(a), 1, True, 0)
    role = db("SELECT role FROM conversation_members WHERE conversation_id = :'p1' AND user_id = :'p2'",
              c["id"], uid(a))
    assert role == [["owner"]]
    r = api.get(CONVERSATIONS + c["id"], headers=H(a))
    assert r.status_code == 200, r.text
    conv = r.json()
    assert_conversation(conv, participants=True)
    assert [(p["user"]["id"], p["role"]) for p in conv["participants"]] == [(uid(a), "owner")]
    assert (conv["kind"], conv["title"], conv["is_group"], conv["is_private"]) == ("channel", name, True, False)

    # duplicate names, case-insensitively, whoever asks
    for dup in (name, name.upper(), name.lower()):
        assert_error(api.post(CHANNELS, json={"name": dup}, headers=H(b)), 400, "Channel name already exists")
    # an empty description is stored as null; is_private defaults to false
    c2 = create_channel(api, b, description="")
    assert c2["description"] is None and c2["is_private"] is False
    assert db("SELECT description IS NULL FROM conversations WHERE id = :'p1'", c2["id"]) == [["t"]]
    # private channel
    c3 = create_channel(api, b, private=True)
    assert c3["is_private"] is True and c3["is_member"] is True


def test_create_channel_validation(api, users):
    (a,) = users(1)
    ok80 = uniq("n80_")
    ok80 = ok80 + "x" * (80 - len(ok80))
    c = create_channel(api, a, ok80)
    assert c["name"] == ok80
    assert_422(api.post(CHANNELS, json={"name": uniq("n81_") + "y" * 70}, headers=H(a)), ("body", "name"))
    assert_422(api.post(CHANNELS, json={"name": ""}, headers=H(a)), ("body", "name"))
    assert_422(api.post(CHANNELS, json={}, headers=H(a)), ("body", "name"))
    assert_422(api.post(CHANNELS, json={"name": 5}, headers=H(a)), ("body", "name"))
    assert_422(api.post(CHANNELS, json={"name": uniq(), "is_private": "maybe"}, headers=H(a)))
    r = api.post(CHANNELS, content=b'{"name": ', headers={**H(a), "Content-Type": "application/json"})
    body = assert_422(r)
    assert any(e["type"] == "json_invalid" for e in body["errors"]), body
    assert_error(api.post(CHANNELS, json={"name": uniq()}), 401, "Not authenticated")


# ---------------------------------------------------------------------------------------------
# GET /channels/{id}


def test_get_channel_member_outsider_private_admin(api, users, admin):
    owner, member, outsider = users(3)
    ch = create_channel(api, owner, description="desc")
    join(api, member, ch["id"])
    m = send(api, owner, ch["id"], "first")

    c = get_channel(api, member, ch["id"])
    assert_channel(c, full=True)
    assert (c["is_member"], c["unread_count"], c["member_count"]) == (True, 1, 2)
    assert sorted(u["id"] for u in c["members"]) == sorted([uid(owner), uid(member)])
    assert [u["username"].lower() for u in c["members"]] == sorted(u["username"].lower() for u in c["members"])
    assert c["last_message_at"] is not None and c["last_message_at"] >= m["created_at"][:19]

    # a public channel's metadata is visible to a non-member
    c = get_channel(api, outsider, ch["id"])
    assert_channel(c, full=True)
    assert (c["is_member"], c["unread_count"], c["description"]) == (False, None, "desc")

    # a private channel does not exist for an outsider; a global admin sees it
    priv = create_channel(api, owner, private=True)
    assert_error(api.get(CHANNELS + priv["id"], headers=H(outsider)), 404)
    c = get_channel(api, admin, priv["id"])
    assert_channel(c, full=True)
    assert c["is_private"] is True and c["is_member"] is False and c["unread_count"] is None

    for bad in (str(uuid.uuid4()), "not-a-uuid", "123"):
        assert_error(api.get(CHANNELS + bad, headers=H(owner)), 404)


# ---------------------------------------------------------------------------------------------
# PUT/PATCH /channels/{id}


def test_update_channel_permissions(api, users, db):
    owner, member, outsider, moderator = users(4)
    make_role(db, moderator, "moderator")
    ch = create_channel(api, owner, description="old")
    join(api, member, ch["id"])
    new_name = uniq("renamed_")
    r = api.put(CHANNELS + ch["id"], json={"name": new_name, "description": "new"}, headers=H(owner))
    assert r.status_code == 200, r.text
    c = r.json()
    assert_channel(c)
    assert (c["id"], c["name"], c["description"]) == (ch["id"], new_name, "new")
    assert get_channel(api, member, ch["id"])["name"] == new_name
    # PATCH: only what is given changes; an empty description becomes null
    r = api.patch(CHANNELS + ch["id"], json={"description": ""}, headers=H(owner))
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["description"]) == (new_name, None)

    assert_error(api.put(CHANNELS + ch["id"], json={"name": uniq()}, headers=H(member)), 403)
    assert_error(api.patch(CHANNELS + ch["id"], json={"description": "x"}, headers=H(outsider)), 403)
    assert get_channel(api, owner, ch["id"])["description"] is None
    # a global moderator may update
    r = api.patch(CHANNELS + ch["id"], json={"description": "by mod"}, headers=H(moderator))
    assert r.status_code == 200 and r.json()["description"] == "by mod", r.text
    # name rules
    other = create_channel(api, owner)
    assert_error(api.put(CHANNELS + ch["id"], json={"name": other["name"].upper()}, headers=H(owner)), 400,
                 "Channel name already exists")
    assert_422(api.put(CHANNELS + ch["id"], json={"name": "z" * 81}, headers=H(owner)))
    assert_422(api.put(CHANNELS + ch["id"], json={"name": ""}, headers=H(owner)))
    # renaming to its own name in another case is allowed
    r = api.put(CHANNELS + ch["id"], json={"name": new_name.upper()}, headers=H(owner))
    assert r.status_code == 200 and r.json()["name"] == new_name.upper(), r.text
    # private: an outsider gets 404, not 403
    priv = create_channel(api, owner, private=True)
    assert_error(api.put(CHANNELS + priv["id"], json={"name": uniq()}, headers=H(outsider)), 404)
    assert_error(api.put(CHANNELS + str(uuid.uuid4()), json={"name": uniq()}, headers=H(owner)), 404)


# ---------------------------------------------------------------------------------------------
# DELETE /channels/{id} (archive)


def test_archive_channel(api, users):
    owner, member, outsider = users(3)
    ch = create_channel(api, owner)
    cid = ch["id"]
    join(api, member, cid)
    m = send(api, owner, cid, "before archive")
    assert_error(api.delete(CHANNELS + cid, headers=H(member)), 403)
    assert_error(api.delete(CHANNELS + cid, headers=H(outsider)), 403)
    r = api.delete(CHANNELS + cid, headers=H(owner))
    assert r.status_code == 204, r.text
    assert r.content == b""

    # left out of /channels/ and /channels/my, still in /conversations/ with is_archived
    assert cid not in [c["id"] for c in all_channels(api, member)]
    assert in_my_channels(api, member, cid) is None
    assert in_my_channels(api, owner, cid) is None
    conv = conversation_in_list(api, member, cid)
    assert conv is not None and conv["is_archived"] is True, conv
    c = get_channel(api, member, cid)
    assert c["is_archived"] is True and c["is_member"] is True
    assert get_channel(api, outsider, cid)["is_archived"] is True

    assert_error(send_raw(api, owner, cid, "after"), 403, "Channel is archived")
    assert_error(react(api, member, m["id"], "👍"), 403, "Channel is archived")
    assert_error(api.post(CHANNELS + "join", json={"channel_id": cid}, headers=H(outsider)), 403,
                 "Channel is archived")
    assert_error(api.put(CHANNELS + cid, json={"description": "x"}, headers=H(owner)), 403, "Channel is archived")
    assert_error(conv_send_raw(api, member, cid, "after"), 403, "Cannot send messages to an archived conversation")
    # the name stays taken
    assert_error(api.post(CHANNELS, json={"name": ch["name"]}, headers=H(outsider)), 400, "Channel name already exists")
    # history still readable by members
    assert [x["id"] for x in history(api, member, cid)] == [m["id"]]
    assert get_message(api, member, m["id"])["content"] == "before archive"
    # leave allowed
    r = api.delete(f"{CHANNELS}{cid}/leave", headers=H(member))
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Successfully left channel"}


# ---------------------------------------------------------------------------------------------
# POST /channels/join, DELETE /channels/{id}/leave


def test_join_and_leave(api, users, admin):
    owner, joiner = users(2)
    ch = create_channel(api, owner)
    cid = ch["id"]
    for i in range(3):
        send(api, owner, cid, f"old {i}")
    r = api.post(CHANNELS + "join", json={"channel_id": cid}, headers=H(joiner))
    assert r.status_code == 200, r.text
    assert_json(r)
    assert r.json() == {"message": "Successfully joined channel"}
    # the read marker starts at the newest message
    c = get_channel(api, joiner, cid)
    assert (c["is_member"], c["unread_count"], c["member_count"]) == (True, 0, 2)
    assert in_my_channels(api, joiner, cid)["unread_count"] == 0
    assert conversation_in_list(api, joiner, cid)["unread_count"] == 0
    send(api, owner, cid, "new one")
    assert get_channel(api, joiner, cid)["unread_count"] == 1
    # history is readable after joining (older messages included)
    assert len(history(api, joiner, cid)) == 4

    assert_error(api.post(CHANNELS + "join", json={"channel_id": cid}, headers=H(joiner)), 400,
                 "Already a member of this channel")
    assert_error(api.post(CHANNELS + "join", json={"channel_id": str(uuid.uuid4())}, headers=H(joiner)), 404)
    assert_422(api.post(CHANNELS + "join", json={"channel_id": "nope"}, headers=H(joiner)), ("body", "channel_id"))
    assert_422(api.post(CHANNELS + "join", json={}, headers=H(joiner)), ("body", "channel_id"))
    # a private channel cannot be joined: it does not exist for outsiders (admins included)
    priv = create_channel(api, owner, private=True)
    assert_error(api.post(CHANNELS + "join", json={"channel_id": priv["id"]}, headers=H(joiner)), 404)
    assert_error(api.post(CHANNELS + "join", json={"channel_id": priv["id"]}, headers=H(admin)), 404)

    r = api.delete(f"{CHANNELS}{cid}/leave", headers=H(joiner))
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Successfully left channel"}
    c = get_channel(api, joiner, cid)
    assert (c["is_member"], c["unread_count"], c["member_count"]) == (False, None, 1)
    assert in_my_channels(api, joiner, cid) is None
    assert conversation_in_list(api, joiner, cid) is None
    assert_error(api.delete(f"{CHANNELS}{cid}/leave", headers=H(joiner)), 400, "Not a member of this channel")
    assert_error(api.delete(f"{CHANNELS}{priv['id']}/leave", headers=H(joiner)), 404)
    assert_error(api.delete(f"{CHANNELS}{uuid.uuid4()}/leave", headers=H(joiner)), 404)
    # rejoin works
    join(api, joiner, cid)
    assert get_channel(api, joiner, cid)["unread_count"] == 0


# ---------------------------------------------------------------------------------------------
# POST /channels/{id}/add-user


def test_add_user(api, users):
    owner, member, target, outsider, target2 = users(5)
    pub = create_channel(api, owner)
    join(api, member, pub["id"])
    # any member of a public channel may add
    r = api.post(f"{CHANNELS}{pub['id']}/add-user", json={"user_id": uid(target)}, headers=H(member))
    assert r.status_code == 200, r.text
    assert r.json() == {"message": f"Successfully added {target.user['username']} to channel"}
    c = get_channel(api, target, pub["id"])
    assert c["is_member"] is True and c["unread_count"] == 0
    assert_error(api.post(f"{CHANNELS}{pub['id']}/add-user", json={"user_id": uid(target)}, headers=H(owner)), 400,
                 "Already a member of this channel")
    assert_error(api.post(f"{CHANNELS}{pub['id']}/add-user", json={"user_id": str(uuid.uuid4())}, headers=H(owner)),
                 404)
    # a non-member of a public channel may not add
    assert_error(api.post(f"{CHANNELS}{pub['id']}/add-user", json={"user_id": uid(target2)}, headers=H(outsider)),
                 403)
    assert_422(api.post(f"{CHANNELS}{pub['id']}/add-user", json={"user_id": "x"}, headers=H(owner)),
               ("body", "user_id"))

    priv = create_channel(api, owner, private=True)
    add_user(api, owner, priv["id"], member)
    # a plain member of a private channel may not add; an outsider does not see it
    assert_error(api.post(f"{CHANNELS}{priv['id']}/add-user", json={"user_id": uid(target2)}, headers=H(member)),
                 403)
    assert_error(api.post(f"{CHANNELS}{priv['id']}/add-user", json={"user_id": uid(target2)}, headers=H(outsider)),
                 404)
    assert_error(api.post(f"{CHANNELS}{uuid.uuid4()}/add-user", json={"user_id": uid(target2)}, headers=H(owner)),
                 404)
    assert get_channel(api, owner, priv["id"])["member_count"] == 2
    add_user(api, owner, priv["id"], target2)
    assert get_channel(api, target2, priv["id"])["is_member"] is True


# ---------------------------------------------------------------------------------------------
# DELETE /channels/{id}/members/{user_id}


def test_remove_member(api, users, db):
    owner, m1, m2, moderator = users(4)
    make_role(db, moderator, "moderator")
    ch = create_channel(api, owner, private=True)
    for u in (m1, m2):
        add_user(api, owner, ch["id"], u)
    assert_error(api.delete(f"{CHANNELS}{ch['id']}/members/{uid(m2)}", headers=H(m1)), 403)
    r = api.delete(f"{CHANNELS}{ch['id']}/members/{uid(m2)}", headers=H(owner))
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_error(api.get(CHANNELS + ch["id"], headers=H(m2)), 404)
    assert uid(m2) not in [u["id"] for u in get_channel(api, owner, ch["id"])["members"]]
    # a global moderator may remove members of a channel it is not in
    r = api.delete(f"{CHANNELS}{ch['id']}/members/{uid(m1)}", headers=H(moderator))
    assert r.status_code == 204, r.text
    assert get_channel(api, owner, ch["id"])["member_count"] == 1
    # an outsider of the private channel: 404
    assert_error(api.delete(f"{CHANNELS}{ch['id']}/members/{uid(owner)}", headers=H(m2)), 404)


# ---------------------------------------------------------------------------------------------
# GET /channels/my, GET /channels/users/available


def test_my_channels(api, users):
    a, b = users(2)
    p = uniq("my") + "_"
    c_b = create_channel(api, a, p + "B")
    c_a = create_channel(api, b, p + "a", private=True)
    add_user(api, b, c_a["id"], a)
    c_x = create_channel(api, b, p + "c")  # a is not in it
    send(api, b, c_a["id"], "hello a")
    send(api, b, c_a["id"], "hello again")
    send(api, a, c_b["id"], "own message")
    mine = my_channels(api, a)
    for c in mine:
        assert_channel(c, full=True)
        assert c["is_member"] is True and c["is_archived"] is False
    names = [c["name"] for c in mine]
    assert ascii_sorted_by_lower(names), names
    assert [n for n in names if n.startswith(p)] == [p + "a", p + "B"]
    by_id = {c["id"]: c for c in mine}
    assert c_x["id"] not in by_id
    assert by_id[c_a["id"]]["unread_count"] == 2
    assert by_id[c_b["id"]]["unread_count"] == 0  # own messages never count
    assert sorted(u["id"] for u in by_id[c_a["id"]]["members"]) == sorted([uid(a), uid(b)])


def test_available_users(api, users, db):
    me, x, y, banned = users(4)
    db("UPDATE users SET status = 'banned' WHERE id = :'p1'", uid(banned))
    r = api.get(CHANNELS + "users/available", headers=H(me))
    assert r.status_code == 200, r.text
    assert_json(r)
    lst = r.json()
    ids = [u["id"] for u in lst]
    assert uid(me) not in ids
    assert uid(x) in ids and uid(y) in ids
    assert uid(banned) not in ids
    for u in lst:
        assert_user(u, email_visible=False)
        assert u["status"] == "active" and u["is_active"] is True, u
    assert ascii_sorted_by_lower([u["username"] for u in lst])
    assert len(ids) == len(set(ids))


def test_channel_routes_require_auth(api):
    cid = str(uuid.uuid4())
    for method, path in (("GET", CHANNELS), ("POST", CHANNELS), ("GET", CHANNELS + "my"), ("POST", CHANNELS + "join"),
                         ("GET", CHANNELS + cid), ("PUT", CHANNELS + cid), ("PATCH", CHANNELS + cid),
                         ("DELETE", CHANNELS + cid), ("DELETE", f"{CHANNELS}{cid}/leave"),
                         ("POST", f"{CHANNELS}{cid}/add-user"), ("DELETE", f"{CHANNELS}{cid}/members/{cid}"),
                         ("GET", CHANNELS + "users/available")):
        assert_error(api.request(method, path), 401, "Not authenticated")


def test_literal_segments_win_and_wrong_method(api, users):
    (a,) = users(1)
    # /channels/my is not /channels/{id}: a wrong method on it is 405, not a 404 channel lookup
    r = api.delete(CHANNELS + "my", headers=H(a))
    assert_error(r, 405)
    assert "GET" in r.headers.get("allow", "")
    r = api.get(CHANNELS + "join", headers=H(a))
    assert_error(r, 405)
    assert "POST" in r.headers.get("allow", "")


def test_private_channel_history_readable_by_admin_not_outsider(api, users, admin):
    owner, outsider = users(2)
    ch = create_channel(api, owner, private=True)
    m = send(api, owner, ch["id"], "secret words")
    assert_error(api.get(f"/api/v1/messages/channel/{ch['id']}", headers=H(outsider)), 404)
    assert [x["id"] for x in all_history(api, admin, ch["id"])] == [m["id"]]
    assert get_message(api, admin, m["id"])["id"] == m["id"]
