"""§3 POST /auth/login and /auth/login/access-token, inactive users, foreign Argon2 hashes."""
import json
from urllib.parse import quote_plus

import argon2
import pytest

from conftest import (
    AUTH_FIELDS, PASSWORD, assert_422, assert_error, assert_json, assert_user, auth_headers,
    jwt_payload, login_json, uname,
)

LOGIN = "/api/v1/auth/login"
ACCESS_TOKEN = "/api/v1/auth/login/access-token"


def check_auth_response(r, user_id):
    assert r.status_code == 200, r.text
    assert_json(r)
    d = r.json()
    assert AUTH_FIELDS <= set(d), d
    assert d["token_type"] == "bearer"
    claims = jwt_payload(d["access_token"])
    assert d["expires_in"] == claims["exp"] - claims["iat"], (d["expires_in"], claims)
    assert isinstance(d["refresh_token"], str) and d["refresh_token"] != d["access_token"]
    assert d["user"]["id"] == user_id
    assert_user(d["user"], email_visible=True)
    return d


def test_login_json_with_username(api, user):
    d = check_auth_response(login_json(api, user.user["username"]), user.user["id"])
    me = api.get("/api/v1/auth/me", headers=auth_headers(d["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user.user["id"], me.text


def test_login_json_with_email(api, user):
    check_auth_response(login_json(api, user.user["email"]), user.user["id"])


def test_login_email_case_insensitive(api, user):
    check_auth_response(login_json(api, user.user["email"].upper()), user.user["id"])


def test_login_form(api, user):
    r = api.post(LOGIN, data={"username": user.user["username"], "password": PASSWORD})
    check_auth_response(r, user.user["id"])
    r = api.post(LOGIN, data={"username": user.user["email"], "password": PASSWORD, "grant_type": "password"})
    check_auth_response(r, user.user["id"])


def test_login_each_gives_a_new_session(api, user):
    a = login_json(api, user.user["username"]).json()
    b = login_json(api, user.user["username"]).json()
    pa, pb = jwt_payload(a["access_token"]), jwt_payload(b["access_token"])
    assert pa["sid"] != pb["sid"] and pa["jti"] != pb["jti"], (pa, pb)
    assert a["refresh_token"] != b["refresh_token"]


def test_login_wrong_password(api, user):
    assert_error(login_json(api, user.user["username"], "wrong-password-1"), 401, "Incorrect username or password")
    r = api.post(LOGIN, data={"username": user.user["email"], "password": "wrong-password-1"})
    assert_error(r, 401, "Incorrect username or password")


def test_login_unknown_user(api):
    assert_error(login_json(api, uname("ghost_")), 401, "Incorrect username or password")


def test_login_validation(api):
    assert_422(api.post(LOGIN, json={"username": uname()}), ("body", "password"))
    assert_422(api.post(LOGIN, json={}), ("body", "username"), ("body", "password"))
    r = api.post(LOGIN, content=b'{"username": "x", ', headers={"Content-Type": "application/json"})
    assert "json_invalid" in [e["type"] for e in assert_422(r)["errors"]]


def test_access_token_form_with_email(api, user):
    r = api.post(ACCESS_TOKEN, data={"username": user.user["email"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert_json(r)
    d = r.json()
    assert d["token_type"] == "bearer"
    assert isinstance(d["access_token"], str)
    me = api.get("/api/v1/users/me", headers=auth_headers(d["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user.user["id"], me.text


def test_access_token_form_with_username_and_grant_type(api, user):
    r = api.post(ACCESS_TOKEN, data={"username": user.user["username"], "password": PASSWORD, "grant_type": "password"})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"


def test_access_token_wrong_password(api, user):
    r = api.post(ACCESS_TOKEN, data={"username": user.user["email"], "password": "wrong-password-1"})
    assert_error(r, 400, "Incorrect email or password")
    r = api.post(ACCESS_TOKEN, data={"username": f"{uname('nobody_')}@example.com", "password": PASSWORD})
    assert_error(r, 400, "Incorrect email or password")


def test_access_token_validation(api):
    assert_422(api.post(ACCESS_TOKEN, data={"username": "someone@example.com"}), ("body", "password"))


@pytest.mark.parametrize("status", ["banned", "suspended"])
def test_inactive_user(api, user, db, status):
    db("UPDATE users SET status = :'p2' WHERE id = :'p1'", user.user["id"], status)
    try:
        assert_error(login_json(api, user.user["username"]), 403, "Inactive user")
        r = api.post(LOGIN, data={"username": user.user["email"], "password": PASSWORD})
        assert_error(r, 403, "Inactive user")
        r = api.post(ACCESS_TOKEN, data={"username": user.user["email"], "password": PASSWORD})
        assert_error(r, 400, "Inactive user")
        # the wrong password is still just a wrong password
        assert_error(login_json(api, user.user["username"], "wrong-password-1"), 401, "Incorrect username or password")
        # an existing token is refused while the ban lasts
        assert_error(api.get("/api/v1/auth/me", headers=auth_headers(user.access)), 403, "Inactive user")
        assert_error(api.get("/api/v1/users/me", headers=auth_headers(user.access)), 403, "Inactive user")
    finally:
        db("UPDATE users SET status = 'active' WHERE id = :'p1'", user.user["id"])
    # a ban does not revoke sessions: the same token works again once lifted
    r = api.get("/api/v1/auth/me", headers=auth_headers(user.access))
    assert r.status_code == 200, r.text
    assert login_json(api, user.user["username"]).status_code == 200


@pytest.mark.parametrize(
    "kind", [argon2.Type.ID, argon2.Type.I, argon2.Type.D], ids=["argon2id", "argon2i", "argon2d"]
)
def test_login_with_foreign_argon2_hash(api, db, kind):
    """A hash made by another implementation (argon2-cffi, other parameters) keeps working."""
    name = uname("ext_")
    pw = "imported-" + uname("")
    hashed = argon2.PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, type=kind).hash(pw)
    prefix = {argon2.Type.ID: "$argon2id$", argon2.Type.I: "$argon2i$", argon2.Type.D: "$argon2d$"}[kind]
    assert hashed.startswith(prefix + "v=19$m=65536,t=3,p=4$"), hashed
    rows = db(
        "INSERT INTO users (username, email, hashed_password) VALUES (:'p1', :'p2', :'p3') RETURNING id",
        name, f"{name}@example.com", hashed,
    )
    uid = rows[0][0]
    r = login_json(api, name, pw)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == uid
    assert_user(r.json()["user"], email_visible=True)
    assert_error(login_json(api, name, pw + "x"), 401, "Incorrect username or password")
    r = api.post(ACCESS_TOKEN, data={"username": f"{name}@example.com", "password": pw})
    assert r.status_code == 200, r.text


def test_login_form_decoding(api, register):
    """Form fields are URL-decoded: '+' is a space, %XX an octet of UTF-8."""
    pw = "p@ss w0rd&=+%é/?"
    u, _, _ = register(password=pw)
    r = api.post(LOGIN, data={"username": u["username"], "password": pw})
    check_auth_response(r, u["id"])
    r = api.post(ACCESS_TOKEN, data={"username": u["email"], "password": pw})
    assert r.status_code == 200, r.text
    body = "username=" + quote_plus(u["username"]) + "&password=" + quote_plus(pw)
    r = api.post(LOGIN, content=body.encode(),
                 headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
    check_auth_response(r, u["id"])


def test_login_json_with_charset(api, user):
    r = api.post(LOGIN, content=json.dumps({"username": user.user["username"], "password": PASSWORD}).encode(),
                 headers={"Content-Type": "application/json; charset=utf-8"})
    check_auth_response(r, user.user["id"])


@pytest.mark.parametrize("status", ["banned", "suspended"])
def test_inactive_user_cannot_refresh_until_lifted(api, user, db, status):
    db("UPDATE users SET status = :'p2' WHERE id = :'p1'", user.user["id"], status)
    try:
        r = api.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh})
        assert r.status_code in (401, 403), r.text
        if r.status_code == 403:
            assert r.json() == {"detail": "Inactive user"}
    finally:
        db("UPDATE users SET status = 'active' WHERE id = :'p1'", user.user["id"])
    # a ban does not revoke sessions: once lifted, the session refreshes as before
    r = api.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh})
    assert r.status_code == 200, r.text


def test_password_with_nul_is_not_cut_at_the_nul(api):
    """A NUL inside a password is either refused (422) or part of it: never an end of string."""
    name = uname()
    pw = "abcdefgh\x00tail-secret"
    r = api.post("/api/v1/auth/register", json={"email": f"{name}@example.com", "username": name, "password": pw})
    if r.status_code == 422:
        assert_422(r, ("body", "password"))
        return
    assert r.status_code == 201, r.text
    assert login_json(api, name, pw).status_code == 200
    for wrong in ("abcdefgh", "abcdefgh\x00other-tail"):
        assert_error(login_json(api, name, wrong), 401, "Incorrect username or password")
        r = api.post(ACCESS_TOKEN, data={"username": f"{name}@example.com", "password": wrong})
        assert_error(r, 400, "Incorrect email or password")


def test_login_username_with_nul_is_not_cut(api, user):
    r = login_json(api, user.user["username"] + "\x00zz")
    assert r.status_code in (401, 422), r.text
    if r.status_code == 401:
        assert r.json() == {"detail": "Incorrect username or password"}
    r = api.post(ACCESS_TOKEN, data={"username": user.user["email"] + "\x00zz", "password": PASSWORD})
    assert r.status_code in (400, 422), r.text
