"""Helpers of the chat-worker tests: a small RESP2 client on the stack's Redis socket, extra chat-worker
processes started from build/ with the stack's chat.env, pausing the stack's own workers, and short-cuts
for channels and messages over the real HTTP API."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from conftest import REPO, auth_headers, parse_env_file, wait_until

JOBS = "chat:jobs"
DELAYED = "chat:jobs:delayed"
DEAD = "chat:jobs:dead"
EVENTS = "chat:events"
GROUP = "workers"


# --------------------------------------------------------------------------------------------
# Redis


class RedisError(Exception):
    pass


class Redis:
    """A RESP2 client over the stack's unix socket (the suite uses only Debian's python3 packages)."""

    def __init__(self, sock_path: str, timeout: float = 30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(sock_path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _encode(args) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RedisError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RedisError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RedisError(f"bad reply line {line!r}")

    def __call__(self, *args):
        self.sock.sendall(self._encode(args))
        r = self._reply()
        if isinstance(r, RedisError):
            raise r
        return r

    def pipeline(self, commands: list) -> list:
        """Sends every command at once, then reads every reply (errors returned, not raised)."""
        self.sock.sendall(b"".join(self._encode(c) for c in commands))
        return [self._reply() for _ in commands]


def fields(flat: list) -> dict:
    return dict(zip(flat[0::2], flat[1::2]))


def entries(r: Redis, stream: str, start: str = "-", end: str = "+") -> list[tuple[str, dict]]:
    return [(eid, fields(flat)) for eid, flat in (r("XRANGE", stream, start, end) or [])]


def last_id(r: Redis, stream: str) -> str:
    top = r("XREVRANGE", stream, "+", "-", "COUNT", 1) or []
    return top[0][0] if top else "0-0"


def enqueue(r: Redis, job_type: str, payload: dict, **extra) -> str:
    args = ["XADD", JOBS, "*", "type", job_type, "payload", json.dumps(payload)]
    for k, v in extra.items():
        args += [k, v]
    return r(*args)


def pending_of(r: Redis, consumer: str) -> list[str]:
    """Entry ids taken by `consumer` and not acked."""
    try:
        rows = r("XPENDING", JOBS, GROUP, "-", "+", 10000, consumer) or []
    except RedisError:
        return []
    return [row[0] for row in rows]


def counter(r: Redis, key: str) -> int:
    v = r("GET", key)
    return int(v) if v else 0


# --------------------------------------------------------------------------------------------
# worker processes


def build_dir(stack) -> Path:
    return Path(stack.env.get("CHAT_BUILD_DIR") or REPO / "build")


def worker_env(stack, **extra) -> dict:
    """The environment stack.sh gives its daemons: ours, minus anything pointing elsewhere, plus chat.env."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WORKER_") and k not in ("DATABASE_URL", "REDIS_URL", "CHAT_WORKER_TEST_JOBS")}
    env.update(parse_env_file(stack.run_dir / "chat.env"))
    env["CHAT_ENV_FILE"] = str(stack.run_dir / "chat.env")
    env.update({k: str(v) for k, v in extra.items()})
    return env


class WorkerProc:
    """One chat-worker started by a test; its log goes to <run dir>/logs/<name>.log."""

    def __init__(self, stack, name: str, **env):
        self.stack = stack
        self.name = name
        self.log_path = stack.run_dir / "logs" / f"{name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(build_dir(stack) / "chat-worker")], cwd=stack.run_dir, env=worker_env(stack, **env),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True,
        )
        self.consumer = f"{socket.gethostname()}:{self.proc.pid}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_started(self, r: Redis, timeout: float = 10):
        """Until its consumer shows in the group (it has read or claimed at least once)."""
        def seen():
            assert self.alive(), f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
            return self.started_logged()
        wait_until(seen, timeout, f"{self.name} to start")

    def started_logged(self) -> bool:
        return b"event=worker_started" in self.log_path.read_bytes()

    def terminate(self, timeout: float = 15) -> float:
        """SIGTERM; returns the seconds it took to exit."""
        t0 = time.monotonic()
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        return time.monotonic() - t0

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(timeout=10)
        # A killed worker's heartbeat stays, stale, for /health to report (core/heartbeat.hpp); this one was
        # killed on purpose, so the suite's later /health checks must not see it.
        subprocess.run(["redis-cli", "-s", self.stack.redis_sock, "ZREM", "chat:heartbeat:worker", self.consumer],
                       capture_output=True, timeout=10)

    def stop(self):
        try:
            if self.alive():
                self.terminate()
        except subprocess.TimeoutExpired:
            self.kill9()
        finally:
            self.log.close()

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_admin(stack, *args, check: bool = True) -> subprocess.CompletedProcess:
    """`chat-worker ARGS` (the operator command) with the stack's environment."""
    r = subprocess.run([str(build_dir(stack) / "chat-worker"), *args], cwd=stack.run_dir, env=worker_env(stack),
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if check:
        assert r.returncode == 0, f"chat-worker {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@contextmanager
def stack_workers_paused(stack):
    """Stops the stack's own chat-worker daemons (they run without test jobs, and would dead-letter them as
    unknown types) through its supervisor, and starts them again afterwards."""
    out = subprocess.run(["supervisorctl", "-c", str(stack.run_dir / "supervisord.conf"), "stop", "chat-worker:*"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    names = [line.split(":")[1] for line in out.stdout.splitlines() if ": stopped" in line]
    try:
        yield names
    finally:
        r = subprocess.run(["supervisorctl", "-c", str(stack.run_dir / "supervisord.conf"), "start", "chat-worker:*"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr


# --------------------------------------------------------------------------------------------
# HTTP short-cuts


def uniq(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:10]


def H(reg) -> dict:
    return auth_headers(reg.access)


def new_channel(api, owner, *, private: bool = False) -> str:
    r = api.post("/api/v1/channels/", json={"name": uniq("wk_"), "is_private": private}, headers=H(owner))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def join(api, user, channel_id: str) -> None:
    r = api.post("/api/v1/channels/join", json={"channel_id": channel_id}, headers=H(user))
    assert r.status_code == 200, r.text


def send(api, user, channel_id: str, content: str) -> dict:
    r = api.post("/api/v1/messages/", json={"channel_id": channel_id, "content": content}, headers=H(user))
    assert r.status_code == 201, r.text
    return r.json()


def me(api, user) -> dict:
    r = api.get("/api/v1/auth/me", headers=H(user))
    assert r.status_code == 200, r.text
    return r.json()


def mentions_of(api, user) -> list:
    r = api.get("/api/v1/messages/mentions/my", headers=H(user))
    assert r.status_code == 200, r.text
    return r.json()
