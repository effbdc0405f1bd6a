"""RFC 6455 conformance of chat-realtime over real sockets, after Autobahn|Testsuite's case groups 1-7, 9
(within the daemon's 64 KiB message limit) and 10; case ids keep Autobahn's numbers where a case is theirs.

The daemon is not an echo server, so its own replies are the observable: a text frame carrying
{"type":"ping"} (padded with a JSON string field to a wanted length) is answered with a `pong` event, a
binary frame with `error` `invalid_json` while the socket stays open (docs/api.md#client-frames), control frames get the
RFC behaviour, and a failed connection gets a close frame with the right code (1002 protocol error, 1007
invalid UTF-8, 1009 too big) and then TCP's end. Every case runs on a fresh authenticated socket straight
to one daemon (ws://127.0.0.1:REALTIME_PORT/ws?token=...); the cases marked `nginx` run through nginx's
/ws as well. The client (ws_raw.py) writes exactly the bytes a case asks for, chopped as asked.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

import pytest

from conftest import auth_headers, register_user, uname
from ws_raw import BINARY, CLOSE, CONT, PING, PONG, TEXT, Closed, Frame, WsClient, WsError, encode_frame

LIMIT = 64 * 1024  # the daemon's per-message limit (realtime/connection.hpp kMaxClientMessage)
REPLY_TYPES = {"pong", "error"}  # what the cases send is answered with these; other events are not ours


# --------------------------------------------------------------------------------------------------
# the client as the cases use it


class DaemonWs(WsClient):
    """A raw client that knows what the daemon answers to a JSON ping."""

    def connect(self, early: bytes = b"") -> "DaemonWs":
        super().connect(early)
        first = self.recv_frame()
        assert first.opcode == TEXT and first.json().get("type") == "connection_established", first
        return self

    def reply(self, timeout: float | None = None) -> Frame:
        """The next frame that answers something the case sent: a control frame, a close, the text
        `pong`, or a JSON `pong`/`error` event. Events about other users (presence of the members of
        #general and such) are not answers and are skipped."""
        while True:
            f = self.recv_frame(timeout)
            if f.opcode == TEXT and f.payload != b"pong":
                try:
                    ev = json.loads(f.payload)
                except ValueError:
                    raise WsError(f"the daemon sent text that is not JSON: {f}") from None
                if not isinstance(ev, dict) or ev.get("type") not in REPLY_TYPES:
                    continue
            return f

    def expect_pong_event(self) -> dict:
        f = self.reply()
        assert f.opcode == TEXT, f"expected the pong event, got {f}"
        ev = f.json()
        assert ev.get("type") == "pong", f"expected the pong event, got {ev}"
        assert isinstance(ev.get("timestamp"), str), ev
        return ev

    def expect_error(self, code: str = "invalid_json") -> dict:
        f = self.reply()
        assert f.opcode == TEXT, f"expected an error event, got {f}"
        ev = f.json()
        assert ev.get("type") == "error" and ev.get("error_code") == code, f"expected error {code}, got {ev}"
        assert isinstance(ev.get("message"), str) and ev["message"], ev
        return ev

    def expect_control(self, opcode: int, payload: bytes) -> None:
        f = self.reply()
        assert (f.opcode, f.payload) == (opcode, payload), f"expected {Frame(True, 0, opcode, payload)}, got {f}"

    def expect_close(self, code: int) -> Frame:
        """A close frame with `code` (nothing else before it), then the end of TCP (the server closes
        first, §7.1.1), with nothing after the close frame."""
        try:
            f = self.reply()
        except Closed:
            raise WsError(f"TCP ended without a close frame (expected close {code})") from None
        assert f.opcode == CLOSE, f"expected close {code}, got {f}"
        assert f.close_code == code, f"expected close {code}, got {f.close_code} {f.close_reason!r}"
        reason = f.close_reason
        reason.decode("utf-8")  # §5.5.1: the reason is UTF-8
        rest = self.wait_eof()
        assert rest == b"", f"bytes after the close frame: {rest[:100]!r}"
        return f

    def round_trip(self) -> None:
        """The socket is still open and in sync: a JSON ping is answered with pong."""
        self.send_text(ping_text())
        self.expect_pong_event()


def ping_text(n: int | None = None, pad: bytes = b"") -> bytes:
    """{"type":"ping","pad":"<pad>xxx..."} of exactly n bytes (at least 24 + len(pad)); whitespace
    pads below that (down to 15 bytes); n None: no padding at all."""
    if n is None:
        return b'{"type":"ping"}' if not pad else b'{"type":"ping","pad":"' + pad + b'"}'
    base = b'{"type":"ping","pad":"' + pad
    if n >= len(base) + 2:
        return base + b"x" * (n - len(base) - 2) + b'"}'
    assert not pad and n >= 15, n
    return b'{"type":"ping"}' + b" " * (n - 15)


def binary_blob(n: int) -> bytes:
    return bytes(i & 0xFF for i in range(n))


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


# --------------------------------------------------------------------------------------------------
# the case table


@dataclass
class Case:
    id: str
    fn: Callable[[DaemonWs], None]
    nginx: bool


CASES: list[Case] = []


def case(cid: str, nginx: bool = False, **bound):
    """Registers fn(ws, **bound) as case `cid`; nginx=True also runs it through nginx."""

    def deco(fn):
        CASES.append(Case(cid, (lambda ws: fn(ws, **bound)) if bound else fn, nginx))
        return fn

    return deco


# ---- 1 framing: payload lengths in the 7-, 16- and 64-bit forms, whole and chopped

SIZES = [0, 125, 126, 127, 128, 65535, 65536]
for i, n in enumerate(SIZES, 1):

    @case(f"1.1.{i}-text-{n}", nginx=n in (0, 126, 65536), n=n)
    def _text(ws, n):
        if n == 0:
            ws.send_text(b"")
            ws.expect_error("invalid_json")  # an empty text is not JSON; the socket stays open
            ws.round_trip()
        else:
            ws.send_text(ping_text(n))
            ws.expect_pong_event()

    @case(f"1.2.{i}-binary-{n}", nginx=n in (0, 65536), n=n)
    def _binary(ws, n):
        ws.send_binary(binary_blob(n))
        ws.expect_error("invalid_json")
        ws.round_trip()

    if n:

        @case(f"1.1.{i}b-text-{n}-1-byte-writes", nginx=n in (126, 65536), n=n)
        def _text_bytes(ws, n):
            ws.send_text(ping_text(n), chop=1)
            ws.expect_pong_event()


@case("1.1.8-text-65536-997-byte-writes")
def _c118(ws):
    ws.send_text(ping_text(65536), chop=997)
    ws.expect_pong_event()


@case("1.2.8-binary-65536-997-byte-writes", nginx=True)
def _c128(ws):
    ws.send_binary(binary_blob(65536), chop=997)
    ws.expect_error("invalid_json")
    ws.round_trip()


@case("1.3.1-many-messages-one-write")
def _c131(ws):
    ws.send_raw(b"".join(encode_frame(TEXT, ping_text(n)) for n in (15, 125, 126, 65535, 65536, 200)))
    for _ in range(6):
        ws.expect_pong_event()


@case("1.3.4-text-ping-keepalive")
def _c134(ws):
    ws.send_text(b"ping")  # docs/api.md#client-frames: the text `ping` (not JSON) is answered with the text `pong`
    ws.expect_control(TEXT, b"pong")
    ws.round_trip()


@case("1.3.2-unmasked-client-frame-1002", nginx=True)
def _c132(ws):
    ws.send_text(ping_text(), masked=False)  # §5.1: the server MUST close on an unmasked frame
    ws.expect_close(1002)


for form, n in ((16, 125), (64, 125), (64, 65535)):

    @case(f"1.3.3-non-minimal-{form}-bit-length-{n}-1002", form=form, n=n)
    def _nonminimal(ws, form, n):
        # §5.2 "the minimal number of bytes MUST be used to encode the length": the daemon holds
        # clients to it.
        ws.send_text(ping_text(n), length_form=form)
        ws.expect_close(1002)


# ---- 2 pings and pongs

@case("2.1-ping-empty")
def _c21(ws):
    ws.send_ping(b"")
    ws.expect_control(PONG, b"")


@case("2.2-ping-text-payload", nginx=True)
def _c22(ws):
    ws.send_ping(b"Hello, world!")
    ws.expect_control(PONG, b"Hello, world!")


@case("2.3-ping-binary-payload", nginx=True)
def _c23(ws):
    data = bytes([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF])
    ws.send_ping(data)
    ws.expect_control(PONG, data)


@case("2.4-ping-125-bytes")
def _c24(ws):
    ws.send_ping(b"\xfe" * 125)
    ws.expect_control(PONG, b"\xfe" * 125)


@case("2.4b-ping-every-length-0-to-125")
def _c24b(ws):
    for n in range(126):
        data = bytes((n * 7 + k) & 0xFF for k in range(n))
        ws.send_ping(data)
        ws.expect_control(PONG, data)


@case("2.5-ping-126-bytes-1002", nginx=True)
def _c25(ws):
    ws.send_ping(b"\xfe" * 126)  # §5.5: control frames carry at most 125 bytes
    ws.expect_close(1002)


@case("2.6-ping-125-bytes-1-byte-writes")
def _c26(ws):
    ws.send_ping(b"\xfe" * 125, chop=1)
    ws.expect_control(PONG, b"\xfe" * 125)


@case("2.7-unsolicited-pong-empty")
def _c27(ws):
    ws.send_pong(b"")  # §5.5.3: an unsolicited pong needs no answer
    ws.round_trip()


@case("2.8-unsolicited-pong-payload", nginx=True)
def _c28(ws):
    ws.send_pong(b"unsolicited pong payload")
    ws.round_trip()


@case("2.9-unsolicited-pong-then-ping")
def _c29(ws):
    ws.send_pong(b"unsolicited pong payload")
    ws.send_ping(b"ping payload")
    ws.expect_control(PONG, b"ping payload")


@case("2.10-ten-pings", nginx=True)
def _c210(ws):
    ws.send_raw(b"".join(encode_frame(PING, f"payload-{i}".encode()) for i in range(10)))
    for i in range(10):
        ws.expect_control(PONG, f"payload-{i}".encode())


@case("2.11-ten-pings-1-byte-writes")
def _c211(ws):
    ws.send_raw(b"".join(encode_frame(PING, f"payload-{i}".encode()) for i in range(10)), chop=1)
    for i in range(10):
        ws.expect_control(PONG, f"payload-{i}".encode())


# ---- 3 reserved bits: no extension is negotiated, so any RSV bit fails the connection (§5.2)

RSV_CASES = [  # (rsv bits, opcode of the bad frame, chopped writes)
    (4, TEXT, None), (2, TEXT, None), (3, TEXT, 1), (1, TEXT, 1), (5, BINARY, None), (6, PING, None),
    (7, CLOSE, None),
]
for i, (rsv, op, chop) in enumerate(RSV_CASES, 1):

    @case(f"3.{i}-rsv-{rsv}-on-{op:#x}-1002", nginx=i == 2, rsv=rsv, op=op, chop=chop, alone=i == 1)
    def _rsv(ws, rsv, op, chop, alone):
        if alone:
            ws.send_frame(op, ping_text(), rsv=rsv)
            ws.expect_close(1002)
            return
        # A valid message, the bad frame, a ping: the message is answered, then the close; no pong.
        payload = {TEXT: ping_text(), BINARY: b"\x00\x01", PING: b"x", CLOSE: b"\x03\xe8"}[op]
        ws.send_raw(encode_frame(TEXT, ping_text()) + encode_frame(op, payload, rsv=rsv) + encode_frame(PING, b"p"),
                    chop=chop)
        ws.expect_pong_event()
        ws.expect_close(1002)


# ---- 4 reserved opcodes 3-7 and 0xB-0xF fail the connection (§5.2)

for group, ops in ((1, (3, 4, 5, 6, 7)), (2, (0xB, 0xC, 0xD, 0xE, 0xF))):
    for i, op in enumerate(ops, 1):

        @case(f"4.{group}.{i}-opcode-{op:#x}-1002", nginx=op in (5, 0xD), op=op, lead=i >= 3, body=i != 1)
        def _opcode(ws, op, lead, body):
            frames = encode_frame(op, b"reserved opcode payload" if body else b"")
            if lead:  # a valid message first (answered), a ping after (not answered)
                frames = encode_frame(TEXT, ping_text()) + frames + encode_frame(PING, b"p")
            ws.send_raw(frames)
            if lead:
                ws.expect_pong_event()
            ws.expect_close(1002)


# ---- 5 fragmentation (§5.4)

@case("5.1-fragmented-ping-1002")
def _c51(ws):
    ws.send_raw(encode_frame(PING, b"frag1", fin=False) + encode_frame(CONT, b"frag2"))
    ws.expect_close(1002)


@case("5.2-fragmented-pong-1002")
def _c52(ws):
    ws.send_raw(encode_frame(PONG, b"frag1", fin=False) + encode_frame(CONT, b"frag2"))
    ws.expect_close(1002)


@case("5.2b-fragmented-close-1002")
def _c52b(ws):
    ws.send_raw(encode_frame(CLOSE, b"\x03\xe8", fin=False) + encode_frame(CONT, b"ok"))
    ws.expect_close(1002)


for i, (chop, delay) in enumerate(((None, 0), (1, 0), (None, 0.2)), 3):

    @case(f"5.{i}-text-in-2-fragments" + ("-1-byte-writes" if chop else "-with-pauses" if delay else ""),
          nginx=i == 5, chop=chop, delay=delay)
    def _frag2(ws, chop, delay):
        msg = ping_text(40)
        ws.send_frame(TEXT, msg[:20], fin=False, chop=chop)
        time.sleep(delay)
        ws.send_frame(CONT, msg[20:], chop=chop)
        ws.expect_pong_event()

    @case(f"5.{i + 3}-ping-between-fragments" + ("-1-byte-writes" if chop else "-with-pauses" if delay else ""),
          nginx=i == 3, chop=chop, delay=delay)
    def _frag_ping(ws, chop, delay):
        msg = ping_text(40)
        ws.send_frame(TEXT, msg[:20], fin=False, chop=chop)
        ws.send_frame(PING, b"between", chop=chop)
        if delay:  # the pong comes at once, before the message is complete
            ws.expect_control(PONG, b"between")
            time.sleep(delay)
        ws.send_frame(CONT, msg[20:], chop=chop)
        if not delay:
            ws.expect_control(PONG, b"between")
        ws.expect_pong_event()

    @case(f"5.{i + 6}-continuation-fin-without-start-1002" + ("-1-byte-writes" if chop else ""), chop=chop)
    def _cont_fin(ws, chop):
        ws.send_raw(encode_frame(CONT, b"nothing to continue") + encode_frame(TEXT, ping_text())
                    + encode_frame(PING, b"p"), chop=chop)
        ws.expect_close(1002)

    @case(f"5.{i + 9}-continuation-without-start-1002" + ("-1-byte-writes" if chop else ""),
          nginx=i == 3, chop=chop)
    def _cont_nofin(ws, chop):
        ws.send_raw(encode_frame(CONT, b"nothing to continue", fin=False) + encode_frame(TEXT, ping_text())
                    + encode_frame(PING, b"p"), chop=chop)
        ws.expect_close(1002)


@case("5.15-message-then-continuation-without-start-1002", nginx=True)
def _c515(ws):
    msg = ping_text(40)
    ws.send_raw(encode_frame(TEXT, msg[:20], fin=False) + encode_frame(CONT, msg[20:])
                + encode_frame(CONT, b"nothing", fin=False) + encode_frame(TEXT, ping_text()))
    ws.expect_pong_event()
    ws.expect_close(1002)


@case("5.16-continuations-without-start-repeated-1002")
def _c516(ws):
    once = encode_frame(CONT, b"c1", fin=False) + encode_frame(TEXT, b"t", fin=False) + encode_frame(CONT, b"c2")
    ws.send_raw(once * 2)
    ws.expect_close(1002)


@case("5.18-new-message-inside-a-fragmented-one-1002", nginx=True)
def _c518(ws):
    msg = ping_text(40)
    ws.send_raw(encode_frame(TEXT, msg[:20], fin=False) + encode_frame(TEXT, msg[20:]))
    ws.expect_close(1002)


@case("5.18b-binary-inside-a-fragmented-text-1002")
def _c518b(ws):
    ws.send_raw(encode_frame(TEXT, b'{"type":', fin=False) + encode_frame(BINARY, b"\x00"))
    ws.expect_close(1002)


for i, chop in ((19, None), (20, 1)):

    @case(f"5.{i}-5-fragments-with-pings-answered-at-once" + ("-1-byte-writes" if chop else ""),
          nginx=chop is None, chop=chop)
    def _frag5(ws, chop):
        msg = ping_text(100)
        parts = split(msg, 20)
        assert len(parts) == 5
        for k, part in enumerate(parts):
            ws.send_frame(TEXT if k == 0 else CONT, part, fin=k == 4, chop=chop)
            if k < 4:
                ws.send_frame(PING, f"pongme {k}".encode(), chop=chop)
                ws.expect_control(PONG, f"pongme {k}".encode())  # before the next fragment is sent
                time.sleep(0.05)
        ws.expect_pong_event()


@case("5.21-binary-in-fragments")
def _c521(ws):
    ws.send_fragments(BINARY, [b"\x00\x01", b"\x02", b"\x03\x04"])
    ws.expect_error("invalid_json")
    ws.round_trip()


# ---- 6 UTF-8 in text messages (§8.1): valid is accepted, invalid fails with 1007, as early as possible

# Valid sequences (Autobahn 6.2, 6.5, 6.7-6.11, 6.22-6.23 after Markus Kuhn's UTF-8 test file).
VALID_UTF8 = {
    "6.2-hello": "Hello-µ@ßöäüàá-UTF-8!!".encode(),
    "6.5.1-kosme": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
    "6.7.2-first-2-byte-U+0080": b"\xc2\x80",
    "6.7.3-first-3-byte-U+0800": b"\xe0\xa0\x80",
    "6.7.4-first-4-byte-U+10000": b"\xf0\x90\x80\x80",
    "6.9.1-last-1-byte-U+007F": b"\x7f",
    "6.9.2-last-2-byte-U+07FF": b"\xdf\xbf",
    "6.9.3-last-3-byte-U+FFFF": b"\xef\xbf\xbf",
    "6.9.4-last-4-byte-U+10FFFF": b"\xf4\x8f\xbf\xbf",
    "6.11.1-U+D7FF": b"\xed\x9f\xbf",
    "6.11.2-U+E000": b"\xee\x80\x80",
    "6.11.3-U+FFFD": b"\xef\xbf\xbd",
    "6.22.1-noncharacter-U+FFFE": b"\xef\xbf\xbe",
    "6.22.2-noncharacter-U+1FFFE": b"\xf0\x9f\xbf\xbe",
    "6.22.3-noncharacter-U+10FFFF": b"\xf4\x8f\xbf\xbf",
    "6.22.4-noncharacter-U+FDD0": b"\xef\xb7\x90",
    "6.23.1-BOM-U+FEFF": b"\xef\xbb\xbf",
    "6.23.2-emoji": "😀👍🏽".encode(),
    "6.23.3-cjk-mix": "中文 日本語 한국어 ☃".encode(),
}

# Invalid sequences (Autobahn 6.3, 6.6, 6.8, 6.10, 6.12-6.21).
INVALID_UTF8 = {
    "6.3.1-surrogate-in-kosme": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    "6.8.1-5-byte-sequence": b"\xf8\x88\x80\x80\x80",
    "6.8.2-6-byte-sequence": b"\xfc\x84\x80\x80\x80\x80",
    "6.10.1-U+110000": b"\xf4\x90\x80\x80",
    "6.10.2-last-5-byte": b"\xfb\xbf\xbf\xbf\xbf",
    "6.10.3-last-6-byte": b"\xfd\xbf\xbf\xbf\xbf\xbf",
    "6.12.1-lone-continuation-80": b"\x80",
    "6.12.2-lone-continuation-bf": b"\xbf",
    "6.12.3-continuations-80-bf-80": b"\x80\xbf\x80",
    "6.12.8-all-64-continuations": bytes(range(0x80, 0xC0)),
    "6.13.1-lonely-2-byte-starts": b" ".join(bytes([c]) for c in range(0xC0, 0xE0)) + b" ",
    "6.13.2-lonely-3-byte-starts": b" ".join(bytes([c]) for c in range(0xE0, 0xF0)) + b" ",
    "6.13.3-lonely-4-byte-starts": b"\xf0 \xf1 \xf2 \xf3 \xf4 ",
    "6.14.1-missing-last-of-2": b"\xc0",
    "6.14.2-missing-last-of-3": b"\xe0\x80",
    "6.14.3-missing-last-of-4": b"\xf0\x80\x80",
    "6.14.6-missing-last-of-U+07FF": b"\xdf",
    "6.14.7-missing-last-of-U+FFFF": b"\xef\xbf",
    "6.14.8-missing-last-of-U+1FFFFF": b"\xf7\xbf\xbf",
    "6.15.1-concatenated-incomplete": b"\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf",
    "6.16.1-byte-fe": b"\xfe",
    "6.16.2-byte-ff": b"\xff",
    "6.16.3-fe-fe-ff-ff": b"\xfe\xfe\xff\xff",
    "6.17.1-overlong-slash-2": b"\xc0\xaf",
    "6.17.2-overlong-slash-3": b"\xe0\x80\xaf",
    "6.17.3-overlong-slash-4": b"\xf0\x80\x80\xaf",
    "6.18.1-max-overlong-2": b"\xc1\xbf",
    "6.18.2-max-overlong-3": b"\xe0\x9f\xbf",
    "6.18.3-max-overlong-4": b"\xf0\x8f\xbf\xbf",
    "6.19.1-overlong-nul-2": b"\xc0\x80",
    "6.19.2-overlong-nul-3": b"\xe0\x80\x80",
    "6.20.1-surrogate-U+D800": b"\xed\xa0\x80",
    "6.20.4-surrogate-U+DBFF": b"\xed\xaf\xbf",
    "6.20.5-surrogate-U+DC00": b"\xed\xb0\x80",
    "6.20.7-surrogate-U+DFFF": b"\xed\xbf\xbf",
    "6.21.1-surrogate-pair-D800-DC00": b"\xed\xa0\x80\xed\xb0\x80",
    "6.21.8-surrogate-pair-DBFF-DFFF": b"\xed\xaf\xbf\xed\xbf\xbf",
}

for name, seq in VALID_UTF8.items():

    @case(f"{name}-valid", nginx=name.startswith("6.5.1"), seq=seq)
    def _valid(ws, seq):
        msg = ping_text(pad=seq)
        ws.send_text(msg)
        ws.expect_pong_event()
        # the same message in 1-byte frames, so frame boundaries fall inside every character
        ws.send_fragments(TEXT, split(msg, 1))
        ws.expect_pong_event()

for name, seq in INVALID_UTF8.items():

    @case(f"{name}-1007", nginx=name.startswith("6.3.1"), seq=seq)
    def _invalid(ws, seq):
        ws.send_text(ping_text(pad=seq))
        ws.expect_close(1007)


@case("6.1.1-empty-text")
def _c611(ws):
    ws.send_text(b"")
    ws.expect_error("invalid_json")
    ws.round_trip()


@case("6.1.2-empty-fragments")
def _c612(ws):
    ws.send_fragments(TEXT, [b"", b"", b""])
    ws.expect_error("invalid_json")
    ws.round_trip()


@case("6.1.3-empty-fragments-then-content")
def _c613(ws):
    ws.send_fragments(TEXT, [b"", b"", ping_text()])
    ws.expect_pong_event()


@case("6.2.2-valid-split-at-code-points")
def _c622(ws):
    msg = ping_text(pad="Hello-µ@ßöäüàá-UTF-8!!".encode())
    cut = msg.index("ß".encode())
    ws.send_fragments(TEXT, [msg[:cut], msg[cut:]])
    ws.expect_pong_event()


@case("6.3.2-invalid-in-1-byte-frames-1007")
def _c632(ws):
    ws.send_fragments(TEXT, split(ping_text(pad=INVALID_UTF8["6.3.1-surrogate-in-kosme"]), 1))
    ws.expect_close(1007)


@case("6.4.1-fail-fast-on-an-invalid-fragment", nginx=True)
def _c641(ws):
    # The connection fails on the second fragment, before the third is even sent (§8.1).
    ws.send_frame(TEXT, b'{"type":"ping","pad":"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5', fin=False)
    ws.send_frame(CONT, b"\xf4\x90\x80\x80", fin=False)
    ws.expect_close(1007)


@case("6.4.2-fail-fast-on-a-byte-after-a-fragment")
def _c642(ws):
    ws.send_frame(TEXT, b'{"type":"ping","pad":"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4', fin=False)
    ws.send_frame(CONT, b"\x90", fin=False)
    ws.expect_close(1007)


@case("6.4.3-fail-fast-inside-one-frame", nginx=True)
def _c643(ws):
    # One frame announced with 100 payload bytes; only the first 29 are sent, the invalid ones among
    # them: the close comes without the rest of the frame.
    payload = b'{"type":"ping","pad":"\xce\xba\xe1\xbd\xb9\xf4\x90\x80\x80' + b"x" * 100
    frame = encode_frame(TEXT, payload[:100])
    ws.send_raw(frame[:6 + 29])
    ws.expect_close(1007)


@case("6.4.4-fail-fast-on-the-last-byte-written")
def _c644(ws):
    payload = b'{"type":"ping","pad":"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90' + b"x" * 100
    frame = encode_frame(TEXT, payload[:120])
    ws.send_raw(frame[:6 + len(payload) - 100])
    ws.expect_close(1007)


@case("6.6.1-truncated-at-the-end-1007", nginx=True)
def _c661(ws):
    # valid up to the end, where a 2-byte character lacks its last byte: not JSON-shaped, still 1007
    ws.send_text(b'{"type":"ping","pad":"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce')
    ws.expect_close(1007)


@case("6.6.2-truncated-4-byte-at-the-end-of-fragments-1007")
def _c662(ws):
    ws.send_fragments(TEXT, [b'{"type":"ping","pad":"', b"\xf0\x9f", b"\x98"])
    ws.expect_close(1007)


@case("6.6.3-complete-prefixes-accepted")
def _c663(ws):
    kosme = "κόσμε".encode()
    for end in range(1, len(kosme) + 1):
        prefix = kosme[:end]
        try:
            prefix.decode("utf-8")
        except UnicodeDecodeError:
            continue
        ws.send_text(ping_text(pad=prefix))
        ws.expect_pong_event()


@case("6.7.1-valid-control-characters-not-json")
def _c671(ws):
    # U+0000 and friends are valid UTF-8 (no 1007) but not JSON: invalid_json, socket open
    for text in (b"\x00", b"\x00\x01\x1f", b"\x7f", b"\xc2\x80"):
        ws.send_text(text)
        ws.expect_error("invalid_json")
    ws.round_trip()


@case("6.x-invalid-binary-is-not-checked")
def _c6bin(ws):
    ws.send_binary(b"\xed\xa0\x80\xff\xfe")  # binary payloads are not UTF-8 checked
    ws.expect_error("invalid_json")
    ws.round_trip()


# ---- 7 close handling (§5.5.1, §7)

@case("7.1.1-message-then-close", nginx=True)
def _c711(ws):
    ws.send_raw(encode_frame(TEXT, ping_text()) + encode_frame(CLOSE, b"\x03\xe8"))
    ws.expect_pong_event()
    ws.expect_close(1000)


@case("7.1.2-close-twice")
def _c712(ws):
    ws.send_raw(encode_frame(CLOSE, b"\x03\xe8") + encode_frame(CLOSE, b"\x03\xe8"))
    ws.expect_close(1000)


@case("7.1.3-ping-after-close-ignored", nginx=True)
def _c713(ws):
    ws.send_raw(encode_frame(CLOSE, b"\x03\xe8") + encode_frame(PING, b"after close"))
    ws.expect_close(1000)  # expect_close fails on a pong before the close frame or bytes after it


@case("7.1.4-text-after-close-ignored")
def _c714(ws):
    ws.send_raw(encode_frame(CLOSE, b"\x03\xe8") + encode_frame(TEXT, ping_text()))
    ws.expect_close(1000)


@case("7.1.5-close-inside-a-fragmented-message")
def _c715(ws):
    msg = ping_text(40)
    ws.send_raw(encode_frame(TEXT, msg[:20], fin=False) + encode_frame(CLOSE, b"\x03\xe8")
                + encode_frame(CONT, msg[20:]))
    ws.expect_close(1000)


@case("7.1.6-close-after-many-messages", nginx=True)
def _c716(ws):
    ws.send_raw(b"".join(encode_frame(TEXT, ping_text(61440 if k == 5 else None)) for k in range(10))
                + encode_frame(PING, b"last") + encode_frame(CLOSE, b"\x03\xe8"))
    for _ in range(10):
        ws.expect_pong_event()
    ws.expect_control(PONG, b"last")
    ws.expect_close(1000)


@case("7.1.7-frames-after-close-ignored-separate-writes")
def _c717(ws):
    ws.send_close(1000)
    time.sleep(0.05)
    ws.send_raw(encode_frame(TEXT, ping_text()) + encode_frame(PING, b"x"))
    ws.expect_close(1000)


@case("7.3.1-empty-close-1000", nginx=True)
def _c731(ws):
    ws.send_close()
    ws.expect_close(1000)


@case("7.3.2-1-byte-close-1002", nginx=True)
def _c732(ws):
    ws.send_frame(CLOSE, b"\x03")
    ws.expect_close(1002)


@case("7.3.3-close-1000")
def _c733(ws):
    ws.send_close(1000)
    ws.expect_close(1000)


@case("7.3.4-close-1000-with-reason")
def _c734(ws):
    ws.send_close(1000, b"Hello World!")
    ws.expect_close(1000)


@case("7.3.5-close-1000-with-123-byte-reason")
def _c735(ws):
    ws.send_close(1000, b"*" * 123)
    ws.expect_close(1000)


@case("7.3.6-close-with-124-byte-reason-1002")
def _c736(ws):
    ws.send_close(1000, b"*" * 124)  # 126 payload bytes: too long for a control frame
    ws.expect_close(1002)


@case("7.3.7-close-reason-1-byte-writes")
def _c737(ws):
    ws.send_close(1001, "bye – à bientôt".encode(), chop=1)
    ws.expect_close(1001)


@case("7.5.1-close-reason-invalid-utf8-1007", nginx=True)
def _c751(ws):
    ws.send_close(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")
    ws.expect_close(1007)


@case("7.5.2-close-reason-truncated-utf8-1007")
def _c752(ws):
    ws.send_close(1000, b"truncated \xce")
    ws.expect_close(1007)


VALID_CLOSE = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
INVALID_CLOSE = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]

for i, code in enumerate(VALID_CLOSE, 1):

    @case(f"7.7.{i}-close-code-{code}-echoed", nginx=code == 4000, code=code)
    def _valid_close(ws, code):
        ws.send_close(code, b"reason")
        ws.expect_close(code)

for i, code in enumerate(INVALID_CLOSE, 1):

    @case(f"7.9.{i}-close-code-{code}-1002", nginx=code in (1005, 2999), code=code)
    def _invalid_close(ws, code):
        ws.send_close(code)
        ws.expect_close(1002)


# ---- 9 limits: 64 KiB messages whole, in fragments and chopped; one byte more is 1009; many round trips

@case("9.1.1-text-64KiB-one-frame", nginx=True)
def _c911(ws):
    ws.send_text(ping_text(LIMIT))
    ws.expect_pong_event()


@case("9.2.1-binary-64KiB-one-frame")
def _c921(ws):
    ws.send_binary(binary_blob(LIMIT))
    ws.expect_error("invalid_json")
    ws.round_trip()


for i, size in enumerate((64, 256, 1024, 4096, 16384, 65536), 1):

    @case(f"9.3.{i}-text-64KiB-in-{size}-byte-fragments", nginx=size == 64, size=size)
    def _c93(ws, size):
        ws.send_fragments(TEXT, split(ping_text(LIMIT), size))
        ws.expect_pong_event()

    @case(f"9.4.{i}-binary-64KiB-in-{size}-byte-fragments", size=size)
    def _c94(ws, size):
        ws.send_fragments(BINARY, split(binary_blob(LIMIT), size))
        ws.expect_error("invalid_json")
        ws.round_trip()

for i, chop in enumerate((64, 128, 256, 512, 1024, 2048), 1):

    @case(f"9.5.{i}-text-64KiB-in-{chop}-byte-writes", nginx=chop == 64, chop=chop)
    def _c95(ws, chop):
        ws.send_text(ping_text(LIMIT), chop=chop)
        ws.expect_pong_event()

    @case(f"9.6.{i}-binary-64KiB-in-{chop}-byte-writes", chop=chop)
    def _c96(ws, chop):
        ws.send_binary(binary_blob(LIMIT), chop=chop)
        ws.expect_error("invalid_json")


# Through nginx too: the daemon shuts its write side after the close frame and drains the rest of the
# refused frame until the client's EOF (RFC 6455 §7.1.1), so no reset makes nginx drop the close frame.
@case("9.9.1-text-64KiB+1-one-frame-1009", nginx=True)
def _c991(ws):
    ws.send_text(ping_text(LIMIT + 1))
    ws.expect_close(1009)


@case("9.9.2-binary-64KiB+1-one-frame-1009")
def _c992(ws):
    ws.send_binary(binary_blob(LIMIT + 1))
    ws.expect_close(1009)


@case("9.9.3-text-64KiB+1-in-fragments-1009", nginx=True)
def _c993(ws):
    ws.send_fragments(TEXT, split(ping_text(LIMIT + 1), 1024))
    ws.expect_close(1009)


@case("9.9.4-text-64KiB-then-1-byte-fragment-1009")
def _c994(ws):
    ws.send_fragments(TEXT, [ping_text(LIMIT)[:-1], b"}", b" "])
    ws.expect_close(1009)


@case("9.9.5-binary-64KiB+1-in-fragments-1009")
def _c995(ws):
    ws.send_fragments(BINARY, split(binary_blob(LIMIT + 1), 4096))
    ws.expect_close(1009)


@case("9.9.6-oversize-refused-from-the-header", nginx=True)
def _c996(ws):
    # Only the header of a 16 MiB frame is sent: the daemon refuses from the declared length (§10.4).
    ws.send_raw(encode_frame(TEXT, b"x" * (16 << 20))[:14])
    ws.expect_close(1009)


@case("9.9.7-64-bit-length-with-top-bit-1002")
def _c997(ws):
    ws.send_raw(bytes([0x81, 0xFF]) + (1 << 63 | 200).to_bytes(8, "big") + b"\x00\x00\x00\x00")
    ws.expect_close(1002)  # §5.2: the most significant bit of a 64-bit length MUST be 0


for i, n in enumerate((None, 256, 4096), 1):

    @case(f"9.7.{i}-1000-text-round-trips-{n or 15}-bytes", nginx=i == 1, n=n)
    def _c97(ws, n):
        msg = encode_frame(TEXT, ping_text(n))
        for _ in range(1000):
            ws.send_raw(msg)
            ws.expect_pong_event()


@case("9.8.1-1000-binary-round-trips")
def _c981(ws):
    msg = encode_frame(BINARY, b"\x00" * 16)
    for _ in range(1000):
        ws.send_raw(msg)
        ws.expect_error("invalid_json")


@case("9.8.2-1000-ping-round-trips")
def _c982(ws):
    for k in range(1000):
        ws.send_ping(k.to_bytes(4, "big"))
        ws.expect_control(PONG, k.to_bytes(4, "big"))


# ---- 10 misc: a message auto-fragmented by a client into 1300-byte frames

@case("10.1.1-60KiB-in-1300-byte-frames", nginx=True)
def _c1011(ws):
    ws.send_fragments(TEXT, split(ping_text(60 * 1024), 1300))
    ws.expect_pong_event()


# --------------------------------------------------------------------------------------------------
# the tests


@pytest.fixture(scope="module")
def ws_token(api) -> str:
    """A user of its own, out of #general too: its hundreds of sockets make no presence events for
    anyone else, and nobody else's events reach them."""
    u = register_user(api, username=uname("wsconf_"))
    h = auth_headers(u.access)
    r = api.get("/api/v1/channels/my", headers=h)
    assert r.status_code == 200, r.text
    for ch in r.json():
        left = api.delete(f"/api/v1/channels/{ch['id']}/leave", headers=h)
        assert left.status_code == 200, left.text
    return u.access


@pytest.fixture(scope="module")
def endpoints(stack) -> dict:
    ports = stack.env.get("REALTIME_PORTS", "")
    assert ports, f"chat.env has no REALTIME_PORTS: {stack.env}"
    return {"direct": int(ports.split(",")[0]), "nginx": stack.port}


@pytest.mark.parametrize("where", ["direct", "nginx"])
def test_frames_right_behind_the_upgrade_request(where, endpoints, ws_token):
    """§4.1 has a client wait for the 101 before sending frames; one that does not (it pipelines) is
    not punished: its frames are answered after connection_established, in order."""
    early = encode_frame(TEXT, ping_text(300)) + encode_frame(PING, b"early") + encode_frame(BINARY, b"\x00")
    ws = DaemonWs("127.0.0.1", endpoints[where], f"/ws?token={ws_token}", timeout=10)
    try:
        ws.connect(early)
        ws.expect_pong_event()
        ws.expect_control(PONG, b"early")
        ws.expect_error("invalid_json")
        ws.send_close(1000)
        ws.expect_close(1000)
    finally:
        ws.close()


def run_case(c: Case, port: int, token: str) -> None:
    ws = DaemonWs("127.0.0.1", port, f"/ws?token={token}", timeout=10)
    try:
        ws.connect()
        c.fn(ws)
    finally:
        ws.close()


def test_case_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_direct(c, endpoints, ws_token):
    run_case(c, endpoints["direct"], ws_token)


NGINX_CASES = [c for c in CASES if c.nginx]


@pytest.mark.parametrize("c", NGINX_CASES, ids=[c.id for c in NGINX_CASES])
def test_via_nginx(c, endpoints, ws_token):
    run_case(c, endpoints["nginx"], ws_token)
