#!/usr/bin/python3
"""make bench: chat-realtime through the real stack: (1) how many idle authenticated WebSockets one daemon
holds here and its RSS per socket, (2) fan-out of new_message to N sockets of M members of one channel while
messages are sent over REST at a steady rate, next to a ceiling measured in the same run.

    /usr/bin/python3 tests/bench/realtime.py

Starts its own stack (tests/bench/run.py's start_stack: deploy/stack.sh up in a temporary 0755 run dir under
/tmp on a free port; down at the end), only on loopback addresses, bounded well under 5 minutes.

(1) Sockets go straight to chat-realtime-1 (ws://127.0.0.1:PORT/ws?token=...) from BENCH_IDLE_PROCS client
processes (asyncio, raw sockets), each with RLIMIT_NOFILE ≤ 20000 and its own source address 127.0.0.1x
(one address's ephemeral ports would not last), until the daemon refuses or BENCH_IDLE_SOCKETS are open.
RSS is /proc/PID/status VmRSS of the daemon before and after; its users share no conversation, so the
sockets really are idle. BENCH_IDLE_SOCKETS=20000 goes on to the daemon's refusal (its 20 000 descriptors);
BENCH_IDLE_SOCKETS=0 skips this part. BENCH_FANOUT and BENCH_FANOUT_SECONDS choose the fan-out rows.

(2) Receivers connect through nginx's /ws (least_conn over both daemons), members holding several sockets
each. The sender POSTs /api/v1/messages/ at a steady rate with its send time (CLOCK_MONOTONIC, the same clock
in every process) in the content; latency is REST send → frame received. The ceiling: the same receivers
while a raw `XADD chat:events` loop writes, at the same rate, the very entry the outbox relay writes (a real
new_message payload captured from the stream). That is the daemon's own input (it reads new_message from
the stream, not from pub/sub; a PUBLISH on chat:ephemeral would measure the typing path instead), so the
ceiling is the daemon + nginx + these Python receivers alone, and the gap to it is what the REST path
(nginx, FastCGI handler, PostgreSQL insert, outbox relay) adds. On this 2-core machine the receivers share
the cores with everything else: compare the two rows of a size, not absolutes.
"""
from __future__ import annotations

import array
import asyncio
import multiprocessing as mp
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as restbench  # noqa: E402  (start_stack / stop_stack of make bench)

sys.path.insert(0, os.path.join(restbench.REPO, "tests", "integration"))
from conftest import http_client  # noqa: E402  (TCP_NODELAY: httpx 0.23 would wait for delayed ACKs)

IDLE_TARGET = int(os.environ.get("BENCH_IDLE_SOCKETS", "19000"))
IDLE_PROCS = int(os.environ.get("BENCH_IDLE_PROCS", "4"))
IDLE_USERS = 50
# size:members:messages per second, e.g. 100:20:50 = 100 sockets of 20 members (5 each), 50 msg/s
FANOUT = os.environ.get("BENCH_FANOUT", "100:20:50,1000:100:20,5000:250:5")
FANOUT_SECONDS = float(os.environ.get("BENCH_FANOUT_SECONDS", "6"))
RX_PROCS = int(os.environ.get("BENCH_RX_PROCS", "2"))
SEND_THREADS = 4
NOFILE = 20000

HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
PONG = b"\x8a\x80\x00\x00\x00\x00"  # masked (key 0) empty pong: the answer to the daemon's keep-alive ping
MARK = b'"bench '  # the content's start (the payload's JSON may have spaces around the colon)


# ---------------------------------------------------------------------------------------------------
# client processes: many raw WebSockets on one asyncio loop, driven by commands over a pipe


class Sock(asyncio.Protocol):
    """One WebSocket: handshake, then a minimal frame reader that timestamps bench contents."""

    __slots__ = ("w", "path", "t", "buf", "open", "ready")

    def __init__(self, w: "Worker", path: str):
        self.w, self.path, self.t, self.buf, self.open = w, path, None, b"", False
        self.ready = w.loop.create_future()

    def connection_made(self, t):
        self.t = t
        t.write(HANDSHAKE.format(path=self.path).encode())

    def connection_lost(self, exc):
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before connection_established ({exc})"))
        self.w.lost += 1

    def data_received(self, data):
        now = time.monotonic()
        buf = self.buf + data if self.buf else data
        if not self.open:
            i = buf.find(b"\r\n\r\n")
            if i < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(buf[:buf.find(b"\r\n")].decode("latin-1")))
                self.t.close()
                return
            self.open = True
            buf = buf[i + 4:]
        pos, n = 0, len(buf)
        while n - pos >= 2:
            ln = buf[pos + 1] & 0x7F
            hl = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln, hl = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln, hl = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            end = pos + hl + ln
            if end > n:
                break
            op = buf[pos] & 0x0F
            if op == 1:
                if not self.ready.done():
                    self.ready.set_result(True)  # connection_established: authenticated and registered
                else:
                    k = buf.find(MARK, pos + hl, end)
                    if k >= 0:
                        k += len(MARK)
                        phase, ts = buf[k:buf.find(b'"', k, end)].split(b" ")
                        self.w.record(phase, now - float(ts), now)
            elif op == 9:
                self.t.write(PONG)
            pos = end
        self.buf = buf[pos:]


class Worker:
    def __init__(self, conn, src_ip: str):
        self.conn, self.src = conn, src_ip
        self.loop = asyncio.new_event_loop()
        self.socks: list[Sock] = []
        self.lost = 0
        self.reset()

    def reset(self):
        self.lat: dict[bytes, array.array] = {}
        self.last_rx = 0.0

    def record(self, phase: bytes, latency: float, now: float):
        a = self.lat.get(phase)
        if a is None:
            a = self.lat[phase] = array.array("d")
        a.append(latency)
        self.last_rx = now

    async def open_many(self, port: int, paths: list[str], concurrency: int, max_failures: int):
        sem = asyncio.Semaphore(concurrency)
        ok = failed = 0
        first_error = ""
        t0 = time.monotonic()

        async def one(path):
            nonlocal ok, failed, first_error
            async with sem:
                if failed >= max_failures:
                    return
                p = None
                try:
                    _, p = await asyncio.wait_for(self.loop.create_connection(
                        lambda: Sock(self, path), "127.0.0.1", port, local_addr=(self.src, 0)), 30)
                    await asyncio.wait_for(p.ready, 30)
                    self.socks.append(p)
                    ok += 1
                except Exception as e:  # refused, reset, timed out: counted, the first one reported
                    failed += 1
                    first_error = first_error or f"{type(e).__name__}: {e}"
                    if p is not None and p.t is not None:
                        p.t.abort()

        await asyncio.gather(*(one(p) for p in paths))
        self.conn.send(("opened", ok, failed, first_error, time.monotonic() - t0))

    async def close_all(self):
        for s in self.socks:
            s.t.abort()  # RST: 19 000 FIN handshakes would only slow the next step down
        self.socks.clear()
        await asyncio.sleep(0.2)
        self.conn.send(("closed",))

    def on_command(self):
        cmd, *args = self.conn.recv()
        if cmd == "open":
            self.loop.create_task(self.open_many(*args))
        elif cmd == "reset":
            self.reset()
            self.conn.send(("reset",))
        elif cmd == "count":
            self.conn.send(("count", {k.decode(): len(v) for k, v in self.lat.items()}, self.last_rx,
                            len(self.socks), self.lost))
        elif cmd == "stats":
            a = self.lat.get(args[0].encode(), array.array("d"))
            self.conn.send(("stats", a.tobytes(), self.last_rx))
        elif cmd == "close":
            self.loop.create_task(self.close_all())
        elif cmd == "exit":
            self.loop.stop()


def worker_main(conn, src_ip: str):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(NOFILE, hard), hard))
    w = Worker(conn, src_ip)
    w.loop.add_reader(conn.fileno(), w.on_command)
    w.loop.run_forever()


class Clients:
    """n client processes, one source address each."""

    def __init__(self, n: int, first_ip: int):
        ctx = mp.get_context("fork")
        self.pipes, self.procs = [], []
        for i in range(n):
            a, b = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(b, f"127.0.0.{first_ip + i}"), daemon=True)
            p.start()
            self.pipes.append(a)
            self.procs.append(p)
        self.ips = [f"127.0.0.{first_ip + i}" for i in range(n)]

    def ask(self, per_worker_args: list[tuple], timeout: float = 120) -> list[tuple]:
        for pipe, args in zip(self.pipes, per_worker_args):
            pipe.send(args)
        out = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise RuntimeError(f"a client process did not answer {per_worker_args[0][0]!r} in {timeout} s")
            out.append(pipe.recv())
        return out

    def all(self, *cmd, timeout: float = 120) -> list[tuple]:
        return self.ask([cmd] * len(self.pipes), timeout)

    def stop(self):
        for pipe in self.pipes:
            try:
                pipe.send(("exit",))
            except OSError:
                pass
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()


# ---------------------------------------------------------------------------------------------------
# the stack


def env_file(run_dir: str) -> dict:
    out = {}
    for line in open(f"{run_dir}/chat.env"):
        m = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line.strip())
        if m:
            v = m.group(2)
            out[m.group(1)] = v[1:-1] if len(v) >= 2 and v[0] == v[-1] == "'" else v
    return out


def vm_rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def metric(port: int, name: str) -> int | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=3).text
    except httpx.HTTPError:
        return None
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def wait_sockets_gone(ports: list[int], timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [metric(p, "chat_realtime_tcp_connections") for p in ports]
        if all(c is not None and c <= 1 for c in counts):  # the /metrics request itself
            return
        time.sleep(0.3)


class Api:
    def __init__(self, url: str):
        self.c = http_client(url, timeout=30)

    def register(self, prefix: str) -> tuple[str, str]:
        name = prefix + uuid.uuid4().hex[:10]
        r = self.c.post("/api/v1/auth/register",
                        json={"email": f"{name}@example.com", "username": name, "password": "bench-password-1"})
        r.raise_for_status()
        d = r.json()
        return d["user"]["id"], d["access_token"]

    def h(self, token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def leave_all(self, token: str):
        r = self.c.get("/api/v1/channels/my", headers=self.h(token))
        if r.status_code != 200:
            raise RuntimeError(f"GET /channels/my: {r.status_code} {r.text}")
        for ch in r.json():
            self.c.delete(f"/api/v1/channels/{ch['id']}/leave", headers=self.h(token)).raise_for_status()


# ---------------------------------------------------------------------------------------------------
# (1) idle sockets on one daemon


def idle_capacity(api: Api, run_dir: str, port: int) -> dict:
    pid = int(subprocess.run(["supervisorctl", "-c", f"{run_dir}/supervisord.conf", "pid", "chat-realtime-1"],
                             capture_output=True, text=True, check=True).stdout.strip())
    tokens = []
    for _ in range(IDLE_USERS):
        _, tok = api.register("idle")
        api.leave_all(tok)  # out of #general: no presence events between them, the sockets stay idle
        tokens.append(tok)
    time.sleep(1)
    rss0, fds0 = vm_rss_kib(pid), fd_count(pid)
    clients = Clients(IDLE_PROCS, 11)
    try:
        share = [IDLE_TARGET // IDLE_PROCS + (1 if i < IDLE_TARGET % IDLE_PROCS else 0) for i in range(IDLE_PROCS)]
        k = 0
        args = []
        for n in share:
            paths = [f"/ws?token={tokens[(k + j) % len(tokens)]}" for j in range(n)]
            k += n
            args.append(("open", port, paths, 64, 20))
        t0 = time.monotonic()
        res = clients.ask(args, timeout=150)
        elapsed = time.monotonic() - t0
        opened = sum(r[1] for r in res)
        failed = sum(r[2] for r in res)
        errors = [r[3] for r in res if r[3]]
        time.sleep(1.5)
        rss1, fds1 = vm_rss_kib(pid), fd_count(pid)
        daemon_open = metric(port, "chat_realtime_open_sockets")
        clients.all("close")
    finally:
        clients.stop()
    return dict(target=IDLE_TARGET, opened=opened, failed=failed, error=errors[0] if errors else "",
                seconds=elapsed, rss0=rss0, rss1=rss1, fds0=fds0, fds1=fds1, daemon_open=daemon_open,
                procs=IDLE_PROCS, ips=clients.ips)


# ---------------------------------------------------------------------------------------------------
# (2) fan-out


class Resp:
    """Just enough RESP over the stack's Redis unix socket for XADD and XREVRANGE."""

    def __init__(self, path: str):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t in (b"+", b":"):
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError(f"unexpected RESP {line!r}")


def paced(rate: float, seconds: float, threads: int, send) -> tuple[int, float, list[float]]:
    """Calls send(seq, content) at `rate` per second for `seconds` from `threads` threads (seq i is due at
    t0 + i/rate; a late one goes at once). Returns (count, seconds taken, call durations)."""
    total = max(1, int(rate * seconds))
    t0 = time.monotonic() + 0.05
    durations: list[float] = []
    lock = threading.Lock()

    def loop(k):
        for i in range(k, total, threads):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            start = time.monotonic()
            send(i, start)
            with lock:
                durations.append(time.monotonic() - start)

    ts = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return total, time.monotonic() - t0, durations


def pct(sorted_values, p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def measure(clients: Clients, phase: str, expected: int, sender) -> dict:
    clients.all("reset")
    first_send = time.monotonic()
    sent, send_seconds, durations = sender()
    # drain: until every delivery arrived, or nothing new came for 3 s (10 s at most)
    deadline = time.monotonic() + 10
    last, still = -1, time.monotonic()
    while time.monotonic() < deadline:
        got = sum(r[1].get(phase, 0) for r in clients.all("count"))
        if got >= expected:
            break
        if got != last:
            last, still = got, time.monotonic()
        elif time.monotonic() - still > 3:
            break
        time.sleep(0.1)
    lat = array.array("d")
    last_rx = first_send
    for r in clients.all("stats", phase):
        lat.frombytes(r[1])
        last_rx = max(last_rx, r[2])
    values = sorted(lat)
    return dict(sent=sent, rate=sent / send_seconds, expected=expected, delivered=len(values),
                per_s=len(values) / max(1e-9, last_rx - first_send), p50=pct(values, 50) * 1000,
                p99=pct(values, 99) * 1000, max=(values[-1] * 1000 if values else float("nan")),
                call_p50=pct(sorted(durations), 50) * 1000, call_p99=pct(sorted(durations), 99) * 1000)


def fanout(api: Api, env: dict, nginx_port: int, realtime_ports: list[int]) -> list[dict]:
    configs = []
    for spec in FANOUT.split(","):
        n, m, r = spec.split(":")
        configs.append((int(n), int(m), float(r)))
    max_members = max(m for _, m, _ in configs)
    sender_id, sender = api.register("sender")
    ch = api.c.post("/api/v1/channels/", headers=api.h(sender), json={"name": "bench-" + uuid.uuid4().hex[:8]})
    ch.raise_for_status()
    cid = ch.json()["id"]
    members = []
    for _ in range(max_members):
        _, tok = api.register("member")
        api.c.post("/api/v1/channels/join", headers=api.h(tok), json={"channel_id": cid}).raise_for_status()
        members.append(tok)
    redis_path = env["REDIS_URL"][len("unix://"):].split("?")[0]
    redis = Resp(redis_path)
    rest_local = threading.local()
    template = None
    rows = []
    clients = Clients(RX_PROCS, 21)
    try:
        for n, m, rate in configs:
            # member i holds n/m sockets (the first n % m one more), spread over the client processes
            paths = [f"/ws?token={members[i % m]}" for i in range(n)]
            per = [paths[k::RX_PROCS] for k in range(RX_PROCS)]
            res = clients.ask([("open", nginx_port, p, 64, 1) for p in per], timeout=150)
            opened = sum(r[1] for r in res)
            if opened != n:
                raise RuntimeError(f"fan-out {n}: only {opened} sockets opened: {[r[3] for r in res if r[3]]}")
            time.sleep(2)  # presence events of the members' first sockets settle

            def rest_send(i, now):
                c = getattr(rest_local, "c", None)
                if c is None:
                    c = rest_local.c = http_client(f"http://127.0.0.1:{nginx_port}", timeout=30)
                r = c.post("/api/v1/messages/", headers=api.h(sender),
                           json={"channel_id": cid, "content": f"bench rest {now:.6f}"})
                if r.status_code != 201:
                    raise RuntimeError(f"POST /messages: {r.status_code} {r.text}")

            # warm-up: every handler thread has prepared its statements, every path is hot
            warm = http_client(f"http://127.0.0.1:{nginx_port}", timeout=30)
            for k in range(20):
                warm.post("/api/v1/messages/", headers=api.h(sender),
                          json={"channel_id": cid, "content": f"warm-up {k}"}).raise_for_status()
            warm.close()
            time.sleep(0.5)
            total = max(1, int(rate * FANOUT_SECONDS))
            row_rest = measure(clients, "rest", total * n,
                               lambda: paced(rate, FANOUT_SECONDS, SEND_THREADS, rest_send))
            if template is None:
                entry = redis.cmd("XREVRANGE", "chat:events", "+", "-", "COUNT", "50")
                for _, kv in entry:
                    fields = dict(zip(kv[::2], kv[1::2]))
                    if fields.get(b"type") == b"new_message" and b'"bench rest ' in fields[b"payload"]:
                        template = fields
                        break
                if template is None:
                    raise RuntimeError(f"no new_message of the bench in chat:events: {row_rest} {entry[:2]}")
            payload = template[b"payload"]
            head, _, tail = payload.partition(b'"bench rest ')
            tail = tail[tail.find(b'"'):]

            def xadd(i, now):
                body = head + b'"bench raw %.6f' % now + tail
                redis.cmd("XADD", "chat:events", "MAXLEN", "~", "100000", "*", "type", "new_message",
                          "conversation_id", cid, "audience", template.get(b"audience", b"conversation"),
                          "user_ids", b"", "payload", body, "outbox_id", f"bench-{uuid.uuid4().hex}")

            row_raw = measure(clients, "raw", total * n, lambda: paced(rate, FANOUT_SECONDS, 1, xadd))
            rows.append(dict(n=n, m=m, rate=rate, rest=row_rest, raw=row_raw))
            clients.all("close")
            wait_sockets_gone(realtime_ports)
    finally:
        clients.stop()
    return rows


# ---------------------------------------------------------------------------------------------------


def main():
    os.environ.setdefault("REALTIME_PROCS", "2")
    # auth is not what this measures: cheap password hashing makes the few hundred registrations quick
    os.environ.setdefault("ARGON2_TIME_COST", "1")
    os.environ.setdefault("ARGON2_MEMORY_KIB", "8192")
    started = time.monotonic()
    base, env, url = restbench.start_stack()
    try:
        run_dir = env["CHAT_RUN_DIR"]
        stack_env = env_file(run_dir)
        rt_ports = [int(p) for p in stack_env["REALTIME_PORTS"].split(",")]
        nginx_port = int(url.rsplit(":", 1)[1])
        api = Api(url)
        idle = idle_capacity(api, run_dir, rt_ports[0]) if IDLE_TARGET > 0 else None
        wait_sockets_gone(rt_ports)
        fan = fanout(api, stack_env, nginx_port, rt_ports)
    finally:
        restbench.stop_stack(base, env)
    total = time.monotonic() - started

    print(f"\nchat-realtime benchmark: REALTIME_PROCS={len(rt_ports)}, {os.cpu_count()} cores, loopback only, "
          f"{total:.0f} s in all\n")
    if idle:
        print_idle(idle)
    print_fanout(fan)


def print_idle(d: dict):
    grown = d["rss1"] - d["rss0"]
    per = grown / d["opened"] if d["opened"] else float("nan")
    refused = f"yes ({d['failed']}: {d['error'][:60]})" if d["failed"] else f"no (stopped at the target {d['target']})"
    print(f"1. idle authenticated sockets held by one daemon (direct to chat-realtime-1, {d['procs']} client "
          f"processes from {d['ips'][0]}-{d['ips'][-1].rsplit('.', 1)[1]})\n")
    print(f"{'sockets open':>12} {'daemon says':>11} {'daemon fds':>10} {'open time s':>11} {'opens/s':>8} "
          f"{'RSS before MiB':>14} {'RSS after MiB':>13} {'RSS/socket KiB':>14}  refused")
    says = "n/a" if d["daemon_open"] is None else str(d["daemon_open"])  # no descriptor left for /metrics
    print(f"{d['opened']:>12} {says:>11} {d['fds1']:>10} {d['seconds']:>11.1f} "
          f"{d['opened'] / d['seconds']:>8.0f} {d['rss0'] / 1024:>14.1f} {d['rss1'] / 1024:>13.1f} {per:>14.2f}  "
          f"{refused}")


def print_fanout(fan: list[dict]):
    print(f"\n2. fan-out of new_message to every socket of the members of one channel (receivers through nginx /ws, "
          f"{RX_PROCS} client processes; {FANOUT_SECONDS:.0f} s of sends per row)")
    print("   REST:    POST /api/v1/messages/ through nginx; latency = POST start → frame received")
    print("   ceiling: raw XADD chat:events of the same new_message entry at the same rate (no handler, "
          "PostgreSQL or outbox)\n")
    print(f"{'sockets':>7} {'members':>7} {'path':<8} {'msg/s':>6} {'sent':>5} {'expected':>9} {'delivered':>9} "
          f"{'deliv/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'send p50':>8} {'send p99':>8} {'p99/ceil':>8}")
    for r in fan:
        for label in ("rest", "raw"):
            x = r[label]
            ratio = x["p99"] / r["raw"]["p99"] if r["raw"]["p99"] else float("nan")
            print(f"{r['n']:>7} {r['m']:>7} {('REST' if label == 'rest' else 'ceiling'):<8} {x['rate']:>6.1f} "
                  f"{x['sent']:>5} {x['expected']:>9} {x['delivered']:>9} {x['per_s']:>8.0f} {x['p50']:>7.2f} "
                  f"{x['p99']:>7.2f} {x['max']:>7.1f} {x['call_p50']:>8.2f} {x['call_p99']:>8.2f} {ratio:>8.2f}")
    print("\nsend p50/p99: ms one POST (REST) or one XADD (ceiling) took. Numbers on a shared 2-core "
          "machine move by ±30 %: compare a row with its ceiling, and run it twice.")


if __name__ == "__main__":
    main()
