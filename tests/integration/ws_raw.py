"""A tiny raw-socket RFC 6455 client for conformance tests: it sends exactly the bytes a case asks for.

The opening handshake (§4.1), a masked frame encoder with a chosen opcode, FIN, RSV bits and length
form (§5.2), writes chopped into pieces of any size, and a frame reader that checks what the server
sends (unmasked, no RSV bits, minimal lengths, control frames ≤ 125 bytes and unfragmented).
No extensions, no subprotocols, no automatic anything except answering the server's own pings.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import time
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {CONT: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping", PONG: "pong"}


class WsError(AssertionError):
    """The server broke the protocol or did not do what the case waited for."""


class Closed(WsError):
    """TCP ended (EOF or reset) while a frame was awaited."""


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")

    def json(self):
        return json.loads(self.payload)

    @property
    def close_code(self) -> int | None:
        assert self.opcode == CLOSE
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]

    def __repr__(self) -> str:
        name = OPCODE_NAMES.get(self.opcode, hex(self.opcode))
        body = self.payload if len(self.payload) <= 80 else self.payload[:80] + b"..."
        return f"Frame({name}, fin={self.fin}, rsv={self.rsv}, {len(self.payload)} bytes {body!r})"


def encode_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, masked: bool = True,
                 mask: bytes | None = None, length_form: int | None = None) -> bytes:
    """One frame. rsv: the three RSV bits as a number 0-7 (4 = RSV1, 2 = RSV2, 1 = RSV3).
    length_form: 7, 16 or 64 forces that length encoding (None: the minimal one, §5.2)."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)])
    mbit = 0x80 if masked else 0
    form = length_form or (7 if n < 126 else 16 if n <= 0xFFFF else 64)
    if form == 7:
        assert n < 126, "a 7-bit length holds at most 125"
        head += bytes([mbit | n])
    elif form == 16:
        assert n <= 0xFFFF
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = mask if mask is not None else os.urandom(4)
    return head + mask + mask_bytes(payload, mask)


def mask_bytes(data: bytes, mask: bytes) -> bytes:
    """§5.3 masking (and unmasking), fast for large payloads."""
    if not data:
        return b""
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


def close_payload(code: int | None = None, reason: bytes = b"") -> bytes:
    return b"" if code is None else struct.pack("!H", code) + reason


class WsClient:
    """One connection. connect() does the handshake; then send_* and recv_frame()."""

    def __init__(self, host: str, port: int, path: str, *, timeout: float = 10.0,
                 headers: dict | None = None, source_address: tuple | None = None):
        self.host, self.port, self.path = host, port, path
        self.timeout = timeout
        self.headers = headers or {}
        self.source_address = source_address
        self.sock: socket.socket | None = None
        self.buf = b""
        self.response_head = ""
        self.eof = False
        self.write_failed = False

    # ---- opening handshake (§4.1)

    def connect(self, early: bytes = b"") -> "WsClient":
        """The handshake; `early` is written right behind the request, before the 101 is seen."""
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout,
                                             source_address=self.source_address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + early)
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise WsError(f"response head too long: {self.buf[:200]!r}")
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.response_head = head.decode("latin-1")
        status_line, *header_lines = self.response_head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "101":
            raise WsError(f"upgrade refused: {self.response_head!r} body {self.buf[:300]!r}")
        hdrs = {}
        for line in header_lines:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if hdrs.get("sec-websocket-accept") != want:
            raise WsError(f"bad Sec-WebSocket-Accept in {self.response_head!r} (want {want})")
        if hdrs.get("upgrade", "").lower() != "websocket" or "upgrade" not in hdrs.get("connection", "").lower():
            raise WsError(f"101 without Upgrade/Connection: {self.response_head!r}")
        if "sec-websocket-extensions" in hdrs:
            raise WsError(f"an extension was negotiated without being asked for: {self.response_head!r}")
        return self

    # ---- sending

    def send_raw(self, data: bytes, chop: int | None = None, delay: float = 0.0) -> None:
        """Writes data; chop=N writes it N bytes per send() call (delay seconds between the pieces).
        A write the server refuses because it already closed (it failed the connection part-way) is
        not an error here: it sets write_failed, and the case looks at what the server sent."""
        try:
            if not chop:
                self.sock.sendall(data)
                return
            for i in range(0, len(data), chop):
                self.sock.sendall(data[i:i + chop])
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            self.write_failed = True

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                   masked: bool = True, length_form: int | None = None, chop: int | None = None,
                   delay: float = 0.0) -> None:
        self.send_raw(encode_frame(opcode, payload, fin=fin, rsv=rsv, masked=masked, length_form=length_form),
                      chop, delay)

    def send_text(self, data: str | bytes, **kw) -> None:
        self.send_frame(TEXT, data.encode() if isinstance(data, str) else data, **kw)

    def send_binary(self, data: bytes, **kw) -> None:
        self.send_frame(BINARY, data, **kw)

    def send_ping(self, data: bytes = b"", **kw) -> None:
        self.send_frame(PING, data, **kw)

    def send_pong(self, data: bytes = b"", **kw) -> None:
        self.send_frame(PONG, data, **kw)

    def send_close(self, code: int | None = None, reason: bytes = b"", **kw) -> None:
        self.send_frame(CLOSE, close_payload(code, reason), **kw)

    def send_fragments(self, opcode: int, pieces: list[bytes], chop: int | None = None) -> None:
        """One message as len(pieces) frames: opcode first, then continuations; FIN on the last."""
        out = b"".join(
            encode_frame(opcode if i == 0 else CONT, p, fin=(i == len(pieces) - 1)) for i, p in enumerate(pieces)
        )
        self.send_raw(out, chop)

    # ---- receiving

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no data from the server within {self.timeout} s")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError(f"no data from the server within {self.timeout} s") from None
        except ConnectionResetError:
            self.eof = True
            raise Closed("connection reset by the server") from None
        if not chunk:
            self.eof = True
            raise Closed("the server closed TCP")
        self.buf += chunk

    def _need(self, n: int, deadline: float) -> None:
        while len(self.buf) < n:
            self._fill(deadline)

    def recv_frame(self, timeout: float | None = None, answer_pings: bool = True) -> Frame:
        """The next frame the server sent, checked against §5.2/§5.5. The server's own keep-alive
        pings (docs/api.md#liveness-and-close-codes: every 30 s) are answered and skipped unless answer_pings is
        False."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            self._need(2, deadline)
            b0, b1 = self.buf[0], self.buf[1]
            fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F
            if b1 & 0x80:
                raise WsError(f"the server masked a frame (§5.1 forbids it): {self.buf[:16]!r}")
            n, pos = b1 & 0x7F, 2
            if n == 126:
                self._need(4, deadline)
                n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
                if n < 126:
                    raise WsError(f"the server used a non-minimal 16-bit length {n}")
            elif n == 127:
                self._need(10, deadline)
                n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
                if n <= 0xFFFF or n >> 63:
                    raise WsError(f"the server used a bad 64-bit length {n}")
            self._need(pos + n, deadline)
            payload, self.buf = self.buf[pos:pos + n], self.buf[pos + n:]
            if rsv:
                raise WsError(f"the server set RSV bits {rsv} with no extension negotiated")
            if opcode not in OPCODE_NAMES:
                raise WsError(f"the server sent reserved opcode {opcode:#x}")
            if opcode & 0x8 and (not fin or n > 125):
                raise WsError(f"the server sent a bad control frame: fin={fin} length {n}")
            frame = Frame(fin, rsv, opcode, payload)
            if opcode == PING and answer_pings:
                try:
                    self.send_pong(payload)
                except OSError:
                    pass
                continue
            return frame

    def wait_eof(self, timeout: float = 5.0) -> bytes:
        """Reads until the server ends TCP; returns what came meanwhile (normally nothing)."""
        deadline = time.monotonic() + timeout
        extra = self.buf
        self.buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WsError(f"the server did not close TCP within {timeout} s (got {extra[:100]!r})")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                return extra
            if not chunk:
                self.eof = True
                return extra
            extra += chunk

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self) -> "WsClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
