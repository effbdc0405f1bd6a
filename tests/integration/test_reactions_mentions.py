"""§5 reactions (toggle, delete by id, limits) and @mentions (resolution rules, mentions/my, edits)."""
import uuid

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    H, JOBS, MESSAGES, assert_message, assert_reaction, channel_setup, create_channel, get_message, join,
    my_mentions, react, send, send_raw, RedisMonitor, uid,
)
from conftest import assert_422, assert_error, assert_json


# ---------------------------------------------------------------------------------------------
# reactions


def test_reaction_toggle(api, users):
    owner, (bob, carol), ch = channel_setup(api, members=2)
    m = send(api, owner, ch["id"], "react to me")
    r = react(api, bob, m["id"], "👍")
    assert r.status_code == 200, r.text
    assert_json(r)
    body = r.json()
    assert set(body) == {"action", "reaction"} and body["action"] == "add", body
    rb = body["reaction"]
    assert_reaction(rb, message_id=m["id"], user=bob, emoji="👍")

    rc = react(api, carol, m["id"], "👍").json()["reaction"]
    ro = react(api, owner, m["id"], "🎉").json()["reaction"]
    rb2 = react(api, bob, m["id"], "🎉").json()["reaction"]
    got = get_message(api, owner, m["id"])
    assert_message(got)
    # oldest first, whole Reaction objects
    assert got["reactions"] == [rb, rc, ro, rb2]

    r = react(api, bob, m["id"], "👍")
    assert r.status_code == 200, r.text
    assert r.json() == {"action": "remove", "reaction": None}
    assert [x["id"] for x in get_message(api, carol, m["id"])["reactions"]] == [rc["id"], ro["id"], rb2["id"]]
    # toggling back adds a new reaction, newest last
    again = react(api, bob, m["id"], "👍").json()
    assert again["action"] == "add" and again["reaction"]["id"] != rb["id"]
    assert [x["id"] for x in get_message(api, carol, m["id"])["reactions"]] == [
        rc["id"], ro["id"], rb2["id"], again["reaction"]["id"]]
    # the reactions appear in history and in the conversations page too
    hist = api.get(f"{MESSAGES}channel/{ch['id']}", headers=H(carol)).json()
    assert hist[0]["reactions"] == get_message(api, carol, m["id"])["reactions"]


def test_delete_reaction_by_id(api, users):
    owner, (bob,), ch = channel_setup(api, members=1)
    m = send(api, owner, ch["id"], "x")
    rid = react(api, bob, m["id"], "🔥").json()["reaction"]["id"]
    assert_error(api.delete(f"{MESSAGES}reactions/{rid}", headers=H(owner)), 403)
    r = api.delete(f"{MESSAGES}reactions/{rid}", headers=H(bob))
    assert r.status_code == 200, r.text
    assert r.json() == {"action": "remove"}
    assert get_message(api, owner, m["id"])["reactions"] == []
    assert_error(api.delete(f"{MESSAGES}reactions/{rid}", headers=H(bob)), 404)
    assert_error(api.delete(f"{MESSAGES}reactions/{uuid.uuid4()}", headers=H(bob)), 404)
    assert_error(api.delete(f"{MESSAGES}reactions/not-a-uuid", headers=H(bob)), 404)


def test_reaction_validation_and_access(api, users, admin):
    owner, (bob,), ch = channel_setup(api, members=1)
    outsider = users(1)[0]
    m = send(api, owner, ch["id"], "x")
    for bad in ("", "a" * 65, "😀" * 17):  # 65 and 68 bytes
        assert_422(react(api, bob, m["id"], bad), ("body", "emoji"))
    r = react(api, bob, m["id"], "😀" * 16)  # exactly 64 bytes
    assert r.status_code == 200 and r.json()["reaction"]["emoji"] == "😀" * 16, r.text
    assert_422(api.post(MESSAGES + "reactions", json={"message_id": m["id"]}, headers=H(bob)), ("body", "emoji"))
    assert_422(api.post(MESSAGES + "reactions", json={"message_id": "x", "emoji": "a"}, headers=H(bob)),
               ("body", "message_id"))
    assert_error(react(api, bob, str(uuid.uuid4()), "👍"), 404)
    # a public channel the caller has not joined
    assert_error(react(api, outsider, m["id"], "👍"), 403, "Access denied to channel")
    # a private channel: 404 to outsiders
    priv = create_channel(api, owner, private=True)
    pm = send(api, owner, priv["id"], "secret")
    assert_error(react(api, outsider, pm["id"], "👍"), 404)
    prid = react(api, owner, pm["id"], "👍").json()["reaction"]["id"]
    assert_error(api.delete(f"{MESSAGES}reactions/{prid}", headers=H(outsider)), 404)
    assert get_message(api, owner, pm["id"])["reactions"][0]["id"] == prid
    # nothing was stored by the refused calls
    assert [x["user_id"] for x in get_message(api, owner, m["id"])["reactions"]] == [uid(bob)]


# ---------------------------------------------------------------------------------------------
# mentions


def mention_ids(m):
    return sorted(m["mentions"])


def test_mention_rules(api, users):
    owner, (bob, carol), ch = channel_setup(api, members=2)
    (dave,) = users(1)  # exists, not a member
    cid = ch["id"]
    b, c, d = bob.user["username"], carol.user["username"], dave.user["username"]
    cases = [
        (f"@{b} hello", [bob]),
        (f"hello @{b.upper()}", [bob]),  # case-insensitive
        (f"@{c}.", [carol]),  # trailing dot stripped
        (f"ping @{c}-- and @{b}...", [bob, carol]),  # trailing - and . stripped
        (f"(@{b}), [@{c}]", [bob, carol]),  # after non-word characters
        (f"mail x@{b}.com please", []),  # an address, no mention
        (f"a_@{b} not a mention", []),  # '_' is a word character
        (f"9@{b} not a mention", []),
        (f"@{b}x no such user", []),
        (f"@{d} is not a member", []),
        (f"@{b} @{b.upper()} @{b}. twice", [bob]),  # once per message
        (f"@@{b}", [bob]),  # the second @ follows a non-word character
        ("@ nobody", []),
    ]
    for content, expected in cases:
        m = send(api, owner, cid, content)
        assert mention_ids(m) == sorted(uid(u) for u in expected), f"{content!r}: {m['mentions']}"
        assert len(m["mentions"]) == len(set(m["mentions"])), m
        assert mention_ids(get_message(api, bob, m["id"])) == mention_ids(m)


def test_mention_of_name_with_dots_and_dashes(api, users, register):
    owner, (member,), ch = channel_setup(api, members=1)
    tail = uuid.uuid4().hex[:8]
    dotted = register(username=f"ann.lee-{tail}")
    join(api, dotted, ch["id"])
    m = send(api, owner, ch["id"], f"hi @Ann.Lee-{tail}. and @ann.lee-{tail}!")
    assert m["mentions"] == [uid(dotted)]
    m = send(api, owner, ch["id"], f"hi @ann.lee-{tail}x")
    assert m["mentions"] == []


def test_mentions_my_newest_first_and_edit_recomputes(api, users, stack):
    owner, (bob, carol), ch = channel_setup(api, members=2)
    cid = ch["id"]
    b, c = bob.user["username"], carol.user["username"]
    other = create_channel(api, owner)
    join(api, bob, other["id"])
    m1 = send(api, owner, cid, f"first @{b}")
    send(api, owner, cid, "no mention here")
    m2 = send(api, carol, cid, f"second @{b} from carol")
    m3 = send(api, owner, other["id"], f"third @{b} elsewhere")
    got = my_mentions(api, bob)
    assert [m["id"] for m in got] == [m3["id"], m2["id"], m1["id"]]
    for m in got:
        assert_message(m)
        assert uid(bob) in m["mentions"]
    assert [m["id"] for m in my_mentions(api, bob, limit=2)] == [m3["id"], m2["id"]]
    assert [m["id"] for m in my_mentions(api, bob, limit=2, offset=2)] == [m1["id"]]
    assert my_mentions(api, carol) == []
    assert_422(api.get(MESSAGES + "mentions/my", params={"limit": 0}, headers=H(bob)))

    # an edit recomputes mentions and creates a job only for the newly mentioned
    with RedisMonitor(stack.redis_sock) as mon:
        r = api.put(MESSAGES + m1["id"], json={"content": f"first, now for @{c}"}, headers=H(owner))
        assert r.status_code == 200, r.text
        assert r.json()["mentions"] == [uid(carol)]
        assert [m["id"] for m in my_mentions(api, bob)] == [m3["id"], m2["id"]]
        assert [m["id"] for m in my_mentions(api, carol)] == [m1["id"]]
        r = api.put(MESSAGES + m1["id"], json={"content": f"first for @{c} and @{b} again"}, headers=H(owner))
        assert r.status_code == 200, r.text
        assert mention_ids(r.json()) == sorted([uid(bob), uid(carol)])
        assert m1["id"] in [m["id"] for m in my_mentions(api, bob)]
        jobs = [j for j in mon.xadds(JOBS) if j["_payload"].get("message_id") == m1["id"]]
        assert [j["_payload"]["user_ids"] for j in jobs] == [[uid(carol)], [uid(bob)]], jobs
        for j in jobs:
            assert j["type"] == "mention_notification" and j["conversation_id"] == cid, j
            assert j["_payload"]["sender_id"] == uid(owner) and j["_payload"]["conversation_id"] == cid, j
        # an edit that mentions nobody new: no job
        r = api.put(MESSAGES + m1["id"], json={"content": f"@{b} only"}, headers=H(owner))
        assert r.status_code == 200 and r.json()["mentions"] == [uid(bob)], r.text
        assert [m["id"] for m in my_mentions(api, carol)] == []
        assert len([j for j in mon.xadds(JOBS) if j["_payload"].get("message_id") == m1["id"]]) == 2

    # deleted messages leave the list; so do conversations the user left
    assert api.delete(MESSAGES + m2["id"], headers=H(carol)).status_code == 200
    assert api.delete(f"/api/v1/channels/{other['id']}/leave", headers=H(bob)).status_code == 200
    assert [m["id"] for m in my_mentions(api, bob)] == [m1["id"]]


def test_mention_in_private_channel_only_members(api, users):
    owner, (bob,), ch = channel_setup(api, members=1, private=True)
    (eve,) = users(1)
    m = send(api, owner, ch["id"], f"@{bob.user['username']} and @{eve.user['username']}")
    assert m["mentions"] == [uid(bob)]
    assert my_mentions(api, eve) == []
    assert [x["id"] for x in my_mentions(api, bob)] == [m["id"]]
    r = send_raw(api, owner, ch["id"], f"@{owner.user['username']} myself")
    assert r.status_code == 201 and r.json()["mentions"] == [uid(owner)], r.text
