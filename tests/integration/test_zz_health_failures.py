"""§8 /health when a dependency dies, and recovery once it is back (runs last: it stops services)."""
import subprocess
import time

import httpx

from conftest import PASSWORD, assert_json, auth_headers, redis_cli_run, redis_settings, restart_redis

PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


def health(stack):
    return httpx.get(stack.base_url + "/health", timeout=15)


def wait_for(stack, status, timeout=20.0):
    deadline = time.monotonic() + timeout
    r = health(stack)
    while r.status_code != status and time.monotonic() < deadline:
        time.sleep(0.2)
        r = health(stack)
    return r


def test_health_503_when_redis_is_down_then_recovers(stack):
    sock = stack.redis_sock
    cfg = redis_settings(sock)
    assert cfg["unixsocket"] == sock, cfg
    redis_cli_run(sock, "shutdown", "nosave", check=False)
    try:
        r = wait_for(stack, 503, timeout=10)
        assert r.status_code == 503, r.text
        assert_json(r)
        body = r.json()
        assert body["status"] == "unhealthy", body
        assert body["redis"] != "ok", body
        assert body["postgres"] == "ok", body
    finally:
        restart_redis(cfg)
    r = wait_for(stack, 200, timeout=20)
    assert r.status_code == 200, f"/health did not recover after redis came back: {r.status_code} {r.text}"
    body = r.json()
    assert (body["status"], body["postgres"], body["redis"]) == ("healthy", "ok", "ok"), body


def as_postgres(*cmd, cwd):
    return subprocess.run(
        ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd],
        cwd=cwd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
    )


def test_503_when_postgres_is_down_then_recovers(stack, api, register):
    me = register()
    datadir = stack.run_dir / "pg"
    r = as_postgres(PG_CTL, "-D", str(datadir), "-m", "fast", "-w", "-t", "30", "stop", cwd=stack.run_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
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
    finally:
        # restart reuses the options of postmaster.opts (socket dir, listen_addresses, ...)
        r = as_postgres(PG_CTL, "-D", str(datadir), "-l", str(stack.run_dir / "logs" / "postgres.log"),
                        "-w", "-t", "60", "restart", cwd=stack.run_dir)
        assert r.returncode == 0, r.stdout + r.stderr
    r = wait_for(stack, 200, timeout=20)
    assert r.status_code == 200, f"/health did not recover after postgres came back: {r.text}"
    # every handler process reconnects by itself: no request after the restart fails
    for _ in range(6):
        r = api.get("/api/v1/users/me", headers=auth_headers(me.access))
        assert r.status_code == 200, r.text
        r = api.post("/api/v1/auth/login", json={"username": me.user["username"], "password": PASSWORD})
        assert r.status_code == 200, r.text
