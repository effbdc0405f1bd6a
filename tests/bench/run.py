#!/usr/bin/python3
"""make bench: REST throughput through nginx next to the ceiling of nginx serving the same bytes itself.

Starts its own stack (deploy/stack.sh, free port, temporary run dir), prepares data, runs wrk against
each endpoint and against a static file of the same size in the same run, and prints a table of
requests/s, p50 and p99, the ratio to the ceiling, and the PostgreSQL and Redis round trips of one
request (from /metrics), then the CPU each kind of process of the stack spent per 2xx answer (from
/proc, around the same wrk run: nginx, each handler group, PostgreSQL's backends and its background
processes, Redis, the realtime daemons, the worker; and wrk itself, the client). Numbers on a shared 2-core
machine move by ±30 %: compare ratios, not absolutes, and run it twice.

    BENCH_ONLY=send   only the cases whose label contains "send"
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import httpx

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DURATION = os.environ.get("BENCH_SECONDS", "10")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "32")
THREADS = os.environ.get("BENCH_THREADS", "2")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stack():
    base = tempfile.mkdtemp(prefix="chat-bench-", dir="/tmp")
    os.chmod(base, 0o755)
    env = dict(os.environ, CHAT_RUN_DIR=f"{base}/run", CHAT_HTTP_PORT=str(free_port()),
               RATE_LIMIT_AUTH="100000", RATE_LIMIT_AUTH_BURST="100000",
               RATE_LIMIT_SEND="1000000", RATE_LIMIT_SEND_BURST="1000000", LOG_LEVEL="warn")
    out = subprocess.run([f"{REPO}/deploy/stack.sh", "up"], env=env, capture_output=True, text=True)
    m = re.search(r"chat stack ready: (http://\S+)", out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"stack did not start:\n{out.stdout}\n{out.stderr}")
    durable = env.get("CHAT_PG_DURABLE", "1") != "0"
    print(f"PostgreSQL {'durable (fsync and synchronous commit on, as make run)' if durable else 'NOT durable (CHAT_PG_DURABLE=0: fsync off)'}")
    return base, env, m.group(1)


def stop_stack(base, env):
    subprocess.run([f"{REPO}/deploy/stack.sh", "down"], env=env, capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def wrk(url, script=None):
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency"]
    if script:
        cmd += ["-s", script]
    before = os.times()
    out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
    after = os.times()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    client = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "errors": errors, "ok": total - errors,
            "client_ms": client * 1000 / (total - errors) if total > errors else 0}


CLK_TCK = os.sysconf("SC_CLK_TCK")
# the columns of the CPU table, in this order; "handler" rows are per group (chat-NAME)
CPU_KINDS = ["nginx", "handler", "PG backends", "PG other", "Redis", "realtime", "worker"]


def _proc_stat(pid):
    """(ppid, utime + stime in clock ticks) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) ": state ppid ... utime(12) stime(13)
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _kind(pid):
    """What a process of the stack is, from its command line; None for supervisord and shells."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    # nginx, PostgreSQL and Redis rewrite argv[0] into a title ("nginx: worker process", "postgres: chat_app chat
    # [local] idle", "/usr/bin/redis-server unixsocket:..."): its first word names the program
    title = argv[0].decode(errors="replace") if argv and argv[0] else ""
    exe = os.path.basename(title.split(" ", 1)[0])
    if exe in ("nginx", "nginx:"):
        return "nginx"
    if exe == "postgres:":               # a backend is "postgres: USER DB ..."; the rest are its own workers
        return "PG backends" if title.startswith("postgres: chat_") else "PG other"   # chat_app, chat_owner
    if exe == "postgres":                # the postmaster
        return "PG other"
    if exe == "redis-server":
        return "Redis"
    if exe == "chat-realtime":
        return "realtime"
    if exe == "chat-worker":
        return "worker"
    if exe.startswith("chat-"):
        return exe                        # a handler group: chat-auth, chat-messages, ...
    return None


def stack_cpu(run_dir):
    """Clock ticks spent so far by each process of the stack (every descendant of its supervisord), by pid."""
    with open(f"{run_dir}/pids/supervisord.pid") as f:
        root = int(f.read().split()[0])
    parent, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st:
                parent[int(entry)], ticks[int(entry)] = st
    out = {}
    for pid in ticks:
        p = pid
        while p in parent and p != root and p > 1:
            p = parent[p]
        if p == root and pid != root:
            kind = _kind(pid)
            if kind:
                out[pid] = (kind, ticks[pid])
    return out


def cpu_per_answer(before, after, answers):
    """CPU ms per answer of each kind of process, between two stack_cpu() snapshots (a process that started
    in between counts from zero; one that ended is lost, which the stack's long-lived processes never do)."""
    per = {}
    for pid, (kind, t) in after.items():
        t0 = before.get(pid, (kind, 0))[1]
        per[kind] = per.get(kind, 0) + (t - t0)
    return {k: v / CLK_TCK * 1000 / answers for k, v in per.items()} if answers else {}


def route_trips(c, route):
    """(requests, PostgreSQL round trips, Redis round trips) of a route label "METHOD pattern", once settled."""
    method, pattern = route.split(" ", 1)
    pat = re.compile(r'^chat_http_route_(requests|db_round_trips|redis_round_trips)_total\{program="[^"]+",'
                     r'method="([A-Z]+)",route="([^"]+)"\} (\d+)$', re.M)

    def read():
        got = {"requests": 0, "db_round_trips": 0, "redis_round_trips": 0}
        r = c.get("/metrics")
        if r.status_code != 200:
            return None
        for kind, m, rt, v in pat.findall(r.text):
            if m == method and rt == pattern:
                got[kind] += int(v)
        return got["requests"], got["db_round_trips"], got["redis_round_trips"]

    last = read()
    for _ in range(10):
        time.sleep(1.2)  # each handler process adds its counters once a second
        now = read()
        if now == last:
            break
        last = now
    return last


def spread_lua(path, headers, channels, content):
    """POSTs rotating over `channels`."""
    lines = ["local ids = {" + ",".join(f'"{c}"' for c in channels) + "}", "local i = 0", "wrk.method = \"POST\""]
    for k, v in headers.items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    lines += ["request = function()", "  i = i + 1",
              f'  local body = \'{{"channel_id":"\' .. ids[(i % #ids) + 1] .. \'","content":"{content}"}}\'',
              "  return wrk.format(nil, nil, nil, body)", "end"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def lua(path, method, headers, body=None):
    lines = [f'wrk.method = "{method}"']
    for k, v in headers.items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def main():
    base, env, url = start_stack()
    try:
        run_dir = env["CHAT_RUN_DIR"]
        bench_dir = f"{run_dir}/bench"
        os.makedirs(bench_dir, exist_ok=True)
        c = httpx.Client(base_url=url, timeout=30)
        name = "bench" + uuid.uuid4().hex[:8]
        r = c.post("/api/v1/auth/register", json={"email": f"{name}@example.com", "username": name,
                                                  "password": "bench-password"})
        r.raise_for_status()
        token = r.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        ch = c.post("/api/v1/channels/", headers=auth, json={"name": name}).json()["id"]
        for i in range(60):
            c.post("/api/v1/messages/", headers=auth, json={"channel_id": ch, "content": f"message {i} for the bench"})
        spread = [c.post("/api/v1/channels/", headers=auth, json={"name": f"{name}-{i}"}).json()["id"]
                  for i in range(100)]
        send_body = json.dumps({"channel_id": ch, "content": "a message sent by wrk"})
        cases = [
            ("GET /api/v1/auth/me", "/api/v1/auth/me", "GET", None, "GET /api/v1/auth/me"),
            ("GET history page of 20", f"/api/v1/messages/channel/{ch}?limit=20", "GET", None,
             "GET /api/v1/messages/channel/:channel_id"),
            ("GET history page of 50", f"/api/v1/messages/channel/{ch}?limit=50", "GET", None,
             "GET /api/v1/messages/channel/:channel_id"),
            ("POST send, one conversation", "/api/v1/messages/", "POST", send_body, "POST /api/v1/messages"),
            ("POST send, spread over 100", "/api/v1/messages/", "POST", "spread", "POST /api/v1/messages"),
        ]
        only = os.environ.get("BENCH_ONLY")
        if only:
            cases = [case for case in cases if only in case[0]]
        rows = []
        for label, path, method, body, route in cases:
            headers = dict(auth)
            if body is not None:
                headers["Content-Type"] = "application/json"
            sample_body = send_body if body == "spread" else body
            sample = c.request(method, path, headers=headers, content=sample_body)
            size = len(sample.content)
            static = f"{bench_dir}/{len(rows)}.json"
            with open(static, "wb") as f:
                f.write(sample.content)
            ceiling = wrk(f"{url}/_bench/{len(rows)}.json")
            before = route_trips(c, route)
            if body == "spread":
                script = spread_lua(f"{bench_dir}/{len(rows)}.lua", headers, spread, "a message sent by wrk")
            else:
                script = lua(f"{bench_dir}/{len(rows)}.lua", method, headers, body)
            cpu0 = stack_cpu(run_dir)
            api = wrk(url + path, script)
            cpu = cpu_per_answer(cpu0, stack_cpu(run_dir), api["ok"])
            after = route_trips(c, route)
            trips = None
            if before and after and after[0] > before[0]:
                n = after[0] - before[0]
                trips = ((after[1] - before[1]) / n, (after[2] - before[2]) / n)
            rows.append((label, size, api, ceiling, trips, cpu))
        print(f"\nwrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s through nginx on 127.0.0.1 "
              f"(ceiling = nginx serving a static file of the same size, same run)\n")
        print(f"{'endpoint':<32} {'bytes':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
              f"{'ceiling req/s':>14} {'ceil p99':>9} {'ratio':>6} {'PG/req':>7} {'Redis/req':>9}")
        for label, size, api, ceil, trips, _ in rows:
            pg, rd = (f"{trips[0]:.2f}", f"{trips[1]:.2f}") if trips else ("-", "-")
            print(f"{label:<32} {size:>6} {api['rps']:>9.0f} {api['p50']:>8.2f} {api['p99']:>8.2f} "
                  f"{api['errors']:>7} {ceil['rps']:>14.0f} {ceil['p99']:>9.2f} {api['rps'] / ceil['rps']:>6.2f} "
                  f"{pg:>7} {rd:>9}")
        print_cpu(rows)
    finally:
        stop_stack(base, env)


def print_cpu(rows):
    """The CPU table: ms of CPU per 2xx answer by kind of process (handler groups summed, the busiest named)."""
    print("\nCPU ms per 2xx answer, by process (from /proc around each wrk run; 'handler' sums the groups, the "
          "last column names the busiest; 'stack' is the sum; wrk is the client)\n")
    print(f"{'endpoint':<32} " + " ".join(f"{k:>11}" for k in CPU_KINDS) + f" {'stack':>7} {'wrk':>6}  busiest handler")
    for label, _, api, _, _, cpu in rows:
        groups = {k: v for k, v in cpu.items() if k.startswith("chat-")}
        merged = {k: v for k, v in cpu.items() if not k.startswith("chat-")}
        merged["handler"] = sum(groups.values())
        busiest = max(groups, key=groups.get) if groups else "-"
        cells = " ".join(f"{merged.get(k, 0):>11.3f}" for k in CPU_KINDS)
        print(f"{label:<32} {cells} {sum(merged.values()):>7.3f} {api['client_ms']:>6.3f}  {busiest}")


if __name__ == "__main__":
    main()
