"""Helpers of the WebSocket tests (docs/api.md#websocket): real clients against the stack's realtime daemons.

* `WsClient`: Debian's python3-websockets (10.4, asyncio only) driven from the synchronous tests through one
  background event-loop thread; every frame is recorded with its arrival time, so a test asserts on what a
  socket received, in order, with deadlines.
* `raw_upgrade` / `RawWs`: the opening handshake and RFC 6455 frames over a plain TCP socket, for what a
  library hides: the refusal's status, headers and body, and a reader that stops reading (backpressure).
* fixtures: `ws` (connect sockets, closed at teardown), `rt` (the daemons' ports, pids and /metrics).

Sockets reach the daemons through nginx (`/ws` on the stack's port) or one daemon directly on its own port
(REALTIME_PORTS in chat.env), which is how the tests prove that events cross between daemons.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
import websockets

from conftest import REPO, Registered, TS_RE, UUID_RE, parse_env_file, wait_until

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
STORED_TYPES = {"new_message", "message_edited", "message_deleted", "message_reaction", "user_joined", "user_left",
                "channel_created", "conversation_created", "mention_notification"}
EVENT_ID_RE = r"^\d+-\d+$"


def event_key(event_id: str) -> tuple:
    """Stream entry ids (`<ms>-<n>`) as a sortable tuple."""
    ms, n = event_id.split("-")
    return int(ms), int(n)


# --------------------------------------------------------------------------------------------
# the stack's realtime daemons


@dataclass
class Realtime:
    run_dir: Path
    http_port: int

    @property
    def env(self) -> dict:
        return parse_env_file(self.run_dir / "chat.env")

    @property
    def ports(self) -> list[int]:
        raw = self.env.get("REALTIME_PORTS", "")
        return [int(p) for p in raw.split(",") if p]

    def program(self, index: int) -> str:
        """The supervised program of the daemon listening on ports[index] (stack.sh numbers them from 1)."""
        return f"chat-realtime-{index + 1}"

    def pid(self, index: int) -> int:
        out = subprocess.run(["supervisorctl", "-c", str(self.run_dir / "supervisord.conf"), "pid",
                              self.program(index)], capture_output=True, text=True, timeout=30).stdout.strip()
        assert out.isdigit() and int(out) > 0, f"{self.program(index)} is not running: {out!r}"
        return int(out)

    def metrics(self, index: int) -> dict:
        return metrics_of(self.ports[index])

    def url(self, token: str | None, *, port: int | None = None, last_event_id: str | None = None,
            extra: dict | None = None) -> str:
        """ws://.../ws?token=... through nginx, or one daemon when `port` is given."""
        q = {}
        if token is not None:
            q["token"] = token
        if last_event_id is not None:
            q["last_event_id"] = last_event_id
        q.update(extra or {})
        return f"ws://127.0.0.1:{port or self.http_port}/ws" + (("?" + urlencode(q)) if q else "")


def metrics_of(port: int) -> dict:
    """GET /metrics of one daemon, as {sample name with labels: float}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200, r.status
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


@pytest.fixture(scope="session")
def rt(stack) -> Realtime:
    r = Realtime(stack.run_dir, stack.port)
    assert len(r.ports) >= 2, f"the WebSocket tests need two chat-realtime daemons, chat.env says {r.ports}"
    return r


# --------------------------------------------------------------------------------------------
# the asyncio loop the python clients run on


class _Loop:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ws-loop", daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise


_LOOP: _Loop | None = None
_LOOP_LOCK = threading.Lock()


def ws_loop() -> _Loop:
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = _Loop()
        return _LOOP


@dataclass
class Frame:
    at: float            # time.monotonic() when it arrived
    data: str | bytes    # text frames as str, binary as bytes
    obj: dict | None     # the parsed JSON object of a text frame, when it is one

    @property
    def type(self):
        return self.obj.get("type") if self.obj else None


class WsClient:
    """One WebSocket client (python3-websockets) whose frames are all recorded in arrival order."""

    def __init__(self, url: str, *, origin: str | None = None, label: str = ""):
        self.url = url
        self.origin = origin
        self.label = label or url.split("?")[0]
        self.frames: list[Frame] = []
        self.cond = threading.Condition()
        self.conn = None
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.established: dict | None = None

    # ---- connecting and closing

    def open(self, timeout: float = 10) -> "WsClient":
        async def go():
            self.conn = await websockets.connect(
                self.url, origin=self.origin, open_timeout=timeout, close_timeout=5, ping_interval=None,
                max_size=None, max_queue=None, compression=None)
            asyncio.get_running_loop().create_task(self._reader())

        ws_loop().run(go(), timeout + 5)
        return self

    async def _reader(self):
        try:
            async for msg in self.conn:
                obj = None
                if isinstance(msg, str):
                    try:
                        parsed = json.loads(msg)
                        obj = parsed if isinstance(parsed, dict) else None
                    except ValueError:
                        pass
                with self.cond:
                    self.frames.append(Frame(time.monotonic(), msg, obj))
                    self.cond.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            with self.cond:
                self.closed_at = time.monotonic()
                self.close_code = self.conn.close_code
                self.close_reason = self.conn.close_reason
                self.cond.notify_all()

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def close(self, code: int = 1000, timeout: float = 10) -> None:
        if self.conn is None:
            return
        ws_loop().run(self.conn.close(code), timeout)
        self.wait_closed(timeout)

    def kill(self) -> None:
        """Drop TCP without a close handshake (a tab that crashed)."""
        async def go():
            self.conn.transport.abort()
        ws_loop().run(go(), 5)

    def wait_closed(self, timeout: float = 10) -> tuple[int | None, str | None]:
        with self.cond:
            if not self.cond.wait_for(lambda: self.closed_at is not None, timeout):
                raise AssertionError(f"{self.label}: still open after {timeout} s; got {self.types()}")
            return self.close_code, self.close_reason

    # ---- sending

    def send(self, data: str | bytes) -> None:
        ws_loop().run(self.conn.send(data), 10)

    def send_json(self, obj: dict) -> None:
        self.send(json.dumps(obj))

    # ---- what arrived

    def mark(self) -> int:
        with self.cond:
            return len(self.frames)

    def since(self, mark: int = 0) -> list[Frame]:
        with self.cond:
            return list(self.frames[mark:])

    def events(self, etype: str | None = None, since: int = 0, **match) -> list[dict]:
        """Parsed JSON frames (of one type, with these field values) in arrival order."""
        return [f.obj for f in self.since(since) if f.obj is not None and _matches(f.obj, etype, match)]

    def types(self, since: int = 0, skip=("user_status",)) -> list:
        """The types of the frames (the text itself for a non-JSON frame), without `skip`: by default without
        user_status, which every user sharing `general` gets whenever any other user comes or goes."""
        return [f.type if f.obj is not None else f.data for f in self.since(since) if f.type not in skip]

    def wait(self, pred, timeout: float = 5, what: str = "a matching frame", since: int = 0) -> Frame:
        """The first frame (from index `since`) for which pred(frame) holds, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        checked = since
        with self.cond:
            while True:
                while checked < len(self.frames):
                    f = self.frames[checked]
                    checked += 1
                    if pred(f):
                        return f
                if self.closed_at is not None:
                    raise AssertionError(f"{self.label}: closed ({self.close_code} {self.close_reason!r}) before "
                                         f"{what}; got {self._summary(since)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.label}: no {what} within {timeout} s; got {self._summary(since)}")
                self.cond.wait(left)

    def wait_event(self, etype: str, timeout: float = 5, since: int = 0, **match) -> dict:
        desc = f"{etype} {match}" if match else etype
        return self.wait(lambda f: f.obj is not None and _matches(f.obj, etype, match), timeout, desc, since).obj

    def wait_count(self, etype: str, n: int, timeout: float = 5, since: int = 0, **match) -> list[dict]:
        """Waits until at least n events of this type (with these fields) have arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [f.obj for f in self.frames[since:] if f.obj is not None and _matches(f.obj, etype, match)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if self.closed_at is not None or left <= 0:
                    raise AssertionError(f"{self.label}: {len(got)} of {n} {etype} {match} within {timeout} s "
                                         f"(closed: {self.close_code}); got {self._summary(since)}")
                self.cond.wait(left)

    def _summary(self, since: int = 0) -> str:
        frames = self.frames[since:]
        head = [f.type if f.obj is not None else f.data[:80] for f in frames[-30:]]
        return f"{len(frames)} frames, last: {head}"


def _matches(obj: dict, etype: str | None, match: dict) -> bool:
    if etype is not None and obj.get("type") != etype:
        return False
    for k, v in match.items():
        if k == "data_id":
            if not isinstance(obj.get("data"), dict) or obj["data"].get("id") != v:
                return False
        elif obj.get(k) != v:
            return False
    return True


def token_of(who) -> str:
    return who.access if isinstance(who, Registered) else who


@pytest.fixture
def ws(rt):
    """ws(user_or_token, port=None, last_event_id=None, origin=None, established=True) -> an open WsClient.

    Waits for connection_established unless established=False (then the test reads the first frames itself).
    Every socket still open at teardown is closed."""
    clients: list[WsClient] = []

    def connect(who, *, port: int | None = None, last_event_id: str | None = None, origin: str | None = None,
                established: bool = True, label: str = "") -> WsClient:
        c = WsClient(rt.url(token_of(who), port=port, last_event_id=last_event_id), origin=origin,
                     label=label or (who.user["username"] if isinstance(who, Registered) else "") +
                     f"@{port or 'nginx'}")
        c.open()
        clients.append(c)
        if established:
            c.established = c.wait_event("connection_established", 10)
        return c

    yield connect
    for c in clients:
        if not c.is_closed:
            try:
                c.close(timeout=5)
            except Exception:  # teardown only: a socket that will not close is dropped
                c.kill()


# --------------------------------------------------------------------------------------------
# shapes


def assert_stamped(e: dict) -> None:
    """Every event carries an RFC 3339 `timestamp`."""
    assert isinstance(e.get("timestamp"), str) and TS_RE.match(e["timestamp"]), f"bad timestamp: {e}"


def assert_stored_event(e: dict, etype: str) -> None:
    """A stored-data event: its type, a timestamp and an event_id of the stream's shape."""
    import re

    assert e.get("type") == etype, e
    assert_stamped(e)
    assert isinstance(e.get("event_id"), str) and re.match(EVENT_ID_RE, e["event_id"]), f"bad event_id: {e}"


def assert_established(e: dict, user: Registered, session_id: str) -> None:
    assert set(e) == {"type", "user_id", "username", "session_id", "last_event_id", "timestamp"}, e
    assert e["type"] == "connection_established", e
    assert (e["user_id"], e["username"], e["session_id"]) == (user.user["id"], user.user["username"], session_id), e
    assert isinstance(e["last_event_id"], str) and (e["last_event_id"] == "0" or "-" in e["last_event_id"]), e
    assert_stamped(e)
    assert UUID_RE.match(e["session_id"]), e


# --------------------------------------------------------------------------------------------
# raw TCP: the opening handshake and frames without a library


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: dict           # lower-cased names
    body: bytes
    closed: bool            # the server closed TCP after the response
    key: str = ""
    rest: bytes = b""       # bytes after the head of a 101
    sock: socket.socket | None = field(default=None, repr=False)

    def json(self):
        return json.loads(self.body)


def _read_head(sock: socket.socket, timeout: float) -> tuple[bytes, bytes]:
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response head: {buf!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def raw_upgrade(port: int, target: str, headers: dict | None = None, *, timeout: float = 10,
                rcvbuf: int | None = None, keep_open: bool = False, check_closed: bool = False) -> RawResponse:
    """Sends an RFC 6455 opening handshake for `target` to 127.0.0.1:port and reads the answer.

    For a refusal the body (Content-Length) is read; with check_closed, `closed` tells whether the server then
    closed TCP (waiting up to 2 s for it).
    With keep_open and a 101, the socket is left open in `.sock` (the caller owns it)."""
    key = base64.b64encode(os.urandom(16)).decode()
    hdrs = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    hdrs.update(headers or {})
    req = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if v is not None) + "\r\n"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: the window scale follows it
    s.connect(("127.0.0.1", port))
    s.sendall(req.encode())
    head, rest = _read_head(s, timeout)
    lines = head.decode("latin-1").split("\r\n")
    proto, status, reason = (lines[0].split(" ", 2) + [""])[:3]
    assert proto == "HTTP/1.1", lines[0]
    resp_headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        resp_headers[k.strip().lower()] = v.strip()
    resp = RawResponse(int(status), reason, resp_headers, b"", False, key)
    if resp.status == 101:
        resp.rest = rest
        if keep_open:
            resp.sock = s
        else:
            s.close()
        return resp
    n = int(resp_headers.get("content-length", "0"))
    body = rest
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    resp.body = body[:n]
    if not check_closed:
        s.close()
        return resp
    try:
        s.settimeout(2)
        resp.closed = s.recv(1) == b""
    except (socket.timeout, ConnectionResetError):
        resp.closed = False
    s.close()
    return resp


def accept_value(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def encode_client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 §5.2, §5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawWs:
    """A WebSocket client on a plain socket: it reads only when told to (a reader that stopped reading)."""

    def __init__(self, port: int, token: str, *, rcvbuf: int | None = None, timeout: float = 10):
        resp = raw_upgrade(port, "/ws?" + urlencode({"token": token}), rcvbuf=rcvbuf, keep_open=True,
                           timeout=timeout)
        assert resp.status == 101, f"upgrade refused: {resp.status} {resp.body!r}"
        assert resp.headers.get("sec-websocket-accept") == accept_value(resp.key), resp.headers
        self.sock = resp.sock
        self.buf = resp.rest
        self.bytes_read = len(resp.rest)
        self.text_bytes = 0  # whole text frames read, headers included

    def _need(self, n: int, deadline: float) -> None:
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no complete frame before the deadline ({len(self.buf)} bytes buffered)")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the server closed TCP")
            self.bytes_read += len(chunk)
            self.buf += chunk

    def next_frame(self, timeout: float = 10) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame (unmasked, §5.1)."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "a server frame must not be masked"
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        if b0 & 0x0F == 0x1:
            self.text_bytes += off + n
        return b0 & 0x0F, payload

    def read_until_close(self, timeout: float = 30) -> tuple[list[dict], int | None, str]:
        """Every text frame (parsed) up to the server's close frame, and the close code and reason."""
        deadline = time.monotonic() + timeout
        texts = []
        while True:
            opcode, payload = self.next_frame(max(0.1, deadline - time.monotonic()))
            if opcode == 0x1:
                texts.append(json.loads(payload))
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return texts, code, payload[2:].decode("utf-8", "replace")

    def send_close(self, code: int = 1000) -> None:
        self.sock.sendall(encode_client_frame(0x8, struct.pack("!H", code)))

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------------------------
# node's `ws` package (tests/integration/node): a second, independent client implementation

NODE_DIR = Path(__file__).resolve().parent / "node"


def ensure_node_clients() -> None:
    """Installs the locked packages of tests/integration/node (npm ci) when node_modules lacks one of them, as in a
    fresh clone: `ws` (NodeClient below) and playwright-core (test_docs_browser.py)."""
    import shutil
    import subprocess

    for tool in ("node", "npm"):
        assert shutil.which(tool), f"{tool} is not installed (deploy/deps.sh installs nodejs and npm)"
    wanted = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    if all((NODE_DIR / "node_modules" / name / "package.json").is_file() for name in wanted):
        return
    r = subprocess.run(["npm", "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"npm ci --prefix {NODE_DIR} failed:\n{r.stdout}\n{r.stderr}"


class NodeClient:
    """node ws_client.js URL [ORIGIN]: its JSON-line events recorded with their arrival times."""

    def __init__(self, url: str, origin: str | None = None):
        import subprocess

        self.events: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        args = ["node", str(NODE_DIR / "ws_client.js"), url] + ([origin] if origin else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            with self.cond:
                self.events.append((time.monotonic(), json.loads(line)))
                self.cond.notify_all()
        with self.cond:
            self.events.append((time.monotonic(), {"event": "exit"}))
            self.cond.notify_all()

    def wait(self, pred, timeout: float = 10, what: str = "an event", since: int = 0) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, e in self.events[since:]:
                    if pred(e):
                        return at, e
                left = deadline - time.monotonic()
                if left <= 0 or (self.events and self.events[-1][1]["event"] == "exit"):
                    err = self.proc.stderr.read() if self.proc.poll() is not None else ""
                    raise AssertionError(f"node client: no {what} within {timeout} s; got "
                                         f"{[e for _, e in self.events][-20:]} {err}")
                self.cond.wait(left)

    def message(self, etype: str, timeout: float = 10, **match) -> tuple[float, dict]:
        """The first text message that is a JSON event of this type (with these fields)."""
        def pred(e):
            if e["event"] != "message" or e["binary"]:
                return False
            try:
                obj = json.loads(e["data"])
            except ValueError:
                return False
            return isinstance(obj, dict) and _matches(obj, etype, match)

        at, e = self.wait(pred, timeout, f"{etype} {match}")
        return at, json.loads(e["data"])

    def messages(self) -> list[dict]:
        out = []
        with self.cond:
            for _, e in self.events:
                if e["event"] == "message" and not e["binary"]:
                    try:
                        obj = json.loads(e["data"])
                    except ValueError:
                        obj = e["data"]
                    out.append(obj)
        return out

    def command(self, **cmd) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 10) -> None:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------------------------
# small waits


def http_get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


__all__ = [
    "NODE_DIR", "REPO", "STORED_TYPES", "Frame", "NodeClient", "RawResponse", "RawWs", "Realtime", "WsClient",
    "accept_value", "ensure_node_clients",
    "assert_established", "assert_stamped", "assert_stored_event", "encode_client_frame", "event_key",
    "http_get_status", "metrics_of", "raw_upgrade", "rt", "token_of", "wait_until", "ws", "ws_loop",
]
