"""§3 POST /auth/register: shape, duplicates, validation, first user admin."""
import json
import random
import string
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (
    AUTH_FIELDS, PASSWORD, assert_422, assert_error, assert_json, assert_user,
    auth_headers, jwt_parts, uname,
)

REGISTER = "/api/v1/auth/register"


def test_register_returns_auth_response(api, stack):
    name = uname()
    r = api.post(REGISTER, json={"email": f"{name}@example.com", "username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert_json(r)
    d = r.json()
    assert AUTH_FIELDS <= set(d), d
    assert d["token_type"] == "bearer"
    assert d["expires_in"] == stack.access_minutes * 60, d
    assert isinstance(d["refresh_token"], str) and len(d["refresh_token"]) >= 20, d
    assert d["refresh_token"] != d["access_token"]
    header, claims = jwt_parts(d["access_token"])
    assert header["alg"] == "HS256", header
    assert {"sub", "exp", "iat", "jti", "sid"} <= set(claims), claims
    assert claims["sub"] == d["user"]["id"]
    assert claims["exp"] - claims["iat"] == stack.access_minutes * 60, claims
    u = d["user"]
    assert_user(u, email_visible=True)
    assert u["username"] == name
    assert u["email"] == f"{name}@example.com"
    assert u["avatar"] is None
    assert u["role"] == "member"
    assert u["status"] == "active" and u["is_active"] is True
    assert "$argon2" not in r.text and PASSWORD not in r.text
    me = api.get("/api/v1/auth/me", headers=auth_headers(d["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == u["id"], me.text


def test_register_with_avatar(register):
    u, _, _ = register(avatar="https://cdn.example.com/a.png")
    assert u["avatar"] == "https://cdn.example.com/a.png"


def test_password_stored_as_argon2id_phc(register, db):
    u, _, _ = register()
    rows = db("SELECT hashed_password FROM users WHERE id = :'p1'", u["id"])
    assert len(rows) == 1
    h = rows[0][0]
    assert h.startswith("$argon2id$v=19$m="), h
    assert ",t=" in h and ",p=" in h and PASSWORD not in h


def test_first_registered_user_is_admin(stack, db):
    oldest = db("SELECT id, role FROM users ORDER BY created_at, id LIMIT 1")
    assert oldest[0][1] == "admin", oldest
    if stack.fresh:
        assert stack.admin.user["role"] == "admin", stack.admin.user
        assert oldest[0][0] == stack.admin.user["id"]


def test_second_user_is_member(register):
    assert register().user["role"] == "member"


def test_duplicate_username_case_insensitive(api, register):
    name = uname("Dup_")
    register(username=name)
    for variant in (name, name.upper(), name.lower()):
        r = api.post(REGISTER, json={"email": f"{uname()}@example.com", "username": variant, "password": PASSWORD})
        assert_error(r, 400, "Username already taken")


def test_duplicate_email_case_insensitive(api, register):
    local = uname("Mail_")
    register(email=f"{local}@Example.COM")
    for variant in (f"{local}@example.com", f"{local.lower()}@EXAMPLE.com", f"{local.upper()}@example.com"):
        r = api.post(REGISTER, json={"email": variant, "username": uname(), "password": PASSWORD})
        assert_error(r, 400, "Email already registered")


def test_email_domain_lowercased(register, db):
    local = uname("Case_")
    u, _, _ = register(email=f"{local}@MiXeD.Example.ORG")
    assert u["email"] == f"{local}@mixed.example.org", u
    rows = db("SELECT email FROM users WHERE id = :'p1'", u["id"])
    assert rows == [[f"{local}@mixed.example.org"]]


def test_username_allowed_characters_and_lengths(api, register):
    register(username=f"a.b-c_D{uname('')[:6]}")
    for _ in range(10):  # 3-character names are few: retry on a collision
        name = "x" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(2))
        r = api.post(REGISTER, json={"email": f"{uname()}@example.com", "username": name, "password": PASSWORD})
        if r.status_code != 400:
            break
    assert r.status_code == 201, r.text
    register(username=(uname("L") * 4)[:32])
    register(password="p" * 8)
    register(password="p" * 256)


@pytest.mark.parametrize(
    "field, value",
    [
        ("password", "short7!"),
        ("password", "p" * 257),
        ("username", "bad name"),
        ("username", "bad!name"),
        ("username", "ab"),
        ("username", "x" * 33),
        ("email", "not-an-email"),
        ("email", "a@"),
        ("email", ""),
        ("username", 12345),
    ],
)
def test_register_validation(api, field, value):
    name = uname()
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    body[field] = value
    r = api.post(REGISTER, json=body)
    assert_422(r, ("body", field))


def test_register_missing_fields_each_listed(api):
    r = api.post(REGISTER, json={})
    body = assert_422(r, ("body", "email"), ("body", "username"), ("body", "password"))
    assert len(body["errors"]) == 3, body


def test_register_two_problems_both_listed(api):
    r = api.post(REGISTER, json={"email": "nope", "username": uname(), "password": "short"})
    body = assert_422(r, ("body", "email"), ("body", "password"))
    assert len(body["errors"]) == 2, body


def test_register_malformed_json(api):
    r = api.post(REGISTER, content=b'{"email": "x@example.com", "username": ', headers={"Content-Type": "application/json"})
    body = assert_422(r)
    assert "json_invalid" in [e["type"] for e in body["errors"]], body


def test_register_body_not_an_object(api):
    r = api.post(REGISTER, content=json.dumps(["a", "b"]), headers={"Content-Type": "application/json"})
    assert_422(r)


def test_register_without_body(api):
    r = api.post(REGISTER, headers={"Content-Type": "application/json"})
    assert_422(r)


DEFAULT_CHANNELS = ["announcements", "general", "random"]


def member_channels(db, user_id):
    rows = db(
        "SELECT c.name FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id "
        "WHERE m.user_id = :'p1' AND c.kind = 'channel' ORDER BY c.name", user_id)
    return [r[0] for r in rows]


def test_default_channels_exist_and_first_user_is_in_them(stack, admin, db):
    rows = db("SELECT name, is_private FROM conversations WHERE kind = 'channel' AND name IN "
              "('general', 'random', 'announcements') ORDER BY name")
    assert rows == [[n, "f"] for n in DEFAULT_CHANNELS], rows
    if stack.fresh:  # on a stack this session did not start, our admin was promoted, not registered first
        assert set(DEFAULT_CHANNELS) <= set(member_channels(db, admin.user["id"]))


def test_later_user_joins_general_only(register, db):
    u, _, _ = register()
    assert member_channels(db, u["id"]) == ["general"]


def test_register_ignores_role_and_status(api, db):
    name = uname()
    r = api.post(REGISTER, json={"email": f"{name}@example.com", "username": name, "password": PASSWORD,
                                 "role": "admin", "status": "banned", "is_active": False})
    assert r.status_code == 201, r.text
    u = r.json()["user"]
    assert (u["role"], u["status"], u["is_active"]) == ("member", "active", True), u
    assert db("SELECT role, status FROM users WHERE id = :'p1'", u["id"]) == [["member", "active"]]


@pytest.mark.parametrize("password, ok", [
    ("пароль12", True),          # 8 characters, 14 bytes
    ("пароль1", False),          # 7 characters, 13 bytes: characters count, not bytes
    ("é" * 256, True),
    ("é" * 257, False),
])
def test_password_length_counts_characters(api, login, password, ok):
    name = uname()
    r = api.post(REGISTER, json={"email": f"{name}@example.com", "username": name, "password": password})
    if ok:
        assert r.status_code == 201, r.text
        login(name, password)
    else:
        assert_422(r, ("body", "password"))


def test_password_unicode_escapes_and_raw_utf8_agree(api, login):
    """The JSON decoder turns \\u00e9 and raw UTF-8 into the same password."""
    name = uname()
    pw = "mot-de-passé-€-😀"
    body = json.dumps({"email": f"{name}@example.com", "username": name, "password": pw}, ensure_ascii=True)
    assert "\\u00e9" in body and "\\ud83d" in body
    r = api.post(REGISTER, content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    raw = json.dumps({"username": name, "password": pw}, ensure_ascii=False).encode()
    r = api.post("/api/v1/auth/login", content=raw, headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("email", ["a b@example.com", "@example.com", "user@@example.com", "user@exa mple.com"])
def test_register_bad_emails(api, email):
    r = api.post(REGISTER, json={"email": email, "username": uname(), "password": PASSWORD})
    assert_422(r, ("body", "email"))


@pytest.mark.parametrize("content", [
    b'{"email": "a@example.com", "username": "abc", "password": "12345678"} trailing',
    b'{"email": "a@example.com", "username": "abc", "password": "12345678",}',
    b"{'email': 'a@example.com'}",
])
def test_register_more_malformed_json(api, content):
    r = api.post(REGISTER, content=content, headers={"Content-Type": "application/json"})
    body = assert_422(r)
    assert "json_invalid" in [e["type"] for e in body["errors"]], body


def test_register_invalid_utf8(api):
    content = b'{"email": "x@example.com", "username": "ab\xff\xfecd", "password": "12345678"}'
    r = api.post(REGISTER, content=content, headers={"Content-Type": "application/json"})
    assert_422(r)


def test_register_nul_in_username(api):
    r = api.post(REGISTER, json={"email": f"{uname()}@example.com", "username": "ab\u0000cd", "password": PASSWORD})
    assert_422(r, ("body", "username"))


def _race(api, bodies):
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda b: api.post(REGISTER, json=b), bodies))


def test_concurrent_duplicate_username(api):
    name = uname("race_")
    rs = _race(api, [{"email": f"{uname()}@example.com", "username": name, "password": PASSWORD} for _ in range(6)])
    statuses = sorted(r.status_code for r in rs)
    assert statuses == [201] + [400] * 5, [(r.status_code, r.text) for r in rs]
    for r in rs:
        if r.status_code == 400:
            assert r.json() == {"detail": "Username already taken"}


def test_concurrent_duplicate_email(api):
    email = f"{uname('race_')}@example.com"
    rs = _race(api, [{"email": email, "username": uname(), "password": PASSWORD} for _ in range(6)])
    statuses = sorted(r.status_code for r in rs)
    assert statuses == [201] + [400] * 5, [(r.status_code, r.text) for r in rs]
    for r in rs:
        if r.status_code == 400:
            assert r.json() == {"detail": "Email already registered"}


@pytest.mark.parametrize("content", [
    b"[" * 100000 + b"]" * 100000,
    b'{"a":' * 100000 + b"1" + b"}" * 100000,
])
def test_deeply_nested_json_is_a_422_not_a_crash(api, content):
    r = api.post(REGISTER, content=content, headers={"Content-Type": "application/json"})
    assert_422(r)
    assert api.get("/health").status_code == 200
