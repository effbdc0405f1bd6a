#!/usr/bin/python3
"""make bench: one chat-realtime daemon under load from tests/bench/ws_load (a C++ client: one epoll thread holding
thousands of WebSockets, built with the project), through the real stack:

  1. idle authenticated sockets one daemon holds, and its RSS per socket (target ≤ 2 KiB);
  2. deliveries of new_message per second of the daemon's CPU, at 1 000 and 10 000 sockets (target ≥ 300 000);
  3. p99 send → receive at 10 000 sockets (target ≤ 50 ms).

    /usr/bin/python3 tests/bench/realtime.py

Starts its own stack (tests/bench/run.py's start_stack: deploy/stack.sh up in a temporary 0755 run dir under
/tmp on a free port; down at the end), only on loopback addresses, in about 2 minutes. Every socket goes straight
to chat-realtime-1 (ws://127.0.0.1:PORT/ws?token=...), not through nginx: the figures are one daemon's.

(1) BENCH_IDLE_SOCKETS (19 000) sockets of 50 users who share no conversation (so the sockets really are idle),
opened by ws_load processes of at most 18 000 sockets each (RLIMIT_NOFILE is 20 000 here), each from its own
source addresses 127.0.0.1x (one address's ephemeral ports would not last), until the daemon refuses or all are
open. RSS per socket is the growth of the daemon's VmRSS (/proc/PID/status) over the sockets opened.
BENCH_IDLE_SOCKETS=20000 goes on to the daemon's refusal (its own 20 000 descriptors); 0 skips this part.

(2, 3) BENCH_FANOUT rows "sockets:members:REST msg/s:raw msg/s" (default 1000:100:50:200,10000:500:10:20): the
members of one channel hold the sockets (sockets/members each). Two drivers per row, BENCH_FANOUT_SECONDS (6) of
sends each, every message carrying its send time (CLOCK_MONOTONIC, the same clock in every process) in its content:
  raw   a paced `XADD chat:events` of the very entry the outbox relay writes (a real new_message captured from
        the stream, core/stream.hpp's format): the daemon's own input, no handler, PostgreSQL or relay in the way;
  REST  POST /api/v1/messages/ through nginx, for comparison: the whole send path in front of the daemon.
deliv/CPU s is the frames delivered over the CPU seconds the daemon (all its threads: /proc/PID/stat utime+stime)
spent from the first send to the last delivery; the rate is one the daemon keeps up with, so it is the cost of a
delivery, not a saturation point. Latency is send → frame parsed by ws_load, and (arr) send → data in the client
socket's receive queue (the kernel's SO_TIMESTAMPNS stamp of the read): the daemon's part of it. ws_load's own CPU is shown: on this
2-core machine it shares the cores with the daemon, Redis and the sender, so compare figures of one run and run it
twice; a row whose ws_load CPU nears 100 % measures the generator, not the daemon. `load` is the machine's 1-minute
load average after the row: above the core count the daemon is time-sliced with other work, which stretches a
fan-out (and its p99) much more than it changes the CPU per delivery. BENCH_FANOUT= skips (2, 3). What the figures
come to, and why: docs/events.md §5.
"""
from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as restbench  # noqa: E402  (start_stack / stop_stack / _proc_stat of make bench)

sys.path.insert(0, os.path.join(restbench.REPO, "tests", "integration"))
from conftest import http_client  # noqa: E402  (TCP_NODELAY: httpx 0.23 would wait for delayed ACKs)

IDLE_TARGET = int(os.environ.get("BENCH_IDLE_SOCKETS", "19000"))
IDLE_USERS = 50
IDLE_PER_PROC = 18000  # a ws_load process's sockets: RLIMIT_NOFILE is 20 000 here
# sockets:members:REST msg/s:raw msg/s; member i holds sockets/members of them
FANOUT = os.environ.get("BENCH_FANOUT", "1000:100:50:200,10000:500:10:20")
FANOUT_SECONDS = float(os.environ.get("BENCH_FANOUT_SECONDS", "6"))
SEND_THREADS = 4
# the targets printed next to the figures
TARGET_RSS_KIB = 2.0
TARGET_DELIVERIES_PER_CPU_S = 300_000
TARGET_P99_MS = 50.0
BUILD = os.path.realpath(os.environ.get("CHAT_BUILD_DIR", os.path.join(restbench.REPO, "build")))
WS_LOAD = os.path.join(BUILD, "ws_load")


# ---------------------------------------------------------------------------------------------------
# ws_load processes (tests/bench/ws_load.cpp): commands on stdin, a JSON line back for each


class WsLoad:
    """One ws_load process: its sockets use the tokens of `tokens` in turn, from the source addresses `sources`."""

    def __init__(self, port: int, tokens: list[str], sources: list[str]):
        if not os.access(WS_LOAD, os.X_OK):
            raise SystemExit(f"{WS_LOAD} is missing: make bench builds it (cmake --build build --target ws_load)")
        self.tokens = tempfile.NamedTemporaryFile("w", prefix="ws-load-tokens-", delete=False)
        self.tokens.write("\n".join(tokens) + "\n")
        self.tokens.close()
        self.sources = sources
        self.p = subprocess.Popen([WS_LOAD, "--port", str(port), "--tokens", self.tokens.name,
                                   "--sources", ",".join(sources)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def send(self, line: str):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def read(self, timeout: float = 120) -> dict:
        out: list[str] = []
        t = threading.Thread(target=lambda: out.append(self.p.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not out or not out[0]:
            raise RuntimeError(f"ws_load did not answer in {timeout} s (exit status {self.p.poll()})")
        return json.loads(out[0])

    def ask(self, line: str, timeout: float = 120) -> dict:
        self.send(line)
        return self.read(timeout)

    def stop(self):
        try:
            self.send("quit")
            self.p.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()
        os.unlink(self.tokens.name)


def open_all(gens: list[WsLoad], counts: list[int], concurrency: int, max_failures: int) -> dict:
    """Opens counts[i] sockets on gens[i], all at once; the sum of their answers."""
    for g, n in zip(gens, counts):
        g.send(f"open {n} {concurrency} {max_failures}")
    res = [g.read(180) for g in gens]
    errors = [r["error"] for r in res if r["error"]]
    return dict(opened=sum(r["opened"] for r in res), failed=sum(r["failed"] for r in res),
                error=errors[0] if errors else "", seconds=max(r["seconds"] for r in res))


def daemon_pid(run_dir: str, name: str = "chat-realtime-1") -> int:
    return int(subprocess.run(["supervisorctl", "-c", f"{run_dir}/supervisord.conf", "pid", name],
                              capture_output=True, text=True, check=True).stdout.strip())


def cpu_ticks(pid: int) -> int:
    st = restbench._proc_stat(pid)
    if st is None:
        raise RuntimeError(f"chat-realtime (pid {pid}) is gone")
    return st[1]


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
    pid = daemon_pid(run_dir)
    tokens = []
    for _ in range(IDLE_USERS):
        _, tok = api.register("idle")
        api.leave_all(tok)  # out of #general: no presence events between them, the sockets stay idle
        tokens.append(tok)
    time.sleep(1)
    rss0, fds0 = vm_rss_kib(pid), fd_count(pid)
    procs = max(1, math.ceil(IDLE_TARGET / IDLE_PER_PROC))
    gens = [WsLoad(port, tokens, [f"127.0.0.{11 + 4 * i + k}" for k in range(4)]) for i in range(procs)]
    try:
        share = [IDLE_TARGET // procs + (1 if i < IDLE_TARGET % procs else 0) for i in range(procs)]
        r = open_all(gens, share, 128, 20)
        time.sleep(1.5)
        rss1, fds1 = vm_rss_kib(pid), fd_count(pid)
        daemon_open = metric(port, "chat_realtime_open_sockets")
        for g in gens:
            g.ask("close")
    finally:
        for g in gens:
            g.stop()
    return dict(target=IDLE_TARGET, rss0=rss0, rss1=rss1, fds0=fds0, fds1=fds1, daemon_open=daemon_open,
                procs=procs, ips=[ip for g in gens for ip in g.sources], **r)


# ---------------------------------------------------------------------------------------------------
# (2, 3) fan-out


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


def measure(gen: WsLoad, pid: int, phase: str, expected: int, sender) -> dict:
    gen.ask("reset")
    c0, g0 = cpu_ticks(pid), gen.ask("count")["cpu_s"]
    first_send = time.monotonic()
    sent, send_seconds, durations = sender()
    # drain: until every delivery arrived, or nothing new came for 3 s (10 s at most)
    deadline = time.monotonic() + 10
    last, still = -1, time.monotonic()
    while time.monotonic() < deadline:
        got = gen.ask("count")["marked"].get(phase, 0)
        if got >= expected:
            break
        if got != last:
            last, still = got, time.monotonic()
        elif time.monotonic() - still > 3:
            break
        time.sleep(0.05)
    st = gen.ask(f"stats {phase}")
    c1, g1 = cpu_ticks(pid), gen.ask("count")["cpu_s"]
    span = max(1e-9, (st["last_rx"] or first_send) - first_send)
    cpu = (c1 - c0) / restbench.CLK_TCK
    durations.sort()
    return dict(load=os.getloadavg()[0], sent=sent, rate=sent / send_seconds, expected=expected, delivered=st["n"], per_s=st["n"] / span,
                cpu=cpu, per_cpu=st["n"] / cpu if cpu > 0 else float("nan"), gen_cpu=(g1 - g0) / span * 100,
                p50=st["p50"], p99=st["p99"], max=st["max"], a_p50=st["arrival_p50"], a_p99=st["arrival_p99"],
                call_p99=(durations[min(len(durations) - 1, int(0.99 * len(durations)))] * 1000 if durations else 0))


def fanout(api: Api, env: dict, run_dir: str, nginx_port: int, port: int) -> list[dict]:
    configs = []
    for spec in filter(None, FANOUT.split(",")):
        n, m, r_rest, r_raw = spec.split(":")
        configs.append((int(n), int(m), float(r_rest), float(r_raw)))
    pid = daemon_pid(run_dir)
    max_members = max(m for _, m, _, _ in configs)
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
    for n, m, rate_rest, rate_raw in configs:
        # socket k authenticates as member k % m: each member holds n/m sockets
        gen = WsLoad(port, members[:m], [f"127.0.0.{21 + k}" for k in range(4)])
        try:
            r = open_all([gen], [n], 128, 1)
            if r["opened"] != n:
                raise RuntimeError(f"fan-out {n}: only {r['opened']} sockets opened: {r['error']}")
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
            total = max(1, int(rate_rest * FANOUT_SECONDS))
            row_rest = measure(gen, pid, "rest", total * n,
                               lambda: paced(rate_rest, FANOUT_SECONDS, SEND_THREADS, rest_send))
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

            total = max(1, int(rate_raw * FANOUT_SECONDS))
            row_raw = measure(gen, pid, "raw", total * n, lambda: paced(rate_raw, FANOUT_SECONDS, 1, xadd))
            rows.append(dict(n=n, m=m, rest=row_rest, raw=row_raw))
            gen.ask("close")
        finally:
            gen.stop()
        wait_sockets_gone([port])
    return rows


# ---------------------------------------------------------------------------------------------------


def main():
    os.environ.setdefault("REALTIME_PROCS", "2")
    # auth is not what this measures: cheap password hashing makes the few hundred registrations quick
    os.environ.setdefault("ARGON2_TIME_COST", "1")
    os.environ.setdefault("ARGON2_MEMORY_KIB", "8192")
    if not os.access(WS_LOAD, os.X_OK):
        sys.exit(f"{WS_LOAD} is missing: make bench builds it (cmake --build build --target ws_load)")
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
        fan = fanout(api, stack_env, run_dir, nginx_port, rt_ports[0]) if FANOUT else []
    finally:
        restbench.stop_stack(base, env)
    total = time.monotonic() - started

    print(f"\nchat-realtime benchmark: one daemon (chat-realtime-1 of REALTIME_PROCS={len(rt_ports)}), clients "
          f"tests/bench/ws_load straight to its port, {os.cpu_count()} cores, loopback only, {total:.0f} s in all\n")
    if idle:
        print_idle(idle)
    if fan:
        print_fanout(fan)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_idle(d: dict):
    grown = d["rss1"] - d["rss0"]
    per = grown / d["opened"] if d["opened"] else float("nan")
    refused = f"yes ({d['failed']}: {d['error'][:60]})" if d["failed"] else f"no (stopped at the target {d['target']})"
    print(f"1. idle authenticated sockets held by one daemon ({d['procs']} ws_load process(es) from "
          f"{d['ips'][0]}-{d['ips'][-1].rsplit('.', 1)[1]})\n")
    print(f"{'sockets open':>12} {'daemon says':>11} {'daemon fds':>10} {'open time s':>11} {'opens/s':>8} "
          f"{'RSS before MiB':>14} {'RSS after MiB':>13} {'RSS/socket KiB':>14} {'target':>7}  refused")
    says = "n/a" if d["daemon_open"] is None else str(d["daemon_open"])  # no descriptor left for /metrics
    print(f"{d['opened']:>12} {says:>11} {d['fds1']:>10} {d['seconds']:>11.1f} "
          f"{d['opened'] / max(1e-9, d['seconds']):>8.0f} {d['rss0'] / 1024:>14.1f} {d['rss1'] / 1024:>13.1f} "
          f"{per:>14.2f} {'≤ %.0f' % TARGET_RSS_KIB:>7} {verdict(per <= TARGET_RSS_KIB):<6}  {refused}")


def print_fanout(fan: list[dict]):
    print(f"\n2, 3. fan-out of new_message to every socket of the members of one channel ({FANOUT_SECONDS:.0f} s of "
          f"sends per row)")
    print("   raw:  XADD chat:events of a captured new_message entry (the daemon's own input; figures 2 and 3)")
    print("   REST: POST /api/v1/messages/ through nginx (the whole send path in front of the daemon; for comparison)\n")
    print(f"{'sockets':>7} {'members':>7} {'path':<5} {'msg/s':>6} {'sent':>5} {'expected':>9} {'delivered':>9} "
          f"{'deliv/s':>8} {'daemon CPU s':>12} {'deliv/CPU s':>11} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'arr p50':>7} {'arr p99':>7} "
          f"{'send p99':>8} {'ws_load CPU':>11} {'load':>5}")
    for r in fan:
        for label in ("raw", "rest"):
            x = r[label]
            print(f"{r['n']:>7} {r['m']:>7} {label:<5} {x['rate']:>6.1f} {x['sent']:>5} {x['expected']:>9} "
                  f"{x['delivered']:>9} {x['per_s']:>8.0f} {x['cpu']:>12.2f} {x['per_cpu']:>11.0f} {x['p50']:>7.2f} "
                  f"{x['p99']:>7.2f} {x['max']:>7.1f} {x['a_p50']:>7.2f} {x['a_p99']:>7.2f} {x['call_p99']:>8.2f} {x['gen_cpu']:>10.0f}% {x['load']:>5.1f}")
    print("\ntargets (raw rows):")
    for r in fan:
        x = r["raw"]
        print(f"  deliveries per daemon CPU second at {r['n']:>6} sockets: {x['per_cpu']:>9.0f}  (target ≥ "
              f"{TARGET_DELIVERIES_PER_CPU_S})  {verdict(x['per_cpu'] >= TARGET_DELIVERIES_PER_CPU_S)}")
    big = max(fan, key=lambda r: r["n"]) if fan else None
    if big:
        x = big["raw"]
        complete = x["delivered"] == x["expected"]
        print(f"  p99 send → parsed by ws_load at {big['n']} sockets:      {x['p99']:>7.2f} ms  (target ≤ "
              f"{TARGET_P99_MS:.0f} ms)  {verdict(x['p99'] <= TARGET_P99_MS and complete)}")
        print(f"  p99 send → in the socket's queue at {big['n']} sockets:  {x['a_p99']:>7.2f} ms  (target ≤ "
              f"{TARGET_P99_MS:.0f} ms)  {verdict(x['a_p99'] <= TARGET_P99_MS and complete)}")
    print("\np50/p99/max: send → frame parsed by ws_load; arr p50/p99: send → data in the client socket's receive "
          "queue (SO_TIMESTAMPNS), the daemon's part without ws_load's own scheduling delay.")
    print("send p99: ms one POST (REST) or one XADD (raw) took. load: the machine's 1-minute load average after the "
          "row; above the core count the daemon is time-sliced with other work, which stretches its fan-out (and p99) "
          "far more than its CPU per delivery. Run it twice.")


if __name__ == "__main__":
    main()
