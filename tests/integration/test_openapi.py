"""§8: /openapi.json, /docs and /redoc, and the document kept true.

The document (docs/openapi.json, served by nginx) is checked three ways:
  * against the handlers' route tables (every `{"METHOD", "/path", fn}` row documented, nothing more);
  * for its own structure (OpenAPI 3.1, every $ref resolves, ids are uuids, timestamps date-times, ...);
  * against real answers of the stack: each body is validated against the schema the document gives for
    that path, method and status, with the small JSON-schema validator below (no third-party package).
A real answer that does not match is a failure listing every mismatch of the scenario.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid as uuidlib

import pytest

from conftest import PASSWORD, REPO, auth_headers, uname
from openapi_schema import Checker, resolve, validate

DOC_FILE = REPO / "docs" / "openapi.json"
GENERATOR = REPO / "docs" / "gen_openapi.py"
ROUTE_RE = re.compile(r'\{\s*"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)"\s*,\s*"(/[^"]*)"\s*,\s*[A-Za-z_][\w:]*\s*\}')
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
V = "/api/v1"

# Routes that need no token (docs/api.md#authentication); every other documented operation requires bearerAuth.
PUBLIC = {
    ("POST", V + "/auth/register"), ("POST", V + "/auth/login"), ("POST", V + "/auth/login/access-token"),
    ("POST", V + "/auth/refresh"), ("POST", V + "/users"), ("GET", "/health"), ("GET", "/"), ("GET", "/metrics"),
}
SEND_ROUTES = {("POST", V + "/messages"), ("POST", V + "/conversations/{id}/messages")}
LOGIN_ROUTES = {("POST", V + "/auth/login"), ("POST", V + "/auth/login/access-token")}
REQUIRED_SCHEMAS = {
    "User", "AuthResponse", "Channel", "ChannelWithMembers", "Conversation", "ConversationWithParticipants",
    "Message", "Reaction", "MessagePage", "Error", "ValidationError",
}


def route_table() -> set[tuple[str, str]]:
    """(METHOD, /path/{param}) of every route-table row of handlers/*.cpp."""
    routes = set()
    files = sorted((REPO / "handlers").glob("*.cpp"))
    assert files, "no handlers/*.cpp"
    for f in files:
        for method, pattern in ROUTE_RE.findall(f.read_text()):
            path = re.sub(r":(\w+)", r"{\1}", pattern)
            if len(path) > 1:
                path = path.rstrip("/")
            routes.add((method, path))
    assert routes, "no route-table rows found in handlers/*.cpp"
    return routes


def documented(spec: dict) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS}


# ------------------------------------------------------------------------------------------------
# the validator (openapi_schema.py)


def test_validator_itself():
    root = {"components": {"schemas": {
        "T": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"},
                                               "at": {"type": ["string", "null"], "format": "date-time"},
                                               "n": {"type": "integer", "minimum": 1},
                                               "k": {"type": "string", "enum": ["a", "b"]},
                                               "xs": {"type": "array", "items": {"type": "boolean"}}},
              "required": ["id", "at"]}}}}
    ref = {"$ref": "#/components/schemas/T"}
    good = {"id": str(uuidlib.uuid4()), "at": "2026-11-21T22:23:17.371927Z", "n": 2, "k": "a", "xs": [True],
            "extra": 1}
    assert validate(good, ref, root) == []
    assert validate({**good, "at": None}, ref, root) == []
    bad = {"id": str(uuidlib.uuid4()).upper(), "at": "2026-11-21T22:23:17Z", "n": True, "k": "c", "xs": [1]}
    errs = validate(bad, ref, root)
    assert len(errs) == 5, errs
    assert validate({"at": None}, ref, root) == ["$: required field 'id' is missing"]
    assert validate(None, {"anyOf": [ref, {"type": "null"}]}, root) == []
    assert validate(3, {"anyOf": [ref, {"type": "null"}]}, root)


# ------------------------------------------------------------------------------------------------
# the document


@pytest.fixture(scope="module")
def spec(api) -> dict:
    r = api.get("/openapi.json")
    assert r.status_code == 200, f"GET /openapi.json: {r.status_code} {r.text[:300]}"
    assert r.headers.get("content-type", "").split(";")[0].strip() == "application/json", r.headers
    try:
        doc = r.json()
    except ValueError as e:
        pytest.fail(f"/openapi.json is not JSON: {e}")
    assert isinstance(doc, dict), type(doc)
    return doc


def iter_operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method.upper(), op


def walk_refs(node, root, where="#"):
    if isinstance(node, dict):
        if "$ref" in node:
            resolve(root, node["$ref"])
        for k, v in node.items():
            walk_refs(v, root, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(v, root, f"{where}/{i}")


def test_document_served_and_version(spec):
    assert re.fullmatch(r"3\.1\.\d+", str(spec.get("openapi"))), spec.get("openapi")
    assert spec["info"]["title"] and spec["info"]["version"], spec["info"]
    assert "trailing slash" in spec["info"]["description"].lower(), "info.description must say a trailing slash is optional"
    assert spec == json.loads(DOC_FILE.read_text()), "nginx does not serve docs/openapi.json of this repository"


def test_document_matches_route_tables(spec):
    routes = route_table()
    docs = documented(spec)
    assert not (routes - docs), f"routes of the handlers not in /openapi.json: {sorted(routes - docs)}"
    assert not (docs - routes), f"documented routes no handler has: {sorted(docs - routes)}"
    for path in spec["paths"]:
        assert path == "/" or not path.endswith("/"), f"documented with a trailing slash: {path}"


def test_generator_output_is_committed():
    r = subprocess.run([sys.executable, str(GENERATOR), "--check"], cwd=REPO, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, f"docs/openapi.json is not what docs/gen_openapi.py writes: {r.stdout}{r.stderr}"


def test_document_structure(spec):
    comps = spec["components"]
    walk_refs(spec, spec)
    assert REQUIRED_SCHEMAS <= set(comps["schemas"]), REQUIRED_SCHEMAS - set(comps["schemas"])
    bearer = comps["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"].lower(), bearer.get("bearerFormat")) == ("http", "bearer", "JWT"), bearer
    # Swagger UI's Authorize: the password flow posts username and password as a form to the tokenUrl
    oauth2 = comps["securitySchemes"]["oauth2Password"]
    assert oauth2["type"] == "oauth2" and list(oauth2["flows"]) == ["password"], oauth2
    token_url = oauth2["flows"]["password"]["tokenUrl"]
    assert token_url == V + "/auth/login/access-token", oauth2
    form = spec["paths"][token_url]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    form = resolve(spec, form["schema"]["$ref"])
    assert {"username", "password"} <= set(form["required"]), form

    err = resolve(spec, "#/components/schemas/Error")
    assert err["required"] == ["detail"] and err["properties"]["detail"]["type"] == "string", err
    ve = resolve(spec, "#/components/schemas/ValidationError")
    assert set(ve["required"]) == {"detail", "errors"} and ve["properties"]["detail"]["type"] == "string", ve
    assert set(ve["properties"]["errors"]["items"]["required"]) == {"loc", "msg", "type"}, ve
    page = resolve(spec, "#/components/schemas/MessagePage")
    assert set(page["required"]) == {"items", "next_cursor"}, page

    # ids are uuids, *_at are date-times, nullable fields are JSON-schema type lists
    def check_props(schema, name):
        for s in [schema] + schema.get("allOf", []):
            for prop, ps in s.get("properties", {}).items():
                if "$ref" in ps:
                    continue
                target = ps.get("items", {}) if prop.endswith("_ids") or prop == "mentions" else ps
                if (prop == "id" or prop.endswith("_id") or prop.endswith("_ids") or prop == "mentions") \
                        and prop not in ("client_msg_id", "event_id", "last_event_id") \
                        and ps.get("type") != "integer":  # stream ids; the audit log's sequence
                    assert target.get("format") == "uuid", f"{name}.{prop} is not format uuid: {ps}"
                if prop.endswith("_at"):
                    assert ps.get("format") == "date-time", f"{name}.{prop} is not format date-time: {ps}"
                assert "nullable" not in ps, f"{name}.{prop}: OpenAPI 3.0 `nullable`; use a type list"

    for name, schema in comps["schemas"].items():
        check_props(schema, name)
        assert schema.get("additionalProperties", True) is not False, f"{name} closes additionalProperties"

    op_ids = set()
    for path, method, op in iter_operations(spec):
        where = f"{method} {path}"
        assert op.get("operationId") and op["operationId"] not in op_ids, where
        op_ids.add(op["operationId"])
        responses = op.get("responses") or {}
        assert any(s.startswith("2") for s in responses), f"{where}: no success answer"
        params = op.get("parameters", []) + spec["paths"][path].get("parameters", [])
        for name in re.findall(r"\{(\w+)\}", path):
            assert any(p["in"] == "path" and p["name"] == name and p.get("required") for p in params), \
                f"{where}: path parameter {name} not declared"
            assert "404" in responses, f"{where}: a path id has no 404"
        for p in params:
            if p["in"] == "query" and p["schema"].get("type") == "integer" and p["name"] in ("limit",):
                assert "minimum" in p["schema"] and "maximum" in p["schema"] and "default" in p["schema"], \
                    f"{where}: limit without range/default: {p}"
        if (method, path) in PUBLIC:
            assert op.get("security") == [], f"{where} needs no token"
        else:
            assert op.get("security") == [{"bearerAuth": []}, {"oauth2Password": []}], \
                f"{where} needs the bearer token (bearerAuth, or oauth2Password's)"
            assert "401" in responses and "403" in responses, f"{where}: no 401/403"
        if "requestBody" in op:
            assert "application/json" in op["requestBody"]["content"], where
            assert "422" in responses and "413" in responses, f"{where}: no 422/413"
        if (method, path) in SEND_ROUTES:
            assert any(p["in"] == "header" and p["name"].lower() == "idempotency-key" for p in params), \
                f"{where}: no Idempotency-Key header"
            assert {"201", "200", "409", "429"} <= set(responses), f"{where}: {sorted(responses)}"
        if (method, path) in LOGIN_ROUTES:
            assert "application/x-www-form-urlencoded" in op["requestBody"]["content"], where
        for status, resp in responses.items():
            resp = resolve(spec, resp["$ref"]) if "$ref" in resp else resp
            assert resp.get("description"), f"{where} {status}: no description"
            if status == "204":
                assert not resp.get("content"), f"{where}: 204 with a body"
            elif path != "/metrics":
                assert "application/json" in resp.get("content", {}), f"{where} {status}: not JSON"
    if ("GET", "/metrics") in documented(spec):
        assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_docs_pages(api):
    """The pages and every file they name are this server's (the build's www/), under a CSP of 'self'; the
    versioned assets are cached for good, the rest revalidated. test_docs_browser.py renders them."""
    for path, marker in (("/docs", "swagger-ui"), ("/redoc", "redoc")):
        r = api.get(path)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:200]}"
        assert r.headers.get("content-type", "").split(";")[0].strip() == "text/html", r.headers
        assert marker in r.text.lower(), r.text[:500]
        assert not re.search(r"(?i)https?:|=\s*[\"']?//", r.text), f"{path} names another origin: {r.text}"
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp.split(";")[0], r.headers
        assert r.headers.get("cache-control") == "no-cache", r.headers
        assert api.get(path, headers={"If-None-Match": r.headers["etag"]}).status_code == 304, "no revalidation"
        refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert any(u.endswith(".js") for u in refs) and all(u.startswith("/") for u in refs), refs
        texts = [r.text]
        for u in refs:
            a = api.get(u)
            texts.append(a.text if not u.startswith("/docs/assets/") else "")
            assert a.status_code == 200 and a.content, f"{path} names {u}: {a.status_code}"
            want = "public, max-age=31536000, immutable" if u.startswith("/docs/assets/") else "no-cache"
            assert a.headers.get("cache-control") == want, (u, a.headers)
            kind = {"js": "application/javascript", "css": "text/css", "png": "image/png"}[u.rsplit(".", 1)[1]]
            assert a.headers.get("content-type", "").startswith(kind), (u, a.headers)
        assert any('"/openapi.json"' in t for t in texts), f"{path} (or its own script) does not load /openapi.json"
    r = api.get("/openapi.json")
    assert r.headers.get("cache-control") == "no-cache", r.headers
    r = api.get("/docs/assets/no-such-file.js")
    assert r.status_code == 404 and "cache-control" not in r.headers, ("a 404 is not cached for good", r.headers)


# ------------------------------------------------------------------------------------------------
# real answers against the document


@pytest.fixture
def ck(api, spec) -> Checker:
    return Checker(api, spec)


def test_auth_and_users_answers(ck, register, admin):
    name = uname("oa_")
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    me = ck.call("POST", V + "/auth/register", 201, json=body).json()
    access, refresh, my_id = me["access_token"], me["refresh_token"], me["user"]["id"]
    ck.call("POST", V + "/auth/register", 400, json=body)
    r = ck.call("POST", V + "/auth/register", 422, json={"email": "nope", "username": "x", "password": "short"})
    assert len(r.json()["errors"]) >= 3, r.text
    ck.call("POST", V + "/auth/register", 422, content=b"{not json", headers={"Content-Type": "application/json"})

    ck.call("POST", V + "/auth/login", 200, json={"username": name, "password": PASSWORD})
    ck.call("POST", V + "/auth/login", 200, data={"username": body["email"], "password": PASSWORD})
    ck.call("POST", V + "/auth/login", 401, json={"username": name, "password": "Wrong-password-1"})
    ck.call("POST", V + "/auth/login", 422, json={"username": name})
    ck.call("POST", V + "/auth/login/access-token", 200,
            data={"username": body["email"], "password": PASSWORD, "grant_type": "password"})
    ck.call("POST", V + "/auth/login/access-token", 400, data={"username": name, "password": "Wrong-password-1"})
    refreshed = ck.call("POST", V + "/auth/refresh", 200, json={"refresh_token": refresh}).json()
    ck.call("POST", V + "/auth/refresh", 401, json={"refresh_token": "not-a-token"})
    access = refreshed["access_token"]

    ck.call("GET", V + "/auth/me", 200, token=access)
    ck.call("GET", V + "/auth/me", 401)
    ck.call("GET", V + "/auth/me", 401, token="not.a.jwt")
    ck.call("GET", V + "/users/me", 200, token=access)
    ck.call("GET", V + "/users", 200, token=access, params={"limit": 5})
    ck.call("GET", V + "/users", 200, token=admin.access, params={"limit": 5})
    ck.call("GET", V + "/users", 422, token=access, params={"limit": 0})

    other = register()
    ck.call("GET", V + "/users/{id}", 200, args={"id": other.user["id"]}, token=access)
    ck.call("GET", V + "/users/{id}", 200, args={"id": my_id}, token=access)
    ck.call("GET", V + "/users/{id}", 404, args={"id": str(uuidlib.uuid4())}, token=access)
    ck.call("GET", V + "/users/{id}", 404, args={"id": "not-a-uuid"}, token=access)
    ck.call("GET", V + "/users/search", 200, token=access, params={"q": name[:6]})
    ck.call("GET", V + "/users/search", 422, token=access, params={"q": "  "})
    ck.call("GET", V + "/users/search/{query}", 200, args={"query": other.user["username"]}, token=access)
    ck.call("PATCH", V + "/users/{id}", 200, args={"id": my_id}, token=access, json={"avatar": "https://a.example/x.png"})
    ck.call("PUT", V + "/users/{id}", 200, args={"id": my_id}, token=access, json={"avatar": None})
    ck.call("PUT", V + "/users/{id}", 403, args={"id": other.user["id"]}, token=access, json={"avatar": "x"})
    ck.call("PATCH", V + "/users/{id}", 400, args={"id": my_id}, token=access,
            json={"username": other.user["username"].upper()})

    hl = uname("hl_")
    ck.call("POST", V + "/users", 201, json={"email": f"{hl}@example.com", "username": hl, "password": PASSWORD})
    ck.call("POST", V + "/users", 400, json={"email": f"{hl}@example.com", "username": uname(), "password": PASSWORD})

    ck.call("PUT", V + "/auth/password", 400, token=access,
            json={"current_password": "Wrong-password-1", "new_password": "Another-horse-9"})
    ck.call("PUT", V + "/auth/password", 422, token=access, json={"current_password": PASSWORD, "new_password": "x"})
    ck.call("PUT", V + "/auth/password", 204, token=access,
            json={"current_password": PASSWORD, "new_password": "Another-horse-9"})
    ck.call("POST", V + "/auth/logout", 204, token=access)
    ck.call("GET", V + "/auth/me", 401, token=access)
    ck.done()


def test_channels_and_messages_answers(ck, register):
    owner, member, outsider = register(), register(), register()
    T = lambda reg: reg.access  # noqa: E731
    name = uname("oa_ch_")
    ch = ck.call("POST", V + "/channels", 201, token=T(owner),
                 json={"name": name, "description": "The channel of the OpenAPI test", "is_private": False}).json()
    cid = ch["id"]
    ck.call("POST", V + "/channels", 400, token=T(owner), json={"name": name.upper()})
    ck.call("POST", V + "/channels", 422, token=T(owner), json={"name": "x" * 81})
    ck.call("GET", V + "/channels", 200, token=T(owner))
    ck.call("GET", V + "/channels", 200, token=T(owner), params={"limit": 2, "offset": 1})
    ck.call("GET", V + "/channels", 422, token=T(owner), params={"limit": 1001})
    ck.call("GET", V + "/channels/{id}", 200, args={"id": cid}, token=T(owner))
    ck.call("GET", V + "/channels/{id}", 200, args={"id": cid}, token=T(outsider))  # public metadata, not a member
    ck.call("GET", V + "/channels/{id}", 404, args={"id": str(uuidlib.uuid4())}, token=T(owner))
    ck.call("GET", V + "/channels/users/available", 200, token=T(owner))

    ck.call("GET", V + "/messages/channel/{channel_id}", 403, args={"channel_id": cid}, token=T(member))
    ck.call("POST", V + "/channels/join", 200, token=T(member), json={"channel_id": cid})
    ck.call("POST", V + "/channels/join", 400, token=T(member), json={"channel_id": cid})
    ck.call("POST", V + "/channels/join", 404, token=T(member), json={"channel_id": str(uuidlib.uuid4())})
    ck.call("POST", V + "/channels/join", 422, token=T(member), json={"channel_id": "nope"})
    ck.call("GET", V + "/channels/my", 200, token=T(member))

    key = uuidlib.uuid4().hex
    content = f"hello @{member.user['username']}, welcome"
    msg = ck.call("POST", V + "/messages", 201, token=T(owner), headers={"Idempotency-Key": key},
                  json={"channel_id": cid, "content": content}).json()
    mid = msg["id"]
    assert msg["mentions"] == [member.user["id"]], msg
    again = ck.call("POST", V + "/messages", 200, token=T(owner), headers={"Idempotency-Key": key},
                    json={"channel_id": cid, "content": content}).json()
    assert again["id"] == mid, again
    ck.call("POST", V + "/messages", 409, token=T(owner), headers={"Idempotency-Key": key},
            json={"channel_id": cid, "content": "something else"})
    ck.call("POST", V + "/messages", 422, token=T(owner), json={"channel_id": cid, "content": "   "})
    ck.call("POST", V + "/messages", 403, token=T(outsider), json={"channel_id": cid, "content": "hi"})
    ck.call("POST", V + "/messages", 404, token=T(owner), json={"channel_id": str(uuidlib.uuid4()), "content": "hi"})

    added = ck.call("POST", V + "/messages/reactions", 200, token=T(member),
                    json={"message_id": mid, "emoji": "\U0001F44D"}).json()
    assert added["action"] == "add" and added["reaction"], added
    ck.call("POST", V + "/messages/reactions", 422, token=T(member), json={"message_id": mid, "emoji": ""})
    full = ck.call("GET", V + "/messages/{id}", 200, args={"id": mid}, token=T(owner)).json()
    assert len(full["reactions"]) == 1 and full["mentions"] == [member.user["id"]], full
    ck.call("GET", V + "/messages/{id}", 403, args={"id": mid}, token=T(outsider))
    ck.call("GET", V + "/messages/{id}", 404, args={"id": "not-a-uuid"}, token=T(owner))
    removed = ck.call("POST", V + "/messages/reactions", 200, token=T(member),
                      json={"message_id": mid, "emoji": "\U0001F44D"}).json()
    assert removed == {"action": "remove", "reaction": None}, removed
    rid = ck.call("POST", V + "/messages/reactions", 200, token=T(member),
                  json={"message_id": mid, "emoji": "ok"}).json()["reaction"]["id"]
    ck.call("DELETE", V + "/messages/reactions/{reaction_id}", 403, args={"reaction_id": rid}, token=T(owner))
    ck.call("DELETE", V + "/messages/reactions/{reaction_id}", 200, args={"reaction_id": rid}, token=T(member))
    ck.call("DELETE", V + "/messages/reactions/{reaction_id}", 404, args={"reaction_id": rid}, token=T(member))

    reply = ck.call("POST", V + "/messages", 201, token=T(member),
                    json={"channel_id": cid, "content": "a reply", "parent_id": mid, "client_msg_id": uuidlib.uuid4().hex})
    ck.call("GET", V + "/messages/{id}/replies", 200, args={"id": mid}, token=T(owner))
    ck.call("GET", V + "/messages/channel/{channel_id}", 200, args={"channel_id": cid}, token=T(owner))
    ck.call("GET", V + "/messages/channel/{channel_id}", 200, args={"channel_id": cid}, token=T(owner),
            params={"before_seq": 2, "limit": 1})
    ck.call("GET", V + "/messages/channel/{channel_id}", 422, args={"channel_id": cid}, token=T(owner),
            params={"offset": 0, "after_seq": 1})
    ck.call("GET", V + "/messages/channel/{channel_id}", 404, args={"channel_id": str(uuidlib.uuid4())}, token=T(owner))
    ck.call("GET", V + "/messages/mentions/my", 200, token=T(member))
    ck.call("GET", V + "/messages/search", 200, token=T(owner), params={"q": "welcome", "channel_id": cid})
    ck.call("GET", V + "/messages/search", 422, token=T(owner), params={"q": ""})
    ck.call("POST", V + "/messages/read", 204, token=T(member), json={"channel_id": cid, "seq": 1})
    ck.call("POST", V + "/messages/read", 204, token=T(member), json={"channel_id": cid, "message_id": reply.json()["id"]})
    ck.call("POST", V + "/messages/read", 422, token=T(member), json={"channel_id": cid})

    ck.call("PUT", V + "/messages/{id}", 200, args={"id": mid}, token=T(owner), json={"content": "edited"})
    ck.call("PUT", V + "/messages/{id}", 403, args={"id": mid}, token=T(member), json={"content": "mine now"})
    ck.call("PUT", V + "/messages/{id}", 422, args={"id": mid}, token=T(owner), json={"content": "x" * 4001})
    ck.call("DELETE", V + "/messages/{id}", 403, args={"id": mid}, token=T(member))
    ck.call("DELETE", V + "/messages/{id}", 200, args={"id": reply.json()["id"]}, token=T(member))
    ck.call("DELETE", V + "/messages/{id}", 404, args={"id": reply.json()["id"]}, token=T(member))

    ck.call("PATCH", V + "/channels/{id}", 200, args={"id": cid}, token=T(owner), json={"description": ""})
    ck.call("PUT", V + "/channels/{id}", 403, args={"id": cid}, token=T(member), json={"name": uname("x_")})
    ck.call("POST", V + "/channels/{id}/add-user", 200, args={"id": cid}, token=T(owner),
            json={"user_id": outsider.user["id"]})
    ck.call("POST", V + "/channels/{id}/add-user", 400, args={"id": cid}, token=T(owner),
            json={"user_id": outsider.user["id"]})
    ck.call("POST", V + "/channels/{id}/add-user", 404, args={"id": cid}, token=T(owner),
            json={"user_id": str(uuidlib.uuid4())})
    ck.call("DELETE", V + "/channels/{id}/leave", 200, args={"id": cid}, token=T(outsider))
    ck.call("DELETE", V + "/channels/{id}/leave", 400, args={"id": cid}, token=T(outsider))
    ck.call("DELETE", V + "/channels/{id}/members/{user_id}", 403, args={"id": cid, "user_id": owner.user["id"]},
            token=T(member))
    ck.call("DELETE", V + "/channels/{id}/members/{user_id}", 204, args={"id": cid, "user_id": member.user["id"]},
            token=T(owner))
    ck.call("DELETE", V + "/channels/{id}", 204, args={"id": cid}, token=T(owner))
    ck.call("POST", V + "/messages", 403, token=T(owner), json={"channel_id": cid, "content": "archived?"})
    ck.done()


def test_conversations_answers(ck, register):
    a, b, c = register(), register(), register()
    direct = ck.call("POST", V + "/conversations", 201, token=a.access, json={"participant_ids": [b.user["id"]]}).json()
    did = direct["id"]
    again = ck.call("POST", V + "/conversations", 200, token=b.access, json={"participant_ids": [a.user["id"]]}).json()
    assert again["id"] == did, again
    ck.call("POST", V + "/conversations", 400, token=a.access, json={"participant_ids": [a.user["id"]]})
    ck.call("POST", V + "/conversations", 400, token=a.access, json={"participant_ids": [b.user["id"], c.user["id"]]})
    ck.call("POST", V + "/conversations", 404, token=a.access, json={"participant_ids": [str(uuidlib.uuid4())]})
    ck.call("POST", V + "/conversations", 422, token=a.access, json={"participant_ids": ["nope"]})
    group = ck.call("POST", V + "/conversations", 201, token=a.access,
                    json={"title": "OpenAPI group", "is_group": True, "participant_ids": [b.user["id"]]}).json()

    sent = []
    for i in range(3):
        sent.append(ck.call("POST", V + "/conversations/{id}/messages", 201, args={"id": did}, token=a.access,
                            headers={"Idempotency-Key": uuidlib.uuid4().hex}, json={"content": f"direct {i}"}).json())
    key = uuidlib.uuid4().hex
    ck.call("POST", V + "/conversations/{id}/messages", 201, args={"id": group["id"]}, token=b.access,
            json={"content": "@" + a.user["username"] + " hi", "client_msg_id": key})
    ck.call("POST", V + "/conversations/{id}/messages", 200, args={"id": group["id"]}, token=b.access,
            json={"content": "@" + a.user["username"] + " hi", "client_msg_id": key})
    ck.call("POST", V + "/conversations/{id}/messages", 409, args={"id": group["id"]}, token=b.access,
            json={"content": "other", "client_msg_id": key})
    ck.call("POST", V + "/conversations/{id}/messages", 404, args={"id": did}, token=c.access, json={"content": "x"})
    ck.call("POST", V + "/conversations/{id}/messages", 422, args={"id": did}, token=a.access, json={"content": ""})

    ck.call("GET", V + "/conversations", 200, token=a.access)
    ck.call("GET", V + "/conversations", 200, token=a.access, params={"skip": 1, "limit": 1})
    ck.call("GET", V + "/conversations", 422, token=a.access, params={"limit": 101})
    ck.call("GET", V + "/conversations/{id}", 200, args={"id": did}, token=a.access)
    ck.call("GET", V + "/conversations/{id}", 200, args={"id": group["id"]}, token=b.access)
    ck.call("GET", V + "/conversations/{id}", 404, args={"id": did}, token=c.access)

    page = ck.call("GET", V + "/conversations/{id}/messages", 200, args={"id": did}, token=b.access,
                   params={"limit": 2}).json()
    assert [m["id"] for m in page["items"]] == [sent[2]["id"], sent[1]["id"]] and page["next_cursor"], page
    last = ck.call("GET", V + "/conversations/{id}/messages", 200, args={"id": did}, token=b.access,
                   params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [m["id"] for m in last["items"]] == [sent[0]["id"]] and last["next_cursor"] is None, last
    ck.call("GET", V + "/conversations/{id}/messages", 422, args={"id": did}, token=b.access, params={"cursor": "!!"})
    ck.call("GET", V + "/conversations/{id}/messages", 404, args={"id": str(uuidlib.uuid4())}, token=b.access)

    ck.call("PUT", V + "/conversations/{id}/messages/read", 200, args={"id": did}, token=b.access,
            json={"last_seen_message_id": sent[1]["id"]})
    ck.call("PUT", V + "/conversations/{id}/messages/read", 404, args={"id": did}, token=b.access,
            json={"last_seen_message_id": str(uuidlib.uuid4())})
    ck.call("DELETE", V + "/conversations/{id}/messages/{message_id}", 403,
            args={"id": did, "message_id": sent[0]["id"]}, token=b.access)
    ck.call("DELETE", V + "/conversations/{id}/messages/{message_id}", 200,
            args={"id": did, "message_id": sent[0]["id"]}, token=a.access)
    ck.call("DELETE", V + "/conversations/{id}/messages/{message_id}", 400,
            args={"id": did, "message_id": sent[0]["id"]}, token=a.access)
    ck.call("POST", V + "/conversations/{id}/participants", 403, args={"id": group["id"]}, token=b.access,
            json={"participant_ids": [c.user["id"]]})
    ck.call("POST", V + "/conversations/{id}/participants", 200, args={"id": group["id"]}, token=a.access,
            json={"participant_ids": [c.user["id"]]})
    ck.call("DELETE", V + "/conversations/{id}/participants/me", 204, args={"id": group["id"]}, token=c.access)
    ck.call("DELETE", V + "/conversations/{id}/participants/me", 404, args={"id": group["id"]}, token=c.access)
    ck.done()


def test_system_and_generic_answers(ck, register):
    u = register()
    ck.call("GET", "/health", 200)
    ck.call("GET", "/", 200)
    if ("GET", "/metrics") in documented(ck.spec):
        r = ck.call("GET", "/metrics", 200)  # the test client is on localhost
        assert r.headers["content-type"].startswith("text/plain") and "# TYPE " in r.text, r.text[:300]
    # the trailing slash is optional: the same documented answer
    ck.call("GET", V + "/channels", 200, token=u.access, url=V + "/channels/")
    ck.call("GET", V + "/users/{id}", 200, args={"id": u.user["id"]}, token=u.access, url=f"{V}/users/{u.user['id']}/")
    ck.call_component("GET", V + "/no/such/route", 404, "NotFound")
    r = ck.call_component("POST", V + "/channels/my", 405, "MethodNotAllowed", headers=auth_headers(u.access))
    assert "GET" in r.headers.get("allow", ""), r.headers
    r = ck.call_component("DELETE", "/health", 405, "MethodNotAllowed")
    assert r.headers.get("allow"), r.headers
    ck.call("GET", V + "/channels/my", 401)
    r = ck.call("GET", V + "/conversations", 401, token="x.y.z")
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.headers
    ck.call("POST", V + "/channels", 422, token=u.access, content=b'{"name": ',
            headers={"Content-Type": "application/json"})
    ck.call("POST", V + "/channels", 413, token=u.access, content=b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}',
                headers={"Content-Type": "application/json"})
    ck.done()


def test_visibility_archive_and_inactive_answers(ck, register, admin, db):
    owner, outsider = register(), register()
    private = ck.call("POST", V + "/channels", 201, token=owner.access,
                      json={"name": uname("oa_priv_"), "is_private": True}).json()
    public = ck.call("POST", V + "/channels", 201, token=owner.access, json={"name": uname("oa_pub_")}).json()
    ck.call("POST", V + "/messages", 201, token=owner.access, json={"channel_id": public["id"], "content": "first"})
    # a private channel does not exist for outsiders; a public one is visible but its messages are not
    ck.call("GET", V + "/channels/{id}", 404, args={"id": private["id"]}, token=outsider.access)
    ck.call("POST", V + "/channels/join", 404, token=outsider.access, json={"channel_id": private["id"]})
    ck.call("GET", V + "/conversations/{id}", 404, args={"id": private["id"]}, token=outsider.access)
    ck.call("GET", V + "/conversations/{id}", 403, args={"id": public["id"]}, token=outsider.access)
    ck.call("GET", V + "/conversations/{id}/messages", 403, args={"id": public["id"]}, token=outsider.access)
    # a global admin reads every channel, member or not
    ck.call("GET", V + "/conversations/{id}", 200, args={"id": private["id"]}, token=admin.access)
    ck.call("GET", V + "/channels/{id}", 200, args={"id": private["id"]}, token=admin.access)
    # an archived channel
    ck.call("DELETE", V + "/channels/{id}", 403, args={"id": public["id"]}, token=outsider.access)
    ck.call("DELETE", V + "/channels/{id}", 204, args={"id": public["id"]}, token=owner.access)
    got = ck.call("GET", V + "/channels/{id}", 200, args={"id": public["id"]}, token=owner.access).json()
    assert got["is_archived"] is True, got
    ck.call("POST", V + "/channels/join", 403, token=outsider.access, json={"channel_id": public["id"]})
    ck.call("PATCH", V + "/channels/{id}", 403, args={"id": public["id"]}, token=owner.access, json={"name": uname()})
    ck.call("POST", V + "/conversations/{id}/messages", 403, args={"id": public["id"]}, token=owner.access,
            json={"content": "archived"})
    convs = ck.call("GET", V + "/conversations", 200, token=owner.access).json()
    assert any(c["id"] == public["id"] and c["is_archived"] for c in convs), convs
    # an inactive user: its tokens are refused with 403, its logins too
    victim = register()
    db("UPDATE users SET status = 'banned' WHERE id = :'p1'", victim.user["id"])
    try:
        ck.call("GET", V + "/auth/me", 403, token=victim.access)
        ck.call("GET", V + "/channels", 403, token=victim.access)
        ck.call("POST", V + "/auth/login", 403, json={"username": victim.user["username"], "password": PASSWORD})
        ck.call("POST", V + "/auth/login/access-token", 400,
                data={"username": victim.user["username"], "password": PASSWORD})
    finally:
        db("UPDATE users SET status = 'active' WHERE id = :'p1'", victim.user["id"])
    ck.done()
