#!/usr/bin/python3
"""Boot a Debian 12 root with systemd as PID 1 in a systemd-nspawn container, for tests that need a real machine.

How it works
    cached_root(packages) debootstraps a bookworm minbase root with systemd, systemd-sysv, dbus and the packages,
    upgrades it from bookworm-updates and bookworm-security (what a real machine runs), sets it up to boot
    headless (a machine-id, a hostname, no getty, no maintenance timers) and keeps it between runs. Container(root) boots it without touching it: an overlayfs with the cached root as
    the lower dir and a fresh upper dir in a temp dir is the container's /, so everything the test writes
    (installed packages, databases, logs) goes away with the container. The container has a private network
    (only its own `lo`), so its nginx on :80, PostgreSQL on :5432 and Redis on :6379 cannot collide with this
    machine's programs; `Container.net_run` runs a host program (curl, /usr/bin/python3) in that network
    namespace to reach them. It has no archive either: every Debian package a test needs goes into the root
    when it is built, and a .deb is installed offline (`apt-get install ./x.deb` resolves from what is there).

    The host does not run systemd as PID 1, so the container is started with --register=no --keep-unit (no
    machined, no scope unit) and commands go in with `nsenter -a -t <pid of the container's systemd>`. This host
    mounts cgroups hybrid (v1 controllers, name=systemd v1, cgroup2 at /sys/fs/cgroup/unified); nspawn and the
    container's systemd work with that as they are (no SYSTEMD_NSPAWN_UNIFIED_HIERARCHY needed). Each container
    gets a cgroup of its own, chat-nspawn-<name>, in the name=systemd and cgroup2 trees: nspawn puts the
    container's `payload` cgroup in the cgroup it is started in, which without a host systemd would be the same
    one for every container. Inside: /run, /tmp and /dev/shm are tmpfs, the journal is persistent
    (/var/log/journal, in the overlay), `lo` is up and the only interface. PostgreSQL's cluster 15/main is
    created by the package's postinst during debootstrap and starts at boot, like redis-server and nginx.
    A boot that ends `degraded` is an error listing `systemctl --failed` and the journals of those units.

The cache
    /var/cache/chat-test-roots/<hash>/ (CHAT_CONTAINER_CACHE overrides the directory), one root per set of
    packages and debootstrap arguments (and version of the set-up code below: changing it builds a new root).
    A root is built in a temp dir next to it and renamed when complete, under a lock, so a killed build leaves
    no root that looks finished and two runs at once build it once. The downloaded .debs are kept in
    <cache>/debs/, so a second build with other packages does not fetch everything again.
    Clear it: `rm -rf /var/cache/chat-test-roots` (no container may be running from it). The first build of
    CHAT_ROOT_PACKAGES takes 2.5-4 minutes (downloads included), a boot of a cached root to `running` 4-5 s.

Command line
    /usr/bin/python3 tests/container/nspawn.py root PKG...    build (if needed) and print the cached root
    /usr/bin/python3 tests/container/nspawn.py shell PKG...   boot it and open a shell inside (gone on exit)

Needs root, debootstrap and systemd-container (deploy/deps.sh installs them) and the Debian archive for a build.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SUITE = "bookworm"
VARIANT = "minbase"
# The archive this host's apt uses (/etc/apt/sources.list.d/debian.sources).
MIRROR = os.environ.get("CHAT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("CHAT_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
# The root's archive, as this host has it: the release, its updates and its security updates.
SOURCES_LIST = (f"deb {MIRROR} {SUITE} main\ndeb {MIRROR} {SUITE}-updates main\n"
                f"deb {SECURITY_MIRROR} {SUITE}-security main\n")
# debootstrap installs the release's packages; a machine that runs the package has the updates since. The package
# lists go again afterwards, so an offline `apt-get install ./x.deb` in a container that lacks a dependency says
# it cannot be installed instead of trying to download it.
UPGRADE_SCRIPT = ("set -e; export DEBIAN_FRONTEND=noninteractive; apt-get -q update; "
                  "apt-get -q -y -o Dpkg::Options::=--force-confold upgrade; apt-get clean; "
                  "rm -rf /var/lib/apt/lists/*")
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus")
DEFAULT_CACHE = Path("/var/cache/chat-test-roots")
HOSTNAME = "chat-test"

# The Debian packages of a root that can take the project's .deb offline: the services it runs next to, curl for
# checks from inside, and the run-time libraries of the programs. test_nspawn.py and test_deb.py both use this
# list, so they share one cached root.
CHAT_ROOT_PACKAGES = ("postgresql", "redis-server", "nginx", "curl", "libpq5", "libhiredis0.14", "libjwt0",
                      "libcjson1", "libargon2-1", "libfcgi0ldbl")

NSENTER = "/usr/bin/nsenter"
NSPAWN = "/usr/bin/systemd-nspawn"
# What a command inside the container starts with: the host's environment (a pyenv PATH, the caller's HOME) means
# nothing there.
CONTAINER_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "LANG": "C.UTF-8", "TERM": os.environ.get("TERM", "dumb")}
CONTAINER_ENV["HOME"] = "/root"  # not-a-host-path: root's home inside the container


class HarnessError(RuntimeError):
    """The container could not be built, booted, used or cleaned up; the message says what happened."""


# --------------------------------------------------------------------------------------------------------------
# host helpers


def _require_root_and_tools() -> None:
    if os.geteuid() != 0:
        raise HarnessError("the container harness needs root (debootstrap, mount, systemd-nspawn, nsenter)")
    missing = [t for t in ("debootstrap", "systemd-nspawn", "nsenter") if shutil.which(t, path="/usr/sbin:/usr/bin")
               is None]
    if missing:
        raise HarnessError(f"missing {', '.join(missing)}: run deploy/deps.sh (debootstrap, systemd-container)")


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below path in this mount namespace, deepest first (the order to unmount them)."""
    prefix = str(path.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # The mount point is the 5th field, with space, tab, newline and backslash octal-escaped.
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def _unmount_all_under(path: Path) -> None:
    for point in _mounts_under(path):
        subprocess.run(["umount", point], capture_output=True)
    for point in _mounts_under(path):  # what is still busy goes lazily, so the rmtree below never crosses a mount
        subprocess.run(["umount", "-l", point], capture_output=True)
    left = _mounts_under(path)
    if left:
        raise HarnessError(f"cannot unmount {left}")


def _remove_tree(path: Path) -> None:
    if path.exists():
        _unmount_all_under(path)
        shutil.rmtree(path)


def _pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _pids_rooted_in(path: Path) -> list[int]:
    prefix = str(path.resolve())
    pids = []
    for entry in os.listdir("/proc"):
        try:
            r = os.readlink(f"/proc/{entry}/root") if entry.isdigit() else ""
        except OSError:
            continue
        if r == prefix or r.startswith(prefix + "/"):
            pids.append(int(entry))
    return pids


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, ppid, pgrp, ... ([] when it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def _pids_in_group(pgrp: int) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and _stat(int(e))[2:3] == [str(pgrp)]]


def _pids_in_ns(ns: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _pid_ns(int(entry)) == ns:
            pids.append(int(entry))
    return pids


def _cgroup_hierarchies() -> list[Path]:
    """Where this host mounts the cgroup trees systemd uses: cgroup2 (alone, or at unified/ next to cgroup v1) and
    the v1 name=systemd tree of a hybrid host like this one (nspawn puts the container's `payload` there)."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, point, fstype, opts = line.split()[:4]
        if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in opts.split(",")):
            found.append(Path(point))
    return found


def _cgroup_pids(group: Path) -> list[int]:
    pids = []
    for procs in group.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in procs.read_text().split()]
    return pids


def _make_cgroups(name: str) -> list[Path]:
    """A cgroup of its own for one nspawn, in each hierarchy, with exec/ below it for commands run inside.

    Without a host systemd, --keep-unit leaves the container in the caller's cgroup and nspawn makes its
    `payload` there: two containers started from the same cgroup would share one payload (each systemd then
    stops the other's services) and it would stay behind. Under a cgroup of its own, payload is only its own,
    and what is left of the commands is found, killed and the whole tree removed on exit."""
    groups = []
    for hierarchy in _cgroup_hierarchies():
        group = hierarchy / f"chat-nspawn-{name}"
        (group / "exec").mkdir(parents=True)
        groups.append(group)
    return groups


def _enter_cgroups(groups: list[Path], sub: str):
    """A preexec_fn that moves the new process into groups (sub: below them)."""
    procs = [group / sub / "cgroup.procs" for group in groups]

    def enter():
        for p in procs:
            with open(p, "w") as f:
                f.write("0")
    return enter


def _release_nspawn(name: str, groups: list[Path]) -> list[str]:
    """Remove what an nspawn that has exited leaves on the host: its cgroups, its propagate dir in /run (nspawn's
    own, which it removes itself; an empty one is just removed). Returns what could not be removed."""
    problems = []
    for group in groups:
        left = _cgroup_pids(group)
        if left:
            problems.append(f"processes left in {group}: {left}")
            continue
        try:
            for d in sorted((p for p in group.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                d.rmdir()
            group.rmdir()
        except OSError as e:
            problems.append(f"cannot remove {group}: {e}")
    propagate = Path("/run/systemd/nspawn/propagate") / name
    if propagate.is_dir():
        with contextlib.suppress(OSError):
            propagate.rmdir()
        if propagate.exists():
            problems.append(f"{propagate} left")
    return problems


# --------------------------------------------------------------------------------------------------------------
# the cached root


def _prepare_root(root: Path) -> None:
    """Make a fresh debootstrapped root boot headless in a container to `running` (this function's source is part
    of the cache key: a change here builds new roots)."""
    etc = root / "etc"
    # A machine-id of its own, also for D-Bus (Debian's systemd postinst leaves a second copy in /var/lib/dbus,
    # which systemd would take if /etc/machine-id were ever emptied). An empty one would make every boot a first
    # boot, with systemd-firstboot asking on a console nobody reads; containers of one root share the id, which is
    # harmless for machines without a network.
    (etc / "machine-id").write_text(uuid.uuid4().hex + "\n")
    dbus_id = root / "var" / "lib" / "dbus" / "machine-id"
    dbus_id.unlink(missing_ok=True)
    dbus_id.symlink_to("/etc/machine-id")
    (etc / "hostname").write_text(HOSTNAME + "\n")
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n::1\tlocalhost ip6-localhost\n")
    units = etc / "systemd" / "system"
    masked = (
        # No login prompts: nothing reads the container's console (commands go in with nsenter; nspawn runs with
        # --console=pipe), and a getty on /dev/console or a tty that is not there only fails or waits.
        "getty.target", "console-getty.service", "container-getty@.service", "getty@.service",
        "serial-getty@.service",
        # Maintenance timers, which would fire in the middle of a test: apt's daily update and upgrade need the
        # archive the container does not have and take the dpkg lock a test's `apt-get install` then waits for,
        # dpkg-db-backup reads the database such an install writes, e2scrub and fstrim act on the host's disks.
        "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer", "fstrim.timer",
    )
    for unit in masked:
        link = units / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    for wants in units.glob("*.wants"):
        for link in wants.iterdir():
            if link.name in masked or link.name.startswith("getty@"):
                link.unlink()


def _run_in_root(root: Path, script: str, log: Path) -> None:
    """Run a shell script in root with the host's network (systemd-nspawn without --boot: /proc, /sys and /dev
    set up as for a container, unlike a bare chroot), its output appended to log."""
    name = f"chat-build-{uuid.uuid4().hex[:8]}"
    groups = _make_cgroups(name)
    try:
        with open(log, "a") as out:
            rc = subprocess.run([NSPAWN, "--quiet", "--register=no", "--keep-unit", "--pipe", f"--machine={name}",
                                 "-D", str(root), "/bin/sh", "-c", script],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_enter_cgroups(groups, "")).returncode
    finally:
        problems = _release_nspawn(name, groups)
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise HarnessError(f"{script!r} in {root} failed (exit {rc}):\n{tail}")
    if problems:
        raise HarnessError("; ".join(problems))


def _cache_dir() -> Path:
    return Path(os.environ.get("CHAT_CONTAINER_CACHE") or DEFAULT_CACHE)


def _debootstrap_args(packages: list[str]) -> list[str]:
    include = sorted(set(BASE_PACKAGES) | set(packages))
    return [f"--variant={VARIANT}", f"--include={','.join(include)}", SUITE]


def root_key(packages: list[str]) -> str:
    """The cache key of a root: the debootstrap arguments, the mirror and the set-up code."""
    spec = {"args": _debootstrap_args(packages), "mirror": MIRROR, "sources": SOURCES_LIST,
            "upgrade": UPGRADE_SCRIPT, "setup": inspect.getsource(_prepare_root)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cached_root(packages: list[str] | tuple[str, ...] = ()) -> Path:
    """A bookworm minbase root with systemd, systemd-sysv, dbus and `packages`, built once and cached."""
    _require_root_and_tools()
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    key = root_key(list(packages))
    root = cache / key
    if root.is_dir():  # only a finished build is renamed to this name
        return root
    # One lock for every build, not one per root: builds share the .deb cache that debootstrap downloads into.
    with open(cache / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run waits here and then finds the root the first one built
        if root.is_dir():
            return root
        # Under the lock a leftover build dir belongs to a build that was killed: it is never finished, only removed.
        for stale in cache.glob(f".build-{key}-*"):
            _remove_tree(stale)
        build = cache / f".build-{key}-{os.getpid()}"
        debs = cache / "debs"
        debs.mkdir(exist_ok=True)
        args = _debootstrap_args(list(packages))
        cmd = ["debootstrap", f"--cache-dir={debs}", *args, str(build), MIRROR]
        log = cache / f".build-{key}.log"
        start = time.monotonic()
        print(f"nspawn: building {root} ({' '.join(args)}), log {log}", file=sys.stderr, flush=True)
        try:
            with open(log, "w") as out:
                rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
            if rc != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise HarnessError(f"debootstrap failed (exit {rc}): {' '.join(cmd)}\n{tail}")
            # A daemon a postinst started in the chroot would run on the host from the root (policy-rc.d is not
            # needed today: invoke-rc.d finds no runlevel in a chroot and starts nothing; this says so if that
            # ever changes).
            daemons = _pids_rooted_in(build)
            if daemons:
                raise HarnessError(f"debootstrap left processes running in {build}: {daemons}")
            _unmount_all_under(build)  # debootstrap's /proc and /sys, if it left them
            (build / "var" / "cache" / "apt" / "archives").mkdir(parents=True, exist_ok=True)
            for deb in (build / "var" / "cache" / "apt" / "archives").glob("*.deb"):
                deb.unlink()
            (build / "etc" / "apt" / "sources.list").write_text(SOURCES_LIST)
            _run_in_root(build, UPGRADE_SCRIPT, log)
            _prepare_root(build)  # after the upgrade, so no package's maintainer script undoes it
            build.rename(root)
        except BaseException:
            _remove_tree(build)
            raise
        print(f"nspawn: built {root} in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        return root


# --------------------------------------------------------------------------------------------------------------
# the container


class Container:
    """A booted container over a cached root (the root is never modified). Use as a context manager."""

    def __init__(self, root: Path | str, boot_timeout: float = 60, name: str | None = None):
        self.root = Path(root)
        self.boot_timeout = boot_timeout
        self.name = name or f"chat-test-{uuid.uuid4().hex[:8]}"
        self.pid: int | None = None  # the host pid of the container's systemd
        self._tmp: Path | None = None
        self.merged: Path | None = None
        self._nspawn: subprocess.Popen | None = None
        self._pid_ns: str | None = None
        self.console_log: Path | None = None
        self._cgroups: list[Path] = []

    # ---- life cycle

    def __enter__(self) -> "Container":
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def _start(self) -> None:
        _require_root_and_tools()
        if not (self.root / "etc" / "machine-id").exists():
            raise HarnessError(f"{self.root} is not a root built by cached_root()")
        self._tmp = Path(tempfile.mkdtemp(prefix="chat-nspawn-"))
        upper, work, self.merged = self._tmp / "upper", self._tmp / "work", self._tmp / "root"
        for d in (upper, work, self.merged):
            d.mkdir()
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={self.root},upperdir={upper},workdir={work}", str(self.merged)],
                       check=True, capture_output=True, text=True)
        self._cgroups = _make_cgroups(self.name)
        self.console_log = self._tmp / "console.log"
        with open(self.console_log, "w") as log:
            # Its own session: a Ctrl-C at the terminal reaches only this process, whose __exit__ shuts the
            # container down in order, instead of nspawn too.
            self._nspawn = subprocess.Popen(
                [NSPAWN, "--quiet", "--boot", "--register=no", "--keep-unit", "--private-network",
                 "--link-journal=no", "--console=pipe", f"--machine={self.name}", "-D", str(self.merged)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_enter_cgroups(self._cgroups, ""))
        deadline = time.monotonic() + self.boot_timeout
        self.pid = self._find_init(deadline)
        self._pid_ns = _pid_ns(self.pid)
        self._wait_running(deadline)

    def _find_init(self, deadline: float) -> int:
        """The container's PID 1 as the host sees it: the child of nspawn that is pid 1 in its own namespace and
        has exec'd systemd."""
        while time.monotonic() < deadline:
            if self._nspawn.poll() is not None:
                raise HarnessError(f"systemd-nspawn exited with {self._nspawn.returncode}:\n{self._console_tail()}")
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    status = Path(f"/proc/{entry}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
                nspid = fields.get("NSpid", "").split()
                if (fields.get("PPid", "").strip() == str(self._nspawn.pid) and len(nspid) > 1 and nspid[-1] == "1"
                        and fields.get("Name", "").strip() == "systemd"):
                    return int(entry)
            time.sleep(0.05)
        raise HarnessError(f"the container's systemd did not start in {self.boot_timeout} s:\n{self._console_tail()}")

    def _wait_running(self, deadline: float) -> None:
        state = ""
        while time.monotonic() < deadline:
            if self._nspawn.poll() is not None:
                raise HarnessError(f"systemd-nspawn exited with {self._nspawn.returncode}:\n{self._console_tail()}")
            try:
                # Before its bus is up systemctl cannot connect and says so; --wait then waits for the boot's end.
                r = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                             timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                break
            state = r.stdout.strip()
            if state == "running":
                return
            # ("offline" or nothing: its manager is not reachable yet, asked again.)
            if state in ("degraded", "maintenance", "stopping"):
                failed = self.run(["systemctl", "--failed", "--no-pager", "--full"], check=False).stdout
                units = self.run(["systemctl", "--failed", "--plain", "--no-legend", "--full"], check=False).stdout
                logs = "".join(f"\n--- journal of {line.split()[0]}\n{self.journal(line.split()[0], lines=20)}"
                               for line in units.splitlines() if line.strip())
                raise HarnessError(f"the container booted {state}, failed units:\n{failed}{logs}")
            time.sleep(0.2)
        jobs = self.run(["systemctl", "list-jobs", "--no-pager"], check=False, timeout=10).stdout
        raise HarnessError(f"the container did not reach running in {self.boot_timeout} s (last state "
                           f"{state!r}), jobs:\n{jobs}\nconsole:\n{self._console_tail()}")

    def _console_tail(self, lines: int = 40) -> str:
        if self.console_log and self.console_log.exists():
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def _stop(self) -> None:
        problems = []
        # What run() started and left behind (a killed nsenter's child) first: the container's systemd does not
        # manage it and its shutdown would wait 10 s for it.
        self._kill_cgroup("exec")
        if self._nspawn is not None:
            if self._nspawn.poll() is None and self.pid is not None:
                with contextlib.suppress(Exception):  # a container that does not answer is killed below
                    self.run(["systemctl", "poweroff", "--no-block"], check=False, timeout=10)
                try:
                    self._nspawn.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    problems.append("the container did not power off in 30 s; killed")
            if self._nspawn.poll() is None:
                # Killing PID 1 of the container kills every process of its pid namespace; nspawn then exits.
                if self.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGKILL)
                try:
                    self._nspawn.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._nspawn.kill()
                    self._nspawn.wait()
            self._nspawn = None
        if self._pid_ns is not None:
            deadline = time.monotonic() + 5
            while _pids_in_ns(self._pid_ns) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = _pids_in_ns(self._pid_ns)
            if left:
                problems.append(f"processes of the container left: {left}")
        self._kill_cgroup("")
        problems += _release_nspawn(self.name, self._cgroups)
        self._cgroups = []
        if self._tmp is not None:
            try:
                _remove_tree(self._tmp)
            except HarnessError as e:
                problems.append(str(e))
            self._tmp = None
        self.pid = None
        if problems:
            raise HarnessError("; ".join(problems))

    def _kill_cgroup(self, sub: str) -> None:
        """SIGKILL every process in this container's cgroup (sub: below it) until none is left (bounded)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = [p for group in self._cgroups for p in _cgroup_pids(group / sub)]
            if not pids:
                return
            self._kill(pids)
            time.sleep(0.05)

    def _kill(self, pids: list[int]) -> None:
        """SIGKILL pids, those inside the container first. An nsenter killed before its child leaves the child to the
        host's init to reap (the child's parent was in the host's pid namespace), and the container's shutdown
        waits 10 s for that zombie; killed first, the child is reaped by nsenter, which then exits by itself."""
        inside = [p for p in pids if self._pid_ns is not None and _pid_ns(p) == self._pid_ns]
        for pid in inside:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in inside) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in set(pids) - set(inside):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # ---- using it

    def _check_booted(self) -> int:
        if self.pid is None:
            raise HarnessError("the container is not running")
        return self.pid

    def run(self, cmd: list[str] | str, check: bool = True, input: str | None = None, timeout: float = 60,
            env: dict | None = None) -> subprocess.CompletedProcess:
        """Run cmd (a list, or a string for /bin/sh -c) inside the container as root; text output captured."""
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return self._exec([NSENTER, "-a", "-t", str(self._check_booted()), "--", *argv], cmd, check, input, timeout,
                          {**CONTAINER_ENV, **(env or {})}, self._enter_cgroup("exec"))

    def net_run(self, cmd: list[str] | str, check: bool = True, input: str | None = None, timeout: float = 60,
                env: dict | None = None) -> subprocess.CompletedProcess:
        """Run a HOST program in the container's network namespace only (its 127.0.0.1 is the container's)."""
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return self._exec([NSENTER, "-n", "-t", str(self._check_booted()), "--", *argv], cmd, check, input, timeout,
                          {**os.environ, **(env or {})}, self._enter_cgroup("exec"))

    def _enter_cgroup(self, sub: str):
        return _enter_cgroups(self._cgroups, sub)

    def _exec(self, argv, cmd, check, input, timeout, env, preexec) -> subprocess.CompletedProcess:
        # Its own process group, so a timeout kills nsenter's forked child too, not only nsenter.
        with subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              start_new_session=True, preexec_fn=preexec) as p:
            try:
                out, err = p.communicate(input, timeout=timeout)
            except BaseException:
                self._kill(_pids_in_group(p.pid))
                p.communicate()
                raise
        r = subprocess.CompletedProcess(argv, p.returncode, out, err)
        if check and r.returncode != 0:
            raise HarnessError(f"{cmd!r} exited with {r.returncode}\n--- stdout\n{out}\n--- stderr\n{err}")
        return r

    def copy_in(self, src: Path | str, dst: str) -> None:
        """Copy a host file or directory to dst (an absolute path inside the container)."""
        self._check_booted()
        target = self.merged / dst.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(src).is_dir():
            shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target)

    def journal(self, unit: str | None = None, lines: int = 200) -> str:
        """The container's journal of a unit (all of it without one), as text for failure messages."""
        cmd = ["journalctl", "--no-pager", "-o", "short-precise", "-n", str(lines)]
        if unit:
            cmd += ["-u", unit]
        r = self.run(cmd, check=False)
        return r.stdout + r.stderr


# --------------------------------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Cache: $CHAT_CONTAINER_CACHE or /var/cache/chat-test-roots; "
                                            "rm -rf it to clear.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_root = sub.add_parser("root", help="build (if needed) the cached root with these packages and print its path")
    p_root.add_argument("packages", nargs="*", help="Debian packages besides systemd, systemd-sysv and dbus")
    p_shell = sub.add_parser("shell", help="boot the cached root with these packages and open a shell inside")
    p_shell.add_argument("packages", nargs="*", help="Debian packages besides systemd, systemd-sysv and dbus")
    args = parser.parse_args(argv)
    # SIGTERM as an exception, so the container is shut down and its overlay removed as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        root = cached_root(args.packages)
        if args.command == "root":
            print(root)
            return 0
        with Container(root) as c:
            print(f"container {c.name} (pid {c.pid}) is running; exit the shell to shut it down", file=sys.stderr)
            shell = subprocess.Popen([NSENTER, "-a", "-t", str(c.pid), "--", "/bin/bash", "-l"],
                                     env=CONTAINER_ENV,
                                     preexec_fn=c._enter_cgroup("exec"))
            try:
                return shell.wait()
            finally:  # also on SIGTERM: the shell and what it left running, inside first (see Container._kill)
                c._kill_cgroup("exec")
                shell.wait()
    except HarnessError as e:
        print(f"nspawn: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
