"""§3 users routes: /auth/me, /users/me, POST /users/, list, get, update, search."""
import uuid

import pytest

from conftest import (
    PASSWORD, assert_401_missing, assert_422, assert_error, assert_json, assert_user, auth_headers,
    login_json, uname,
)

USERS = "/api/v1/users/"


def assert_visible_to(u, viewer):
    """In a list seen by a member every email is "", the viewer's own included (a list is not an answer about
    oneself)."""
    assert_user(u, email_visible=False)


def create_headless(api, username=None, email=None, password=PASSWORD):
    username = username or uname()
    email = email or f"{username}@example.com"
    return api.post(USERS, json={"email": email, "username": username, "password": password})


# ---------------------------------------------------------------------------------------------
# me


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/users/me"])
def test_me(api, user, path):
    r = api.get(path, headers=auth_headers(user.access))
    assert r.status_code == 200, r.text
    assert_json(r)
    u = r.json()
    assert_user(u, email_visible=True)
    assert (u["id"], u["email"], u["username"]) == (user.user["id"], user.user["email"], user.user["username"])
    # the web client sends Content-Type: application/json with no body on GET
    for extra in ({"Content-Type": "application/json"}, {"Content-Type": "application/json", "Content-Length": "0"}):
        r2 = api.get(path, headers={**auth_headers(user.access), **extra})
        assert r2.status_code == 200, r2.text
        assert r2.json()["id"] == u["id"]


def test_me_requires_auth(api):
    assert_401_missing(api.get("/api/v1/users/me"))
    assert_401_missing(api.get("/api/v1/auth/me", headers={"Content-Type": "application/json"}))


# ---------------------------------------------------------------------------------------------
# POST /users/ (headless)


def test_create_user_headless(api):
    name = uname("h_")
    r = create_headless(api, name, f"{name}@Example.NET")
    assert r.status_code == 201, r.text
    assert_json(r)
    u = r.json()
    assert "access_token" not in u and "user" not in u, u
    assert_user(u, email_visible=True)
    assert u["username"] == name and u["email"] == f"{name}@example.net" and u["role"] == "member"
    r = login_json(api, name, PASSWORD)
    assert r.status_code == 200 and r.json()["user"]["id"] == u["id"], r.text


def test_create_user_headless_without_trailing_slash(api):
    name = uname("h_")
    r = api.post("/api/v1/users", json={"email": f"{name}@example.com", "username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert r.json()["username"] == name


def test_create_user_headless_duplicates(api, user):
    r = create_headless(api, uname(), user.user["email"].upper())
    assert_error(r, 400, "The user with this email already exists in the system.")
    r = create_headless(api, user.user["username"].upper(), f"{uname()}@example.com")
    body = assert_error(r, 400)
    assert "username already exists" in body["detail"], body


def test_create_user_headless_validation(api):
    assert_422(create_headless(api, password="short"), ("body", "password"))
    assert_422(create_headless(api, email="nope"), ("body", "email"))
    assert_422(create_headless(api, username="no spaces"), ("body", "username"))
    assert_422(api.post(USERS, json={}), ("body", "email"), ("body", "username"), ("body", "password"))


# ---------------------------------------------------------------------------------------------
# GET /users/


def all_users(api, token):
    out, offset = [], 0
    while True:
        r = api.get(USERS, params={"limit": 100, "offset": offset}, headers=auth_headers(token))
        assert r.status_code == 200, r.text
        page = r.json()
        out += page
        if len(page) < 100:
            return out
        offset += 100


def test_list_users_order_and_paging(api, register):
    t = "zq" + uuid.uuid4().hex[:8]
    names = [f"{t}_beta", f"{t}_CHARLIE", f"{t}_Alpha", f"{t}_delta"]
    regs = [register(username=n) for n in names]
    token = regs[0].access
    everyone = all_users(api, token)
    ids = [u["id"] for u in everyone]
    assert len(ids) == len(set(ids)), "duplicates across pages"
    mine = [u["username"] for u in everyone if u["username"].startswith(t)]
    assert mine == [f"{t}_Alpha", f"{t}_beta", f"{t}_CHARLIE", f"{t}_delta"], mine
    # a page is the same slice of the whole list
    pos = [u["username"] for u in everyone].index(f"{t}_beta")
    r = api.get(USERS, params={"limit": 2, "offset": pos}, headers=auth_headers(token))
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()] == ids[pos:pos + 2]
    r = api.get(USERS, params={"limit": 1}, headers=auth_headers(token))
    assert [u["id"] for u in r.json()] == ids[:1]
    r = api.get(USERS, params={"offset": len(ids) + 10}, headers=auth_headers(token))
    assert r.status_code == 200 and r.json() == [], r.text


def test_list_users_default_limit_is_50(api, user, db):
    count = int(db("SELECT count(*) FROM users")[0][0])
    for _ in range(max(0, 51 - count)):
        assert create_headless(api).status_code == 201
    r = api.get(USERS, headers=auth_headers(user.access))
    assert r.status_code == 200, r.text
    assert len(r.json()) == 50
    r = api.get("/api/v1/users", params={"limit": 100}, headers=auth_headers(user.access))
    assert r.status_code == 200 and len(r.json()) == min(100, max(count, 51)), r.text


def test_list_users_huge_offset(api, user):
    r = api.get(USERS, params={"offset": 10**12}, headers=auth_headers(user.access))
    assert r.status_code == 200 and r.json() == [], r.text


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "abc"}, {"limit": "1.5"}, {"limit": ""},
    {"offset": -1}, {"offset": "x"}, {"offset": str(10**30)}, {"limit": str(10**30)},
])
def test_list_users_bad_paging(api, user, params):
    r = api.get(USERS, params=params, headers=auth_headers(user.access))
    assert_422(r, ("query", next(iter(params))))


def test_list_users_requires_auth(api):
    assert_401_missing(api.get(USERS))


def test_list_users_email_visibility(api, user, admin):
    r = api.get(USERS, params={"limit": 100}, headers=auth_headers(user.access))
    assert r.status_code == 200
    for u in r.json():
        assert_visible_to(u, user.user)
    r = api.get(USERS, params={"limit": 100}, headers=auth_headers(admin.access))
    assert r.status_code == 200
    for u in r.json():
        assert_user(u, email_visible=True)


# ---------------------------------------------------------------------------------------------
# GET /users/{id}


def test_get_user(api, register, admin):
    a, b = register(), register()
    r = api.get(f"{USERS}{a.user['id']}", headers=auth_headers(a.access))
    assert r.status_code == 200, r.text
    assert_user(r.json(), email_visible=True)
    assert r.json()["email"] == a.user["email"]
    r = api.get(f"{USERS}{a.user['id']}", headers=auth_headers(b.access))
    assert r.status_code == 200, r.text
    assert_user(r.json(), email_visible=False)
    assert r.json()["username"] == a.user["username"]
    r = api.get(f"/api/v1/users/{a.user['id']}/", headers=auth_headers(admin.access))
    assert r.status_code == 200, r.text
    assert r.json()["email"] == a.user["email"]


@pytest.mark.parametrize("ident, detail", [
    (str(uuid.uuid4()), "User not found"),
    ("not-a-uuid", None),
    ("12345", None),
    ("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", None),
])
def test_get_user_not_found(api, user, ident, detail):
    """Unknown -> 404 User not found; a malformed id is a 404 too, never a 500."""
    assert_error(api.get(f"{USERS}{ident}", headers=auth_headers(user.access)), 404, detail)


def test_get_user_requires_auth(api, user):
    assert_401_missing(api.get(f"{USERS}{user.user['id']}"))


# ---------------------------------------------------------------------------------------------
# PUT / PATCH /users/{id}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_own_profile(api, register, db, method):
    me = register()
    new_name = uname("ren_")
    r = api.request(method, f"{USERS}{me.user['id']}", headers=auth_headers(me.access),
                    json={"username": new_name, "email": f"{new_name}@NEW.Example.com",
                          "avatar": "https://cdn.example.com/x.png",
                          "role": "admin", "status": "banned", "is_active": False})
    assert r.status_code == 200, r.text
    assert_json(r)
    u = r.json()
    assert_user(u, email_visible=True)
    assert u["username"] == new_name
    assert u["email"] == f"{new_name}@new.example.com"
    assert u["avatar"] == "https://cdn.example.com/x.png"
    assert (u["role"], u["status"], u["is_active"]) == ("member", "active", True), u
    assert u["updated_at"] > me.user["updated_at"], (u["updated_at"], me.user["updated_at"])
    assert db("SELECT role, status FROM users WHERE id = :'p1'", me.user["id"]) == [["member", "active"]]
    # the change is real: the new name logs in, the old one does not
    assert login_json(api, new_name).status_code == 200
    assert login_json(api, me.user["username"]).status_code == 401
    r = api.get("/api/v1/users/me", headers=auth_headers(me.access))
    assert r.json()["username"] == new_name


def test_update_partial_keeps_other_fields(api, register):
    me = register(avatar="https://cdn.example.com/a.png")
    r = api.patch(f"{USERS}{me.user['id']}", headers=auth_headers(me.access), json={"avatar": "https://cdn.example.com/b.png"})
    assert r.status_code == 200, r.text
    u = r.json()
    assert (u["username"], u["email"], u["avatar"]) == (me.user["username"], me.user["email"], "https://cdn.example.com/b.png")
    r = api.put(f"{USERS}{me.user['id']}", headers=auth_headers(me.access), json={})
    assert r.status_code == 200, r.text
    assert r.json()["avatar"] == "https://cdn.example.com/b.png"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_other_profile_forbidden(api, register, method):
    a, b = register(), register()
    r = api.request(method, f"{USERS}{b.user['id']}", headers=auth_headers(a.access), json={"avatar": "x"})
    assert_error(r, 403, "Can only update your own profile")
    r = api.get(f"{USERS}{b.user['id']}", headers=auth_headers(b.access))
    assert r.json()["avatar"] is None


def test_admin_updates_anyone(api, register, admin):
    b = register()
    new_name = uname("adm_")
    r = api.put(f"{USERS}{b.user['id']}", headers=auth_headers(admin.access),
                json={"username": new_name, "role": "admin"})
    assert r.status_code == 200, r.text
    assert r.json()["username"] == new_name
    assert r.json()["role"] == "member"
    assert r.json()["email"] == b.user["email"]
    r = api.get("/api/v1/auth/me", headers=auth_headers(b.access))
    assert r.json()["username"] == new_name


def test_admin_update_unknown_user(api, admin):
    r = api.put(f"{USERS}{uuid.uuid4()}", headers=auth_headers(admin.access), json={"avatar": "x"})
    assert_error(r, 404, "User not found")


def test_update_duplicates(api, register):
    a, b = register(), register()
    url = f"{USERS}{a.user['id']}"
    assert_error(api.put(url, headers=auth_headers(a.access), json={"username": b.user["username"].upper()}), 400)
    assert_error(api.patch(url, headers=auth_headers(a.access), json={"email": b.user["email"].upper()}), 400)
    r = api.get("/api/v1/users/me", headers=auth_headers(a.access))
    assert (r.json()["username"], r.json()["email"]) == (a.user["username"], a.user["email"])


def test_update_validation(api, user):
    url = f"{USERS}{user.user['id']}"
    assert_422(api.put(url, headers=auth_headers(user.access), json={"username": "bad name"}), ("body", "username"))
    assert_422(api.patch(url, headers=auth_headers(user.access), json={"email": "nope"}), ("body", "email"))


def test_update_requires_auth(api, user):
    assert_401_missing(api.put(f"{USERS}{user.user['id']}", json={"avatar": "x"}))


# ---------------------------------------------------------------------------------------------
# search


def search(api, token, q, via="path", **params):
    if via == "path":
        return api.get(f"/api/v1/users/search/{q}", params=params, headers=auth_headers(token))
    return api.get("/api/v1/users/search", params={"q": q, **params}, headers=auth_headers(token))


@pytest.mark.parametrize("via", ["path", "query"])
def test_search_substring_prefix_first(api, register, via):
    t = "q" + uuid.uuid4().hex[:7]
    T = t.upper()
    names = [f"B{t}x", f"{t}b", f"a{T}", f"{T}a"]
    regs = [register(username=n) for n in names]
    token = regs[0].access
    expected = [f"{T}a", f"{t}b", f"a{T}", f"B{t}x"]
    for q in (t, T, t[:5], T[:5]):  # "q" is no hex digit: only our users contain these
        r = search(api, token, q, via)
        assert r.status_code == 200, r.text
        assert_json(r)
        assert [u["username"] for u in r.json()] == expected, (q, r.text)
        for u in r.json():
            assert_visible_to(u, regs[0].user)
    r = search(api, token, t, via, limit=2)
    assert [u["username"] for u in r.json()] == expected[:2], r.text


def test_search_default_limit_20(api, user):
    t = "lim" + uuid.uuid4().hex[:6]
    for i in range(22):
        assert create_headless(api, f"{t}_{i:02d}").status_code == 201
    r = search(api, user.access, t)
    assert r.status_code == 200, r.text
    assert [u["username"] for u in r.json()] == [f"{t}_{i:02d}" for i in range(20)]
    r = search(api, user.access, t, via="query", limit=50)
    assert len(r.json()) == 22, r.text


@pytest.mark.parametrize("via", ["path", "query"])
def test_search_exact_email(api, register, via):
    local = "mail" + uuid.uuid4().hex[:8]
    target = register(username=uname("e_"), email=f"{local}@Example.com")
    seeker = register()
    for q in (f"{local}@example.com", f"{local.upper()}@EXAMPLE.COM"):
        r = search(api, seeker.access, q, via)
        assert r.status_code == 200, r.text
        assert [u["id"] for u in r.json()] == [target.user["id"]], r.text
        assert r.json()[0]["email"] == ""
    # a part of the address is no match: email matches only exactly
    r = search(api, seeker.access, f"{local}@example", via)
    assert r.status_code == 200 and r.json() == [], r.text


def test_search_like_wildcards_are_literal(api, user):
    r = search(api, user.access, "%", via="query")
    assert r.status_code == 200 and r.json() == [], r.text
    r = search(api, user.access, "%25", via="path")
    assert r.status_code == 200 and r.json() == [], r.text


@pytest.mark.parametrize("url", ["/api/v1/users/search?q=", "/api/v1/users/search", "/api/v1/users/search/"])
def test_search_empty_query(api, user, url):
    assert_422(api.get(url, headers=auth_headers(user.access)))


def test_search_requires_auth(api):
    assert_401_missing(api.get("/api/v1/users/search/abc"))
    assert_401_missing(api.get("/api/v1/users/search", params={"q": "abc"}))


def test_update_own_username_and_email_case(api, register):
    me = register(username=uname("case_"))
    url = f"{USERS}{me.user['id']}"
    r = api.put(url, headers=auth_headers(me.access), json={"username": me.user["username"].upper()})
    assert r.status_code == 200, r.text
    assert r.json()["username"] == me.user["username"].upper()
    local, domain = me.user["email"].split("@")
    r = api.patch(url, headers=auth_headers(me.access), json={"email": f"{local.upper()}@{domain}"})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == f"{local.upper()}@{domain}"
    r = api.put(url, headers=auth_headers(me.access), json={"username": me.user["username"].upper(),
                                                          "email": f"{local.upper()}@{domain}"})
    assert r.status_code == 200, r.text


def test_create_user_headless_ignores_role(api, db):
    name = uname("h_")
    r = api.post(USERS, json={"email": f"{name}@example.com", "username": name, "password": PASSWORD,
                              "role": "admin", "status": "banned"})
    assert r.status_code == 201, r.text
    assert (r.json()["role"], r.json()["status"]) == ("member", "active")


@pytest.mark.parametrize("q", ["o'brien", "back\\slash", "semi;colon--", "a b", "ünï"])
def test_search_odd_queries(api, user, q):
    r = search(api, user.access, q, via="query")
    assert r.status_code == 200 and r.json() == [], r.text


def test_search_nul_byte_is_not_a_server_error(api, register):
    """A query with a NUL matches no username (none can hold one): not cut at the NUL, never a 500."""
    t = "nul" + uuid.uuid4().hex[:8]
    user = register(username=t)
    r = api.get("/api/v1/users/search", params={"q": t + "\x00zz"}, headers=auth_headers(user.access))
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json() == []
    else:
        assert_422(r)


def test_moderator_sees_no_emails_and_cannot_update_others(api, register, db):
    mod, other = register(), register()
    db("UPDATE users SET role = 'moderator' WHERE id = :'p1'", mod.user["id"])
    h = auth_headers(mod.access)
    r = api.get(f"{USERS}{other.user['id']}", headers=h)
    assert r.status_code == 200 and r.json()["email"] == "", r.text
    r = api.get(USERS, params={"limit": 100}, headers=h)
    for u in r.json():
        assert_visible_to(u, mod.user)
    r = api.get("/api/v1/users/search", params={"q": other.user["username"]}, headers=h)
    assert [u["email"] for u in r.json()] == [""], r.text
    r = api.put(f"{USERS}{other.user['id']}", headers=h, json={"avatar": "x"})
    assert_error(r, 403, "Can only update your own profile")


def test_admin_sees_emails_in_search(api, register, admin):
    t = "adm" + uuid.uuid4().hex[:8]
    a = register(username=f"{t}_one")
    r = search(api, admin.access, t)
    assert r.status_code == 200, r.text
    assert [(u["id"], u["email"]) for u in r.json()] == [(a.user["id"], a.user["email"])]
