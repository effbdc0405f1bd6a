"""The container harness itself: a real boot of the cached root, its services, its private network, and a host left
as it was found. Nothing here skips: a host where the container cannot start fails these tests."""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from nspawn import CHAT_ROOT_PACKAGES, Container, HarnessError, _mounts_under, _pid_ns, _pids_in_ns, cached_root


@pytest.fixture(scope="session")
def root() -> Path:
    return cached_root(list(CHAT_ROOT_PACKAGES))


@pytest.fixture(scope="module")
def container(root):
    with Container(root) as c:
        yield c


def fingerprint(tree: Path) -> dict:
    """Every path of a tree with its type, mode, size and mtime: any write into the tree changes it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, tree)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # gone meanwhile
        return ""


def test_boots_to_running_with_lo_only(container):
    assert container.run(["systemctl", "is-system-running"]).stdout.strip() == "running"
    assert container.run(["ls", "/sys/class/net"]).stdout.split() == ["lo"]
    flags = int(container.run(["cat", "/sys/class/net/lo/flags"]).stdout, 16)
    assert flags & 0x1, "lo is not up"  # IFF_UP
    assert container.run(["hostname"]).stdout.strip() == "chat-test"


def test_debian_services_run_inside(container):
    for unit in ("postgresql@15-main.service", "redis-server.service", "nginx.service"):
        container.run(["systemctl", "start", unit])
        state = container.run(["systemctl", "is-active", unit], check=False).stdout.strip()
        assert state == "active", f"{unit}: {state}\n{container.journal(unit)}"
    # The cluster Debian's postinst created at debootstrap time answers, on the port nobody else has here.
    r = container.run(["runuser", "-u", "postgres", "--", "psql", "-p", "5432", "-tAc", "select 1"])
    assert r.stdout.strip() == "1"
    assert container.run(["redis-cli", "-p", "6379", "ping"]).stdout.strip() == "PONG"
    assert container.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                          "http://127.0.0.1:80/"]).stdout == "200"


def test_host_program_reaches_container_nginx(container, tmp_path):
    # A marker only this container serves: the answer comes from its nginx, not from one on the host's port 80.
    marker = tmp_path / "marker.txt"
    marker.write_text(f"container {container.name}\n")
    container.copy_in(marker, "/var/www/html/marker.txt")
    r = container.net_run(["curl", "-sS", "--max-time", "5", "http://127.0.0.1:80/marker.txt"])
    assert r.stdout == f"container {container.name}\n"
    assert container.run(["cat", "/var/www/html/marker.txt"]).stdout == marker.read_text()


def test_container_cannot_reach_host_loopback(container):
    accepted = []
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        srv.settimeout(0.2)
        port = srv.getsockname()[1]
        stop = threading.Event()

        def accept():
            while not stop.is_set():
                try:
                    accepted.append(srv.accept()[0])
                except OSError:
                    pass

        t = threading.Thread(target=accept)
        t.start()
        try:
            # From the host the listener is reachable, so a refusal inside means the network is not shared.
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
            deadline = time.monotonic() + 3
            while not accepted and time.monotonic() < deadline:
                time.sleep(0.05)
            seen_from_host = len(accepted)
            r = container.run(["curl", "-sS", "--max-time", "3", f"http://127.0.0.1:{port}/"], check=False)
        finally:
            stop.set()
            t.join()
    for s in accepted:
        s.close()
    assert seen_from_host >= 1, "the host listener did not work, so the check below would prove nothing"
    assert r.returncode == 7, f"curl inside reached the host's 127.0.0.1:{port}? exit {r.returncode} {r.stderr}"
    assert len(accepted) == seen_from_host


def test_run_check_and_timeout(container):
    with pytest.raises(HarnessError, match="exited with 3") as e:
        container.run("echo out; echo err >&2; exit 3")
    assert "out" in str(e.value) and "err" in str(e.value)
    assert container.run("read x; echo got $x", input="it\n").stdout == "got it\n"
    assert container.run(["sh", "-c", "echo $A $PATH"], env={"A": "a"}).stdout.startswith("a /usr/local/sbin")
    with pytest.raises(Exception) as e:
        container.run(["sleep", "30"], timeout=1)
    assert "timed out" in str(e.value).lower()
    # nsenter's child is killed with it; the container's systemd reaps it a moment later.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sleeping = [p for p in _pids_in_ns(_pid_ns(container.pid)) if comm(p) == "sleep"]
        if not sleeping:
            break
        time.sleep(0.1)
    assert sleeping == [], "the timed-out command was not killed"


def test_exit_leaves_no_trace_and_cache_pristine(root):
    before = fingerprint(root)
    with Container(root) as c:
        tmp, pid, ns, cgroups = c.merged.parent, c.pid, _pid_ns(c.pid), list(c._cgroups)
        c.run("echo inside > /var/tmp/written-inside; apt-get --version > /var/lib/written-too")
        c.run(["systemctl", "restart", "postgresql@15-main.service"])
        assert _mounts_under(tmp)
        assert _pids_in_ns(ns)
    assert not tmp.exists()
    assert _mounts_under(tmp) == []
    assert _pids_in_ns(ns) == []
    assert not os.path.exists(f"/proc/{pid}")
    assert cgroups and not any(g.exists() for g in cgroups)
    assert not Path(f"/run/systemd/nspawn/propagate/{c.name}").exists()
    assert not (root / "var" / "tmp" / "written-inside").exists()
    assert fingerprint(root) == before


def test_two_containers_at_once_are_independent(root):
    with Container(root) as a, Container(root) as b:
        b.run(["systemctl", "stop", "nginx.service"])
        assert a.run(["systemctl", "is-active", "nginx.service"], check=False).stdout.strip() == "active"
        a.run("echo a > /var/www/html/who")
        assert a.net_run(["curl", "-sS", "http://127.0.0.1:80/who"]).stdout == "a\n"
        assert b.net_run(["curl", "-sS", "http://127.0.0.1:80/who"], check=False).returncode == 7  # refused
        cgroups = a._cgroups + b._cgroups
    assert not any(g.exists() for g in cgroups)


def test_exception_inside_shuts_down(root):
    with pytest.raises(KeyError):
        with Container(root) as c:
            tmp, ns = c.merged.parent, _pid_ns(c.pid)
            raise KeyError("boom")
    assert not tmp.exists() and _pids_in_ns(ns) == []


def test_unbootable_root_fails_fast(tmp_path):
    fake = tmp_path / "fake"
    (fake / "etc").mkdir(parents=True)
    (fake / "etc" / "machine-id").write_text("0" * 32 + "\n")
    before = set(Path(tempfile.gettempdir()).glob("chat-nspawn-*"))
    with pytest.raises(HarnessError, match="systemd-nspawn exited"):
        with Container(fake, boot_timeout=20):
            pass
    assert set(Path(tempfile.gettempdir()).glob("chat-nspawn-*")) == before


def probe_deb(dir: Path, name: str, depends: str) -> Path:
    """A minimal .deb that only depends on something, built with the host's dpkg-deb."""
    pkg = dir / name
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: test <test@example.com>\n"
        f"Depends: {depends}\nDescription: probe\n probe\n")
    (pkg / "usr" / "share" / name).mkdir(parents=True)
    (pkg / "usr" / "share" / name / "installed").write_text("yes\n")
    deb = dir / f"{name}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(pkg), str(deb)], check=True, capture_output=True)
    return deb


def test_deb_installs_offline_from_what_the_root_has(container, tmp_path):
    ok = probe_deb(tmp_path, "chat-probe-ok", "nginx, postgresql, redis-server, libpq5, libhiredis0.14")
    missing = probe_deb(tmp_path, "chat-probe-missing", "jq")  # not in the root, and there is no archive
    for deb in (ok, missing):
        container.copy_in(deb, f"/var/tmp/{deb.name}")
    apt = "cd /var/tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ./"
    container.run(apt + ok.name, timeout=120)
    assert container.run(["cat", "/usr/share/chat-probe-ok/installed"]).stdout == "yes\n"
    r = container.run(apt + missing.name, check=False, timeout=120)
    assert r.returncode != 0 and "jq" in r.stdout + r.stderr
