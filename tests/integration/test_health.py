"""§8 operations: /health and / of a healthy stack."""
from conftest import assert_json


def test_health_ok(api):
    r = api.get("/health")
    assert r.status_code == 200, r.text
    assert_json(r)
    body = r.json()
    assert body["status"] == "healthy", body
    assert body["postgres"] == "ok", body
    assert body["redis"] == "ok", body


def test_health_trailing_slash_and_wrong_method(api):
    r = api.get("/health/")
    assert r.status_code == 200 and r.json()["status"] == "healthy", r.text
    r = api.post("/health", json={})
    assert r.status_code == 405, r.text
    assert_json(r)
    assert r.json() == {"detail": "Method Not Allowed"}
    allow = {m.strip().upper() for m in r.headers.get("allow", "").split(",")}
    assert "GET" in allow and "POST" not in allow, r.headers


def test_root(api):
    r = api.get("/")
    assert r.status_code == 200, r.text
    assert_json(r)
    body = r.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    assert isinstance(body.get("version"), str) and body["version"], body
    assert body.get("docs") == "/docs", body
