"""§8 /health when a dependency or a program dies, and recovery once it is back (runs last: it stops services).

PostgreSQL or Redis down is a 503 naming it; a worker or a realtime daemon that is gone (no heartbeat) keeps the
API up (200) but /health says `degraded` and names what is missing; a program killed with SIGKILL is started
again by the dev stack's supervisor, and /health is `healthy` again."""
import os
import signal
import time

import httpx

from conftest import (PASSWORD, assert_json, auth_headers, ctl, program_pid, service_stopped, wait_restarted,
                      wait_until)


def health(stack):
    return httpx.get(stack.base_url + "/health", timeout=15)


def wait_for(stack, status, timeout=20.0, body_status=None):
    deadline = time.monotonic() + timeout
    r = health(stack)
    while (r.status_code != status or (body_status and r.json().get("status") != body_status)) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
        r = health(stack)
    return r


def test_health_503_when_redis_is_down_then_recovers(stack):
    with service_stopped(stack, "redis"):
        r = wait_for(stack, 503, timeout=10)
        assert r.status_code == 503, r.text
        assert_json(r)
        body = r.json()
        assert body["status"] == "unhealthy", body
        assert body["redis"] != "ok", body
        assert body["postgres"] == "ok", body
    r = wait_for(stack, 200, timeout=20, body_status="healthy")
    assert r.status_code == 200, f"/health did not recover after redis came back: {r.status_code} {r.text}"
    body = r.json()
    assert (body["status"], body["postgres"], body["redis"]) == ("healthy", "ok", "ok"), body


def test_503_when_postgres_is_down_then_recovers(stack, api, register):
    me = register()
    with service_stopped(stack, "postgres"):
        r = wait_for(stack, 503, timeout=10)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "unhealthy" and body["postgres"] != "ok" and body["redis"] == "ok", body
        # a route that needs the database: 503 with the JSON body, never a bare 500
        r = api.get("/api/v1/users/me", headers=auth_headers(me.access))
        assert r.status_code == 503, r.text
        assert_json(r)
        assert r.json() == {"detail": "Service unavailable"}
        r = api.post("/api/v1/auth/login", json={"username": me.user["username"], "password": "whatever-pw"})
        assert r.status_code == 503, r.text
        assert r.json() == {"detail": "Service unavailable"}
    r = wait_for(stack, 200, timeout=20)
    assert r.status_code == 200, f"/health did not recover after postgres came back: {r.text}"
    # every handler process reconnects by itself: no request after the restart fails
    for _ in range(6):
        r = api.get("/api/v1/users/me", headers=auth_headers(me.access))
        assert r.status_code == 200, r.text
        r = api.post("/api/v1/auth/login", json={"username": me.user["username"], "password": PASSWORD})
        assert r.status_code == 200, r.text


def test_health_names_each_component(stack):
    r = wait_for(stack, 200, timeout=20, body_status="healthy")
    body = r.json()
    assert body["status"] == "healthy", body
    for part in ("workers", "realtime"):
        c = body[part]
        assert c["status"] == "ok" and c["alive"] >= 1 and c["stale"] == 0, body
        for inst in c["instances"]:
            assert isinstance(inst["id"], str) and inst["id"], inst
            assert isinstance(inst["heartbeat_age_s"], (int, float)) and 0 <= inst["heartbeat_age_s"] < 10, inst
    assert body["realtime"]["alive"] == 2, body  # the stack runs two daemons


def test_a_stopped_worker_makes_health_degraded_not_down(stack):
    with service_stopped(stack, "chat-worker:*"):
        r = wait_for(stack, 200, timeout=20, body_status="degraded")
        body = r.json()
        assert r.status_code == 200 and body["status"] == "degraded", body
        assert body["workers"]["status"] == "unavailable" and body["workers"]["alive"] == 0, body
        assert body["postgres"] == "ok" and body["redis"] == "ok" and body["realtime"]["status"] == "ok", body
    r = wait_for(stack, 200, timeout=20, body_status="healthy")
    assert r.json()["status"] == "healthy", r.text


def test_a_killed_program_is_started_again_and_health_says_so(stack, api, register):
    """kill -9 of a handler, a realtime daemon and the worker: the supervisor starts each again, /health first
    notes the dead ones' heartbeats as stale (degraded), then is healthy once they have aged out."""
    me = register()
    victims = ["chat-auth:chat-auth-1", "chat-realtime-1", "chat-worker:chat-worker-1"]
    pids = {name: program_pid(stack, name) for name in victims}
    for name, pid in pids.items():
        os.kill(pid, signal.SIGKILL)
    for name, pid in pids.items():
        wait_restarted(stack, name, pid, timeout=30)
    # the API works throughout the restarts' aftermath
    wait_until(lambda: api.get("/api/v1/auth/me", headers=auth_headers(me.access)).status_code == 200, 10,
               "/auth/me to answer 200 after the handler restart")
    body = health(stack).json()
    assert body["workers"]["alive"] >= 1 and body["realtime"]["alive"] == 2, body
    r = wait_for(stack, 200, timeout=90, body_status="healthy")
    assert r.json()["status"] == "healthy", r.text
    assert "RUNNING" in ctl(stack, "status", "chat-realtime-1").stdout
