"""Hostile bytes in every input: path, query, form, JSON and headers (docs/api.md#conventions, #errors).

Text that is not UTF-8 is a 422 naming where it was; a raw control character inside a JSON string makes the body
malformed JSON (422 json_invalid), never a value cut at the NUL; nothing a client sends is ever a 500. The first
tests are the cases found by hand; the last sweeps every operation of /openapi.json with the same bytes in each
path segment, query parameter and body field.
"""
from __future__ import annotations

import json
import re
import socket
import uuid

import pytest

from conftest import PASSWORD, auth_headers, http_client, register_user, uname
from chat_helpers import api_fixture, create_channel, join, send  # noqa: F401 (api_fixture is `api`)

V = "/api/v1"
BAD_UTF8 = [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"ab\xe2\x82", b"\x80"]  # stray, overlong, surrogate, cut


def assert_422_at(r, loc, type_=None):
    assert r.status_code == 422, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert isinstance(body["detail"], str) and body["detail"], body
    locs = [tuple(e["loc"]) for e in body["errors"]]
    assert tuple(loc) in locs, f"{loc} not among {locs}: {body}"
    if type_:
        assert any(e["type"] == type_ for e in body["errors"] if tuple(e["loc"]) == tuple(loc)), body


def raw_json(api, method, path, body: bytes, token=None, headers=None):
    h = {"Content-Type": "application/json", **(headers or {})}
    if token:
        h.update(auth_headers(token))
    return api.request(method, path, content=body, headers=h)


# ------------------------------------------------------------------------------------------------
# the cases of the issue


@pytest.mark.parametrize("bad", ["%ff%fe", "%c0%af", "a%ed%a0%80b", "%e2%82"])
def test_search_with_bytes_that_are_not_utf8_is_a_422(api, user, bad):
    r = api.get(f"{V}/users/search?q={bad}", headers=auth_headers(user.access))
    assert_422_at(r, ("query", "q"), "string_unicode")
    r = api.get(f"{V}/users/search/{bad}", headers=auth_headers(user.access))
    assert_422_at(r, ("path", "query"), "string_unicode")


def test_a_raw_nul_in_a_json_string_is_malformed_json_and_nothing_is_stored(api, register, db):
    owner, bob = register(), register()
    ch = create_channel(api, owner)
    join(api, bob, ch["id"])
    body = b'{"channel_id": "' + ch["id"].encode() + b'", "content": "abc\x00 @' + \
        bob.user["username"].encode() + b' tail"}'
    r = raw_json(api, "POST", V + "/messages/", body, owner.access)
    assert_422_at(r, ("body",), "json_invalid")
    assert db("SELECT count(*) FROM messages WHERE conversation_id = :'p1'", ch["id"]) == [["0"]]
    name = uname("x")
    r = raw_json(api, "POST", V + "/auth/register",
                 b'{"email": "' + name.encode() + b'@example.com", "username": "' + name.encode() +
                 b'\x00<script>", "password": "' + PASSWORD.encode() + b'"}')
    assert_422_at(r, ("body",), "json_invalid")
    assert db("SELECT count(*) FROM users WHERE lower(email) = lower(:'p1')", f"{name}@example.com") == [["0"]]


@pytest.mark.parametrize("ctl", [b"\x01", b"\x07", b"\x1b", b"\x1f", b"\t", b"\n"])
def test_raw_control_characters_in_json_strings_are_malformed_json(api, user, ctl):
    r = raw_json(api, "PATCH", f"{V}/users/{user.user['id']}", b'{"avatar": "a' + ctl + b'b"}', user.access)
    assert_422_at(r, ("body",), "json_invalid")
    # escaped they are characters like any other
    r = raw_json(api, "PATCH", f"{V}/users/{user.user['id']}",
                 json.dumps({"avatar": "a" + ctl.decode() + "b"}).encode(), user.access)
    assert r.status_code == 200, r.text
    assert r.json()["avatar"] == "a" + ctl.decode() + "b"


def test_escaped_nul_is_refused_not_cut(api, user):
    r = raw_json(api, "PATCH", f"{V}/users/{user.user['id']}", b'{"avatar": "abc\\u0000tail"}', user.access)
    assert_422_at(r, ("body", "avatar"), "string_unicode")


@pytest.mark.parametrize("bad", BAD_UTF8)
def test_json_strings_that_are_not_utf8_are_a_422_naming_the_field(api, register, bad):
    owner = register()
    ch = create_channel(api, owner)
    cases = [
        ("POST", V + "/auth/register", None,
         {"email": b"x@example.com", "username": b"u" + bad + b"u", "password": PASSWORD.encode()}, "username"),
        ("POST", V + "/auth/login", None, {"username": b"u" + bad, "password": PASSWORD.encode()}, "username"),
        ("POST", V + "/messages/", owner.access, {"channel_id": ch["id"].encode(), "content": b"hi " + bad}, "content"),
        ("POST", V + "/channels/", owner.access, {"name": b"c" + bad}, "name"),
        ("PATCH", f"{V}/users/{owner.user['id']}", owner.access, {"avatar": bad}, "avatar"),
    ]
    for method, path, token, fields, field in cases:
        body = b"{" + b", ".join(b'"' + k.encode() + b'": "' + v + b'"' for k, v in fields.items()) + b"}"
        assert_422_at(raw_json(api, method, path, body, token), ("body", field), "string_unicode")


def test_form_fields_that_are_not_utf8_are_a_422(api):
    for path in (V + "/auth/login", V + "/auth/login/access-token"):
        r = api.post(path, content=b"username=%ff%fe&password=x",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert_422_at(r, ("body", "username"), "string_unicode")
        r = api.post(path, content=b"username=ab%00cd&password=x",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert_422_at(r, ("body", "username"))


def raw_request(stack, head: bytes, body: bytes = b"") -> tuple[int, dict]:
    """One HTTP/1.1 request with exactly these header bytes (clients refuse to send some of them)."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as s:
        s.sendall(head + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    text = data.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(text) if text.strip() else {}


@pytest.mark.parametrize("bad", BAD_UTF8 + [b"k\x01ey"])
def test_an_idempotency_key_that_is_not_text_is_a_422(stack, api, register, bad):
    owner = register()
    ch = create_channel(api, owner)
    body = json.dumps({"channel_id": ch["id"], "content": "keyed"}).encode()
    status, answer = raw_request(
        stack, b"POST /api/v1/messages/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + owner.access.encode() +
        b"\r\nContent-Type: application/json\r\nIdempotency-Key: " + bad + b"\r\n", body)
    assert status == 422, answer
    assert ["header", "idempotency-key"] in [e["loc"] for e in answer["errors"]], answer


def test_a_user_agent_that_is_not_text_never_refuses_a_login(stack, api, user):
    body = json.dumps({"username": user.user["username"], "password": PASSWORD}).encode()
    for agent in (b"curl \xff\xfe", b"x" * 511 + "é".encode(), "é".encode() * 600):
        status, answer = raw_request(
            stack, b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nUser-Agent: " +
            agent + b"\r\n", body)
        assert status == 200, (agent[:20], answer)


# ------------------------------------------------------------------------------------------------
# every operation, every input


HOSTILE_SEGMENTS = ["%ff%fe", "%00", "%c0%af", "a%ed%a0%80", "x" * 3000, "%27%20OR%201%3D1%20--", "..%2F..%2Fetc",
                    "%e2%80%ae", "%0d%0aX-Injected:%201"]
HOSTILE_JSON_VALUES = [
    b'"\xff\xfe"', b'"a\x00b"', b'"\\u0000"', b'"\\ud800"', b'"' + b"x" * 100_000 + b'"', b"1e999", b"-0",
    b"123456789012345678901234567890", b"[]", b"{}", b"true", b"null", b'"\x01"', b"[" * 2000 + b"]" * 2000,
]


@pytest.fixture(scope="module")
def world(api, stack, admin):
    """Real objects for every path parameter, so hostile values in one place meet real ones elsewhere."""
    owner, member = register_user(api), register_user(api)
    ch = create_channel(api, owner)
    join(api, member, ch["id"])
    msg = send(api, owner, ch["id"], "hello world")
    reaction = api.post(V + "/messages/reactions", json={"message_id": msg["id"], "emoji": "ok"},
                        headers=auth_headers(member.access)).json()["reaction"]
    conv = api.post(V + "/conversations/", json={"participant_ids": [member.user["id"]]},
                    headers=auth_headers(owner.access)).json()
    spec = api.get("/openapi.json").json()
    values = {"user_id": member.user["id"], "channel_id": ch["id"], "message_id": msg["id"],
              "reaction_id": reaction["id"], "query": "hello"}
    by_prefix = {"/users/": member.user["id"], "/channels/": ch["id"], "/messages/": msg["id"],
                 "/conversations/": conv["id"], "/admin/users/": member.user["id"]}
    return {"owner": owner, "admin": admin, "spec": spec, "values": values, "by_prefix": by_prefix}


def token_for(path: str, world) -> str:
    """The admin's token for /admin routes (so that their validation is reached), the owner's elsewhere."""
    return world["admin"].access if path.startswith(V + "/admin") else world["owner"].access


def fill(template: str, world, override: dict | None = None) -> str:
    out = template
    for name in re.findall(r"\{(\w+)\}", template):
        if override and name in override:
            v = override[name]
        elif name == "id":
            v = next(val for pre, val in world["by_prefix"].items() if template.startswith(V + pre))
        else:
            v = world["values"][name]
        out = out.replace("{" + name + "}", v)
    return out


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method.upper(), op


def body_fields(spec, op) -> list[str]:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return []
    schema = content["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties", {}))


class Problems(list):
    checked = 0


def check_answer(r, where, problems):
    problems.checked += 1
    if r.status_code >= 500:
        problems.append(f"{where}: {r.status_code} {r.text[:120]}")
        return
    try:
        body = r.json() if r.content else {}
    except ValueError:
        problems.append(f"{where}: {r.status_code} not JSON: {r.text[:120]!r}")
        return
    if r.status_code >= 400 and not isinstance(body.get("detail"), str):
        problems.append(f"{where}: {r.status_code} without a string detail: {r.text[:120]}")


def test_every_operation_survives_hostile_path_and_query_bytes(api, world):
    spec = world["spec"]
    problems = Problems()
    with http_client(api.base_url) as client:
        for path, method, op in operations(spec):
            token = token_for(path, world)
            if path in ("/metrics", "/api/v1/auth/logout"):
                continue  # logout would end the session the sweep uses
            names = re.findall(r"\{(\w+)\}", path)
            queries = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            for bad in HOSTILE_SEGMENTS:
                for name in names:
                    url = fill(path, world, {name: bad})
                    check_answer(client.request(method, url, headers=auth_headers(token)), f"{method} {url[:80]}",
                                 problems)
                for q in queries:
                    url = fill(path, world) + f"?{q}={bad}"
                    check_answer(client.request(method, url, headers=auth_headers(token)), f"{method} {url[:80]}",
                                 problems)
    assert problems.checked > 400, problems.checked  # the sweep reached every operation
    assert not problems, "\n".join(problems[:30])


def test_every_operation_survives_hostile_json_bodies(api, world):
    spec = world["spec"]
    problems = Problems()
    with http_client(api.base_url) as client:
        for path, method, op in operations(spec):
            token = token_for(path, world)
            fields = body_fields(spec, op)
            if not fields or path in ("/api/v1/auth/logout", "/api/v1/auth/password"):
                continue
            url = fill(path, world)
            for field in fields:
                for bad in HOSTILE_JSON_VALUES:
                    body = b'{"' + field.encode() + b'": ' + bad + b"}"
                    r = client.request(method, url, content=body,
                                       headers={**auth_headers(token), "Content-Type": "application/json"})
                    check_answer(r, f"{method} {path} {field}={bad[:20]!r}", problems)
                    if r.status_code in (200, 201) and (b"\x00" in bad or b"\xff" in bad or b"\\u0000" in bad):
                        problems.append(f"{method} {path} {field}={bad[:20]!r}: accepted ({r.status_code})")
    assert problems.checked > 500, problems.checked
    assert not problems, "\n".join(problems[:30])
