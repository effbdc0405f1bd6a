"""The Debian package on a real machine: a booted bookworm container (systemd as PID 1, tests/container/nspawn.py)
gets build/chat_*.deb with apt, offline, from a root made of the package's own Depends and Recommends.

In order (one container for the module; each test needs the ones before it):
  install without a database (the install succeeds and says so) -> PostgreSQL roles and chat.env -> chat.target
  -> /health, register + send + receive over /ws through nginx -> kill -9 of a handler and of a realtime daemon
  (both back within 5 s) -> systemd-analyze security of every unit -> reinstall, then an upgrade to the same
  package as a newer version, keep data and chat.env -> purge removes the configuration -> an install with no
  systemd running (a chroot, an image build) enables the units and starts nothing.

`make container-test` builds the package first (make deb); CHAT_DEB names another .deb. Nothing here skips."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from nspawn import Container, cached_root

REPO = Path(__file__).resolve().parents[2]
BASE = "http://127.0.0.1:8080"            # the site's default CHAT_LISTEN_ADDR:CHAT_HTTP_PORT, in the container
CLIENT = Path(__file__).with_name("chat_client.py")
ENV = "/etc/chat/chat.env"


def the_deb() -> Path:
    if os.environ.get("CHAT_DEB"):
        return Path(os.environ["CHAT_DEB"]).resolve()
    debs = sorted((REPO / "build").glob("chat_*.deb"), key=lambda p: p.stat().st_mtime)
    assert debs, f"no {REPO}/build/chat_*.deb: make deb (make container-test does it first)"
    return debs[-1]


def package_names(deb: Path) -> list[str]:
    """Depends and Recommends of the .deb as plain package names (the first of alternatives, no versions)."""
    out = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends", "Recommends"], capture_output=True, text=True,
                         check=True).stdout
    fields = ",".join(line.split(":", 1)[1] for line in out.splitlines() if ":" in line)
    return sorted({re.split(r"[\s(]", alt.split("|")[0].strip())[0] for alt in fields.split(",") if alt.strip()})


@pytest.fixture(scope="module")
def deb() -> Path:
    return the_deb()


@pytest.fixture(scope="module")
def c(deb):
    with Container(cached_root(package_names(deb))) as container:
        container.copy_in(deb, "/var/tmp/chat.deb")
        yield container


def sh(c: Container, cmd: str, timeout: float = 120) -> str:
    return c.run(cmd, timeout=timeout).stdout


def client(c: Container, *args: str) -> dict:
    r = c.net_run(["/usr/bin/python3", str(CLIENT), BASE, *args], check=False, timeout=60)
    assert r.returncode == 0, f"chat_client {' '.join(args)}: {r.stdout}{r.stderr}\n{c.journal(lines=80)}"
    return json.loads(r.stdout)


def health(c: Container) -> dict:
    r = c.net_run(["curl", "-s", "-m", "5", f"{BASE}/health"], check=False)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"status": f"no answer: {r.returncode} {r.stdout[:200]}"}


def wait_healthy(c: Container, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        h = health(c)
        if h.get("status") == "healthy" and h.get("realtime", {}).get("alive", 0) >= 1 \
                and h.get("workers", {}).get("alive", 0) >= 1:
            return h
        if time.monotonic() > deadline:
            raise AssertionError(f"/health within {timeout} s: {h}\n{c.journal(lines=120)}")
        time.sleep(0.5)


def main_pid(c: Container, unit: str) -> int:
    return int(sh(c, f"systemctl show -p MainPID --value {unit}").strip() or 0)


STATE: dict = {}


def test_install_without_database_succeeds_and_says_so(c):
    # PostgreSQL is there but has no chat roles yet: the migrations cannot run, the install must not fail.
    r = c.run("DEBIAN_FRONTEND=noninteractive apt-get install -y /var/tmp/chat.deb", check=False,
              timeout=180)
    assert r.returncode == 0, f"apt-get install: {r.stdout}{r.stderr}"
    out = r.stdout + r.stderr
    assert "database is not reachable" in out and "systemctl start chat.target" in out, out
    assert "wrote a random JWT_SECRET_KEY" in out, out
    assert sh(c, "getent passwd chat").startswith("chat:")
    secret = sh(c, f"sed -n 's/^JWT_SECRET_KEY=//p' {ENV}").strip()
    assert len(secret) >= 64 and "CHANGE-ME" not in secret, secret
    STATE["secret"] = secret
    assert sh(c, "systemctl is-enabled chat.target chat-handlers.target").split() == ["enabled", "enabled"]
    assert c.run("systemctl is-active chat.target", check=False).stdout.strip() == "inactive"
    # the site is rendered, enabled and served by the running nginx (no handler yet: a JSON 404 for /nothing)
    assert c.run("test -L /etc/nginx/sites-enabled/chat && nginx -t -q", check=False).returncode == 0
    r = c.net_run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{BASE}/nothing"], check=False)
    assert r.stdout == "404", r.stdout


def test_configured_database_and_chat_target(c):
    # as deploy/README.md step 2: the roles, peer authentication of the OS user chat as both, chat.env
    sh(c, """set -e
        runuser -u postgres -- psql -q -c 'CREATE ROLE chat_owner LOGIN' -c 'CREATE ROLE chat_app LOGIN' \
                                   -c 'CREATE DATABASE chat OWNER chat_owner'
        hba=/etc/postgresql/15/main/pg_hba.conf
        sed -i '0,/^local/s//local chat chat_owner,chat_app peer map=chat\\n&/' $hba
        printf 'chat chat chat_owner\\nchat chat chat_app\\n' >> /etc/postgresql/15/main/pg_ident.conf
        systemctl reload postgresql@15-main
        sed -i 's|^REDIS_URL=.*|REDIS_URL=redis://127.0.0.1:6379/0|' /etc/chat/chat.env
        systemctl start chat.target""", timeout=120)
    h = wait_healthy(c)
    assert h["postgres"] == "ok" and h["redis"] == "ok", h
    # every unit chat.target starts, the socket of every handler group the package lists included
    groups = [line.strip() for line in sh(c, "cat /usr/share/chat/chat-groups.txt").splitlines()
              if line.strip() and not line.startswith("#")]
    assert "admin" in groups and "messages" in groups, groups
    expected = ["chat.target", "chat-migrate.service", "chat-worker.service", "chat-realtime@9001.service",
                "chat-handlers.target", *(f"chat-handler@{g}.socket" for g in groups)]
    states = c.run(["systemctl", "is-active", *expected], check=False).stdout.split()
    assert states == ["active"] * len(expected), dict(zip(expected, states))


def test_register_send_receive_over_websocket_through_nginx(c):
    STATE.update(client(c, "round-trip"))
    assert STATE["message"]


def test_api_documentation_is_served_from_the_package(c):
    for path, marker in (("/openapi.json", '"openapi"'), ("/docs", "swagger"), ("/redoc", "redoc")):
        r = c.net_run(["curl", "-s", "-w", "\\n%{http_code}", f"{BASE}{path}"], check=False)
        body, _, code = r.stdout.rpartition("\n")
        assert code == "200" and marker in body.lower(), f"{path}: {code} {body[:200]}"


def test_killed_handler_and_realtime_daemon_come_back(c):
    handler, realtime = "chat-handler@messages.service", "chat-realtime@9001.service"
    old = {u: main_pid(c, u) for u in (handler, realtime)}
    assert all(old.values()), old            # the round trip above started the messages handler
    for pid in old.values():
        sh(c, f"kill -9 {pid}")
    deadline = time.monotonic() + 5
    while True:
        now = {u: main_pid(c, u) for u in old}
        active = c.run(["systemctl", "is-active", *old], check=False).stdout.split()
        if active == ["active", "active"] and all(now[u] and now[u] != old[u] for u in old):
            break
        assert time.monotonic() < deadline, f"not back within 5 s: {old} -> {now} {active}\n{c.journal(lines=60)}"
        time.sleep(0.2)
    wait_healthy(c, timeout=10)
    STATE.update(client(c, "round-trip"))        # the new processes serve REST and /ws again


def test_security_exposure_of_every_unit(c):
    c.copy_in(REPO / "tests" / "systemd" / "security.sh", "/var/tmp/security.sh")
    r = c.run("bash /var/tmp/security.sh", check=False, timeout=120)
    print(r.stdout)
    assert r.returncode == 0, f"{r.stdout}{r.stderr}"
    assert "chat-handler@messages.service" in r.stdout and "chat-realtime@9001.service" in r.stdout, r.stdout


def test_reinstall_keeps_data_and_chat_env(c):
    before = sh(c, f"md5sum {ENV}")
    r = c.run("DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall /var/tmp/chat.deb",
              check=False, timeout=180)
    assert r.returncode == 0, f"reinstall: {r.stdout}{r.stderr}"
    assert "database migrations applied" in r.stdout, r.stdout
    assert sh(c, f"md5sum {ENV}") == before
    wait_healthy(c)
    # the old token still works (the same secret) and the message is still there (the same database)
    got = client(c, "read", STATE["token"], STATE["message"])
    assert got["id"] == STATE["message"] and got["content"] == STATE["content"], got


def test_upgrade_keeps_data_and_chat_env(c, deb, tmp_path):
    # the same package as a newer version (the Debian revision + 1): prerm upgrade, postinst configure OLD-VERSION
    tree = tmp_path / "tree"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN" / "control"
    old = re.search(r"^Version: (\S+)$", control.read_text(), re.M).group(1)
    upstream, _, revision = old.rpartition("-")
    new = f"{upstream}-{int(revision) + 1}"
    control.write_text(control.read_text().replace(f"Version: {old}\n", f"Version: {new}\n"))
    newer = tmp_path / f"chat_{new}.deb"
    subprocess.run(["dpkg-deb", "-b", "--root-owner-group", str(tree), str(newer)], check=True, capture_output=True)
    c.copy_in(newer, "/var/tmp/chat-newer.deb")
    before = sh(c, f"md5sum {ENV}")
    r = c.run("DEBIAN_FRONTEND=noninteractive apt-get install -y /var/tmp/chat-newer.deb", check=False, timeout=180)
    assert r.returncode == 0, f"upgrade: {r.stdout}{r.stderr}"
    assert f"Unpacking chat ({new}) over ({old})" in r.stdout, r.stdout
    assert "wrote a random JWT_SECRET_KEY" not in r.stdout and "database migrations applied" in r.stdout, r.stdout
    assert sh(c, f"md5sum {ENV}") == before
    wait_healthy(c)
    got = client(c, "read", STATE["token"], STATE["message"])
    assert got["id"] == STATE["message"], got


def test_purge_removes_the_configuration(c):
    r = c.run("DEBIAN_FRONTEND=noninteractive apt-get purge -y chat", check=False, timeout=180)
    assert r.returncode == 0, f"purge: {r.stdout}{r.stderr}"
    left = c.run("ls -d /etc/chat /etc/nginx/chat /etc/nginx/sites-available/chat /etc/nginx/sites-enabled/chat "
                 "/lib/systemd/system/chat.target 2>/dev/null", check=False).stdout.split()
    assert left == [], left
    assert c.run("systemctl list-units --plain --no-legend 'chat*'", check=False).stdout.strip() == ""
    # nginx goes on without the site; the database is left alone
    assert c.run("nginx -t -q", check=False).returncode == 0
    assert "chat" in sh(c, "runuser -u postgres -- psql -tAc 'SELECT datname FROM pg_database'").split()


def test_install_without_systemd_as_pid1(c):
    # As in a chroot or an image build: /run/systemd/system hidden in a mount namespace of its own, so postinst,
    # deb-systemd-invoke and invoke-rc.d all see no running systemd. The install must succeed, enable the units
    # (the links a boot follows) and start nothing.
    r = c.run("unshare --mount --propagation private sh -c 'mount -t tmpfs none /run/systemd && "
              "DEBIAN_FRONTEND=noninteractive apt-get install -y /var/tmp/chat.deb'", check=False, timeout=180)
    assert r.returncode == 0, f"install without systemd: {r.stdout}{r.stderr}"
    assert "database migrations applied" in r.stdout and "systemd is not running" in r.stdout, r.stdout
    assert c.run("test -L /etc/systemd/system/multi-user.target.wants/chat.target && "
                 "test -L /etc/systemd/system/sockets.target.wants/chat-handlers.target", check=False).returncode == 0
    assert c.run("systemctl is-active chat.target", check=False).stdout.strip() == "inactive"
