"""Fixtures of the integration suite: one real stack (PostgreSQL, Redis, nginx, handlers) per session."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import namedtuple
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpcore
import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
STACK_SH = REPO / "deploy" / "stack.sh"

CORS_ORIGINS = "http://localhost:3000,http://allowed.example"
RATE_LIMIT_AUTH = "100"
RATE_LIMIT_AUTH_BURST = "200"
ACCESS_TOKEN_EXPIRE_MINUTES = "15"

PASSWORD = "Correct-horse-9"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
USER_FIELDS = {
    "id", "username", "email", "avatar", "role", "status", "is_active", "is_online",
    "last_seen_at", "created_at", "updated_at",
}
AUTH_FIELDS = {"access_token", "token_type", "expires_in", "refresh_token", "user"}

Registered = namedtuple("Registered", "user access refresh")


# --------------------------------------------------------------------------------------------
# small helpers usable from every test module


def uname(prefix: str = "u_") -> str:
    """A username nobody else in the session has."""
    return prefix + uuid.uuid4().hex[:10]


def auth_headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_run_dir(prefix: str) -> Path:
    """A run dir the postgres OS user can traverse (pytest's tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


def parse_env_file(path: Path) -> dict:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def log_tails(run_dir: Path, lines: int = 40) -> str:
    out = []
    logs = Path(run_dir) / "logs"
    if not logs.is_dir():
        return f"(no log directory {logs})"
    for f in sorted(logs.rglob("*")):
        if f.is_file():
            try:
                text = f.read_text(errors="replace").splitlines()
            except OSError as e:  # pragma: no cover - diagnostics only
                text = [f"<unreadable: {e}>"]
            out.append(f"----- {f} (last {lines} lines) -----")
            out.extend(text[-lines:])
    return "\n".join(out) if out else f"(no log files in {logs})"


# HTTP clients with TCP_NODELAY: httpx 0.23 writes a request's headers and body with two send()
# calls and leaves Nagle on, so every request with a body waits ~40 ms for the server's delayed ACK.


def _nodelay_transport() -> httpx.HTTPTransport:
    opt = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        return httpx.HTTPTransport(socket_options=[opt])  # httpx >= 0.24
    except TypeError:
        from httpcore.backends.sync import SyncBackend  # httpcore 0.16 (httpx 0.23)

        class NoDelayBackend(SyncBackend):
            def connect_tcp(self, host, port, timeout=None, local_address=None):
                stream = super().connect_tcp(host, port, timeout=timeout, local_address=local_address)
                stream.get_extra_info("socket").setsockopt(*opt)
                return stream

        transport = httpx.HTTPTransport()
        transport._pool = httpcore.ConnectionPool(network_backend=NoDelayBackend())
        return transport


def http_client(base_url: str, timeout: float = 60) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False, transport=_nodelay_transport())



def stack_env(run_dir: Path, port: int) -> dict:
    env = dict(os.environ)
    # the stack makes its own database, redis and secret; never point it at a developer's
    for k in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY", "SECRET_KEY"):
        env.pop(k, None)
    env.update(
        CHAT_RUN_DIR=str(run_dir),
        CHAT_HTTP_PORT=str(port),
        BACKEND_CORS_ORIGINS=CORS_ORIGINS,
        RATE_LIMIT_AUTH=RATE_LIMIT_AUTH,
        RATE_LIMIT_AUTH_BURST=RATE_LIMIT_AUTH_BURST,
        # message sends are limited per user; tests that flood on purpose set their own stack
        RATE_LIMIT_SEND="100000",
        RATE_LIMIT_SEND_BURST="100000",
        ACCESS_TOKEN_EXPIRE_MINUTES=ACCESS_TOKEN_EXPIRE_MINUTES,
        MODERATION_HOUR_SECONDS="1",  # a ban's or suspension's "hour" lasts a second in the tests
    )
    env.setdefault("CHAT_BUILD_DIR", str(REPO / "build"))
    return env


# --------------------------------------------------------------------------------------------
# JWT helpers (no PyJWT: hmac + hashlib + base64)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token: str) -> tuple[dict, dict]:
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def jwt_payload(token: str) -> dict:
    return jwt_parts(token)[1]


_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def forge_jwt(payload: dict, key: bytes | None, alg: str = "HS256", header: dict | None = None) -> str:
    """Sign payload with key using alg (HS256/HS384/HS512); any other alg gets an empty signature."""
    header = header if header is not None else {"alg": alg, "typ": "JWT"}
    signing = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    if alg in _HASHES and key is not None:
        sig = b64url(hmac.new(key, signing.encode(), _HASHES[alg]).digest())
    else:
        sig = ""
    return signing + "." + sig


# --------------------------------------------------------------------------------------------
# the stack


@dataclass
class Stack:
    base_url: str
    run_dir: Path
    env: dict
    fresh: bool  # started by this session on an empty database
    admin: Registered | None = None
    admin_password: str = PASSWORD
    admin_register_body: dict = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        """What the programs connect as: the application role (chat_app), which holds only its grants."""
        return self.env["DATABASE_URL"]

    @property
    def owner_url(self) -> str:
        """The owner of the schema (chat_owner), as migrations run."""
        return self.env.get("MIGRATE_DATABASE_URL") or self.env["DATABASE_URL"]

    @property
    def superuser_url(self) -> str:
        """The dev stack's cluster superuser (trust authentication on its own unix socket), for set-up in tests."""
        return re.sub(r"user=[^&]*", "user=postgres", self.env["DATABASE_URL"])

    @property
    def redis_sock(self) -> str:
        url = self.env["REDIS_URL"]
        assert url.startswith("unix://"), f"REDIS_URL is not a unix socket URL: {url}"
        return url[len("unix://"):].split("?", 1)[0]

    @property
    def jwt_secret(self) -> bytes:
        secret = self.env.get("JWT_SECRET_KEY") or self.env.get("SECRET_KEY")
        assert secret, "chat.env has neither JWT_SECRET_KEY nor SECRET_KEY"
        return secret.encode()

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1].rstrip("/"))

    def setting(self, name: str, default: str) -> str:
        return self.env.get(name) or os.environ.get(name) or default

    @property
    def access_minutes(self) -> int:
        return int(self.setting("ACCESS_TOKEN_EXPIRE_MINUTES", "30"))

    @property
    def auth_burst(self) -> int:
        return int(self.setting("RATE_LIMIT_AUTH_BURST", "20"))

    @property
    def auth_rate(self) -> int:
        return int(self.setting("RATE_LIMIT_AUTH", "5"))


def run_stack(cmd: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(STACK_SH), cmd], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=timeout,
    )


def wait_health(base_url: str, timeout: float) -> httpx.Response | None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(base_url + "/health", timeout=5)
            if last.status_code == 200:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return last


def _register_admin(stack: Stack) -> None:
    name = uname("admin_")
    body = {"email": f"{name}@Example.COM", "username": name, "password": PASSWORD}
    r = httpx.post(stack.base_url + "/api/v1/auth/register", json=body, timeout=30)
    if r.status_code != 201:
        raise AssertionError(f"registering the admin user failed: {r.status_code} {r.text}")
    d = r.json()
    stack.admin = Registered(d["user"], d["access_token"], d["refresh_token"])
    stack.admin_register_body = body
    if not stack.fresh:
        # an already running stack: its first user is someone else; promote ours
        psql(stack.database_url, "UPDATE users SET role = 'admin' WHERE id = :'p1'", d["user"]["id"])


@pytest.fixture(scope="session")
def stack(request) -> Stack:
    ext_url = os.environ.get("CHAT_TEST_BASE_URL")
    ext_run = os.environ.get("CHAT_TEST_RUN_DIR")
    if ext_url or ext_run:
        if not (ext_url and ext_run):
            pytest.fail("CHAT_TEST_BASE_URL and CHAT_TEST_RUN_DIR must be set together")
        run_dir = Path(ext_run)
        st = Stack(ext_url.rstrip("/"), run_dir, parse_env_file(run_dir / "chat.env"), fresh=False)
        h = wait_health(st.base_url, 10)
        if h is None or h.status_code != 200:
            pytest.fail(f"the running stack at {st.base_url} is not healthy\n{log_tails(run_dir)}")
        _register_admin(st)
        yield st
        return

    if not STACK_SH.is_file():
        pytest.fail(f"{STACK_SH} does not exist: cannot start the stack")
    run_dir = make_run_dir("chat-it-")
    port = free_port()
    env = stack_env(run_dir, port)
    started = False
    setup_ok = False
    try:
        try:
            up = run_stack("up", env, timeout=240)
            out = up.stdout + up.stderr
            rc = up.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = f"{e.stdout or ''}{e.stderr or ''}\n(timed out after 240 s)", -1
        ready = f"chat stack ready: http://127.0.0.1:{port}"
        if rc != 0 or ready not in out:
            pytest.fail(
                f"deploy/stack.sh up failed (rc={rc}, expected the line {ready!r})\n"
                f"--- output ---\n{out}\n--- logs ---\n{log_tails(run_dir)}"
            )
        started = True
        st = Stack(f"http://127.0.0.1:{port}", run_dir, parse_env_file(run_dir / "chat.env"), fresh=True)
        try:
            _register_admin(st)
        except AssertionError as e:
            pytest.fail(f"{e}\n--- logs ---\n{log_tails(run_dir)}")
        setup_ok = True
        yield st
    finally:
        down = run_stack("down", env, timeout=120)
        failed = request.session.testsfailed
        if down.returncode != 0:
            print(f"\ndeploy/stack.sh down failed rc={down.returncode}:\n{down.stdout}{down.stderr}")
            print(log_tails(run_dir))
        if started and not failed and down.returncode == 0:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"\nstack run dir kept for inspection: {run_dir}")
        if setup_ok:
            assert down.returncode == 0, f"deploy/stack.sh down failed: {down.stdout}{down.stderr}"


@pytest.fixture(scope="session")
def base_url(stack) -> str:
    return stack.base_url


@pytest.fixture(scope="session")
def api(stack):
    with http_client(stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def admin(stack) -> Registered:
    return stack.admin


# --------------------------------------------------------------------------------------------
# registration / login helpers


def register_user(api: httpx.Client, username=None, email=None, password=PASSWORD, avatar=None) -> Registered:
    username = username or uname()
    email = email or f"{username}@example.com"
    body = {"email": email, "username": username, "password": password}
    if avatar is not None:
        body["avatar"] = avatar
    r = api.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, f"register {username}: {r.status_code} {r.text}"
    d = r.json()
    return Registered(d["user"], d["access_token"], d["refresh_token"])


@pytest.fixture
def register(api):
    """register(username=None, email=None, password=PASSWORD, avatar=None) -> (user, access, refresh)."""

    def _register(username=None, email=None, password=PASSWORD, avatar=None) -> Registered:
        return register_user(api, username, email, password, avatar)

    return _register


@pytest.fixture
def user(register) -> Registered:
    return register()


def login_json(api: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return api.post("/api/v1/auth/login", json={"username": username, "password": password})


@pytest.fixture
def login(api):
    """login(username, password=PASSWORD) -> Registered, asserting 200."""

    def _login(username, password=PASSWORD) -> Registered:
        r = login_json(api, username, password)
        assert r.status_code == 200, f"login {username}: {r.status_code} {r.text}"
        d = r.json()
        return Registered(d["user"], d["access_token"], d["refresh_token"])

    return _login


# --------------------------------------------------------------------------------------------
# database and redis


def psql(database_url: str, sql: str, *params, options: str | None = None) -> list[list[str]]:
    """Run sql through psql; params are bound to psql variables p1, p2, ... (write :'p1' in sql); `options` are
    the session's settings (PGOPTIONS, as libpq's `options`).

    Returns the rows (lists of column strings). Values passed are test-generated, never user input.
    """
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\x1f"]
    for i, p in enumerate(params, 1):
        cmd += ["-v", f"p{i}={p}"]
    cmd.append(database_url)
    env = {**os.environ, "PGOPTIONS": options} if options else None
    r = subprocess.run(cmd, input=sql + "\n", capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, f"psql failed ({r.returncode}): {r.stderr}\nSQL: {sql}"
    return [line.split("\x1f") for line in r.stdout.splitlines() if line != ""]


@pytest.fixture(scope="session")
def db(stack):
    """db(sql, *params) -> rows; use :'p1', :'p2' ... in sql for the params."""

    def _db(sql: str, *params):
        return psql(stack.database_url, sql, *params)

    return _db


def redis_cli_run(sock: str, *args, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["redis-cli", "-s", sock, *map(str, args)], capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, f"redis-cli {args} failed: {r.stdout}{r.stderr}"
    return r



# --------------------------------------------------------------------------------------------
# waiting, and restarting the stack's Redis (tests that stop it on purpose)


def wait_until(fn, timeout: float, what: str, interval: float = 0.05):
    """Polls fn() until it returns something truthy; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last value {v!r})")
        time.sleep(interval)


PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


def as_postgres(*cmd, cwd):
    """A PostgreSQL binary as the postgres OS user (it refuses root), as deploy/stack.sh runs it."""
    return subprocess.run(
        ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd],
        cwd=cwd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
    )


def pg_accepts(stack) -> bool:
    return subprocess.run(["psql", "-X", "-qAt", "-c", "SELECT 1", stack.database_url],
                          capture_output=True, text=True).stdout.strip() == "1"


def redis_answers(stack) -> bool:
    return redis_cli_run(stack.redis_sock, "ping", check=False).stdout.strip() == "PONG"


READY = {"postgres": pg_accepts, "redis": redis_answers}


def ctl(stack, *args, check: bool = True) -> subprocess.CompletedProcess:
    """supervisorctl of the stack (deploy/stack.sh runs every program under supervisord)."""
    r = subprocess.run(["supervisorctl", "-c", str(stack.run_dir / "supervisord.conf"), *args],
                       capture_output=True, text=True, timeout=90)
    if check:
        assert r.returncode == 0, f"supervisorctl {' '.join(args)} -> {r.returncode}: {r.stdout}{r.stderr}"
    return r


def program_pid(stack, name: str) -> int:
    """The pid of one supervised program ("postgres", "chat-realtime-1", "chat-worker:chat-worker-1", ...)."""
    out = ctl(stack, "pid", name, check=False).stdout.strip()
    assert out.isdigit() and int(out) > 0, f"{name} is not running: {out!r}"
    return int(out)


def wait_restarted(stack, name: str, old_pid: int, timeout: float = 30) -> int:
    """Until the supervisor has started `name` again (a new pid, RUNNING) and, for a server, it answers."""
    def back():
        out = ctl(stack, "status", name, check=False).stdout
        if "RUNNING" not in out:
            return None
        pid = program_pid(stack, name)
        return pid if pid != old_pid else None
    pid = wait_until(back, timeout, f"the supervisor to start {name} again")
    if name in READY:
        wait_until(lambda: READY[name](stack), timeout, f"{name} to answer after its restart")
    return pid


def stop_service(stack, name: str) -> None:
    """Stops a program for good (the supervisor does not start it again until start_service)."""
    ctl(stack, "stop", name)


def start_service(stack, name: str) -> None:
    ctl(stack, "start", name)
    if name in READY:
        wait_until(lambda: READY[name](stack), 30, f"{name} to answer after its start")


@contextmanager
def service_stopped(stack, name: str):
    stop_service(stack, name)
    try:
        yield
    finally:
        start_service(stack, name)


def postmaster_pid(stack) -> int | None:
    try:
        return int((stack.run_dir / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def restart_postgres(stack, mode: str = "fast") -> None:
    """Takes the stack's PostgreSQL down and waits until it accepts connections again.

    mode "fast": a clean restart through the supervisor; "immediate": a crash as `pg_ctl -m immediate` makes it
    (no checkpoint, crash recovery at start); "kill": kill -9 of the postmaster (its backends then exit by
    themselves). After a crash the supervisor starts PostgreSQL again, as systemd does in production."""
    if mode == "fast":
        ctl(stack, "restart", "postgres")
    else:
        pid = program_pid(stack, "postgres")
        if mode == "kill":
            os.kill(pid, signal.SIGKILL)
        else:
            # -W: the supervisor starts a new postmaster at once, which pg_ctl's wait (for the pid file's
            # postmaster to end) would take for the old one still running; wait_restarted waits instead.
            r = as_postgres(PG_CTL, "-D", str(stack.run_dir / "pg"), "-m", "immediate", "-W", "stop",
                            cwd=stack.run_dir)
            assert r.returncode == 0, r.stdout + r.stderr
        wait_restarted(stack, "postgres", pid, timeout=60)
    wait_until(lambda: pg_accepts(stack), 30, "PostgreSQL to accept connections again")


@pytest.fixture(scope="session")
def redis_cli(stack):
    """redis_cli(*args) -> stdout of `redis-cli -s <sock> args...` (stripped)."""

    def _redis_cli(*args) -> str:
        return redis_cli_run(stack.redis_sock, *args).stdout.strip()

    return _redis_cli


# --------------------------------------------------------------------------------------------
# assertions shared by the modules


def assert_json(r: httpx.Response) -> None:
    ct = r.headers.get("content-type", "")
    assert ct.split(";")[0].strip().lower() == "application/json", (
        f"{r.request.method} {r.request.url} -> {r.status_code} Content-Type {ct!r}: {r.text[:200]}"
    )


def assert_error(r: httpx.Response, status: int, detail: str | None = None) -> dict:
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    assert_json(r)
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str), body
    if detail is not None:
        assert body["detail"] == detail, body
    return body


def assert_401_invalid(r: httpx.Response) -> None:
    assert_error(r, 401, "Could not validate credentials")
    assert r.headers.get("www-authenticate", "").split(" ")[0].lower() == "bearer", r.headers


def assert_401_missing(r: httpx.Response) -> None:
    assert_error(r, 401, "Not authenticated")
    assert r.headers.get("www-authenticate", "").split(" ")[0].lower() == "bearer", r.headers


def assert_422(r: httpx.Response, *locs_expected: tuple) -> dict:
    """422 with a string detail and an errors list; each loc in locs_expected is listed."""
    body = assert_error(r, 422)
    assert body["detail"].strip(), body
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, body
    for e in errors:
        assert isinstance(e, dict), body
        assert isinstance(e.get("loc"), list) and e["loc"], body
        assert isinstance(e.get("msg"), str) and e["msg"], body
        assert isinstance(e.get("type"), str) and e["type"], body
    locs = [tuple(e["loc"]) for e in errors]
    for loc in locs_expected:
        assert tuple(loc) in locs, f"{loc} not among {locs}: {body}"
    return body


def assert_user(u: dict, *, email_visible: bool) -> None:
    assert isinstance(u, dict), u
    missing = USER_FIELDS - set(u)
    assert not missing, f"User lacks {missing}: {u}"
    for k in u:
        assert "password" not in k.lower() and "hash" not in k.lower(), f"password material {k!r} in {u}"
    assert "$argon2" not in json.dumps(u), u
    assert UUID_RE.match(u["id"]), u
    assert isinstance(u["username"], str)
    if email_visible:
        assert isinstance(u["email"], str) and "@" in u["email"], u
    else:
        assert u["email"] == "", f"a hidden email is \"\", never null or an address: {u}"
    assert u["avatar"] is None or isinstance(u["avatar"], str), u
    assert u["role"] in ("member", "moderator", "admin"), u
    assert u["status"] in ("active", "suspended", "banned"), u
    assert isinstance(u["is_active"], bool) and isinstance(u["is_online"], bool), u
    assert u["last_seen_at"] is None or TS_RE.match(u["last_seen_at"]), u
    assert TS_RE.match(u["created_at"]) and TS_RE.match(u["updated_at"]), u


# --------------------------------------------------------------------------------------------
# nothing may skip


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = f"a test of the integration suite skipped, which is not allowed: {rep.longrepr}"
