#!/usr/bin/python3
"""make bench: every hot REST route through nginx, next to two ceilings of the same run, at two data scales, with
PostgreSQL durable and not.

For each durability mode (BENCH_DURABLE: "both", the default, durable first; "1"; "0") it starts its own stack
(deploy/stack.sh, free port, temporary run dir) and a bench-only FastCGI program (tests/bench/fcgi_ceiling.cpp),
prepares the small data set (a channel of ~60 messages, one of 100 000 written by SQL, the caller in 50
channels), runs wrk against each route BENCH_RUNS times (default 3), then - in the modes of BENCH_BIG, default
"1": the durable one - seeds the large data set (tests/bench/seed.sql: 1 000 000 more messages in 1 000
conversations, 10 000 users, memberships, read markers, mentions) and runs the routes whose cost must not grow
with the data again.

The tables, per mode:
  throughput    route, bytes of the answer, req/s, p50 and p99 ms (medians over the runs), non-2xx answers,
                the static ceiling (nginx serving a file of the same bytes: req/s, p99), the FastCGI ceiling
                (a FastCGI program answering the same bytes through nginx's handler settings, without PostgreSQL
                or Redis: req/s, p99), req/s as a share of each ceiling, and the PostgreSQL and Redis round trips
                of one request (from /metrics)
  CPU           ms of CPU per 2xx answer by kind of process (from /proc around each wrk run: nginx, the handler
                groups summed, PostgreSQL's backends, its other processes, Redis, realtime, worker), their sum
                ("stack"), wrk's own (the client), the busiest handler group; each the median of the runs
  targets       each target next to its figure: met / NOT MET
  data scale    bytes, p99 and stack CPU of each data-sensitive route with the small data and the large, the
                ratios, flagged when p99 more than doubles (and said when the answer itself grew)
Numbers on a shared 2-core machine move by +-30 %: compare ratios, not absolutes, and run it twice.

    BENCH_SECONDS=4        seconds of each wrk run (login: BENCH_LOGIN_SECONDS, default 3, with 4 connections:
                           an Argon2 hash per request)
    BENCH_RUNS=3           runs per route (1 for a quick look); the ceilings run once
    BENCH_ONLY=history     only the routes whose label contains it
    BENCH_DURABLE=both|1|0 (default: CHAT_PG_DURABLE when set, else both)
    BENCH_BIG=1|0|both|none the modes (CHAT_PG_DURABLE values) that also seed and measure the large data set
"""
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import httpx

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.realpath(os.environ.get("CHAT_BUILD_DIR", f"{REPO}/build"))
DURATION = os.environ.get("BENCH_SECONDS", "4")
LOGIN_DURATION = os.environ.get("BENCH_LOGIN_SECONDS", "3")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "32")
THREADS = os.environ.get("BENCH_THREADS", "2")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PASSWORD = "bench-password"
LARGE = 100_000                                   # messages of the large channel (small data set)
BIG = {"n_users": 10_000, "n_convs": 1_000, "per_conv": 1_000}   # the large data set: 1 000 000 messages

# Targets: (label of the route, what is measured, limit). "cpu": stack ms per 2xx answer, at most; "rps": at least.
TARGETS = [
    ("GET history of 20, small channel", "cpu", 0.30),
    ("POST send, one conversation", "cpu", 0.50),
    ("POST send, spread over 100", "cpu", 0.50),
    ("GET /users/me", "cpu", 0.12),
    ("GET /auth/me", "cpu", 0.12),
    ("POST send, one conversation", "rps", 1840),
    ("POST send, spread over 100", "rps", 2500),
]
FLAT_LIMIT = 2.0                                  # p99 with the large data set / with the small, at most


# ---- the stack and the FastCGI ceiling ----------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stack(durable):
    base = tempfile.mkdtemp(prefix="chat-bench-", dir="/tmp")
    os.chmod(base, 0o755)
    env = dict(os.environ, CHAT_RUN_DIR=f"{base}/run", CHAT_HTTP_PORT=str(free_port()),
               CHAT_PG_DURABLE="1" if durable else "0",
               RATE_LIMIT_AUTH="100000", RATE_LIMIT_AUTH_BURST="100000",
               RATE_LIMIT_SEND="1000000", RATE_LIMIT_SEND_BURST="1000000", LOG_LEVEL="warn")
    out = subprocess.run([f"{REPO}/deploy/stack.sh", "up"], env=env, capture_output=True, text=True)
    m = re.search(r"chat stack ready: (http://\S+)", out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"stack did not start:\n{out.stdout}\n{out.stderr}")
    return base, env, m.group(1)


def stop_stack(base, env):
    subprocess.run([f"{REPO}/deploy/stack.sh", "down"], env=env, capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def start_fcgi_ceiling(bench_dir):
    """The bench-only FastCGI program on bench_dir/fcgi.sock, where the dev stack's /_bench_fcgi/ points."""
    exe = f"{BUILD}/chat-bench-fcgi"
    if not os.access(exe, os.X_OK):
        sys.exit(f"missing {exe} (make build)")
    sock = f"{bench_dir}/fcgi.sock"
    proc = subprocess.Popen([exe, sock, bench_dir])
    for _ in range(100):
        if os.path.exists(sock):
            os.chmod(sock, 0o666)        # nginx's workers may run as another user
            return proc
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"{exe} did not listen on {sock}")


def psql(env, script, **variables):
    """Runs an SQL file as the owner of the schema (chat_owner) over the stack's PostgreSQL socket."""
    cmd = ["psql", "-qAtX", "-h", f"{env['CHAT_RUN_DIR']}/pgsock", "-p", "5432", "-U", "chat_owner", "-d", "chat",
           "-v", "ON_ERROR_STOP=1", "-f", script]
    for k, v in variables.items():
        cmd += ["-v", f"{k}={v}"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql {os.path.basename(script)} failed:\n{out.stderr}")


def sql_value(env, query):
    out = subprocess.run(["psql", "-qAtX", "-h", f"{env['CHAT_RUN_DIR']}/pgsock", "-p", "5432", "-U", "chat_owner",
                          "-d", "chat", "-c", query], capture_output=True, text=True, check=True)
    return out.stdout.strip()


# ---- measuring ----------------------------------------------------------------------------------------------

def wrk(url, script=None, duration=DURATION, connections=CONNECTIONS):
    cmd = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}s", "--latency"]
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
    in between counts from zero; one that ended is lost, which the stack's long-lived processes never do).
    The handler groups are summed into "handler"; "busiest" names the group that spent the most."""
    per = {}
    for pid, (kind, t) in after.items():
        t0 = before.get(pid, (kind, 0))[1]
        per[kind] = per.get(kind, 0) + (t - t0)
    if not answers:
        return {}
    per = {k: v / CLK_TCK * 1000 / answers for k, v in per.items()}
    groups = {k: v for k, v in per.items() if k.startswith("chat-")}
    out = {k: v for k, v in per.items() if not k.startswith("chat-")}
    out["handler"] = sum(groups.values())
    out["stack"] = sum(out.values())
    out["busiest"] = max(groups, key=groups.get) if groups else "-"
    return out


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


# ---- the wrk scripts ----------------------------------------------------------------------------------------

def lua_headers(headers):
    return [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]


def lua(path, method, headers, body=None):
    lines = [f'wrk.method = "{method}"'] + lua_headers(headers)
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def spread_lua(path, headers, channels, content):
    """POSTs rotating over `channels`."""
    lines = ["local ids = {" + ",".join(f'"{c}"' for c in channels) + "}", "local i = 0", 'wrk.method = "POST"']
    lines += lua_headers(headers)
    lines += ["request = function()", "  i = i + 1",
              f'  local body = \'{{"channel_id":"\' .. ids[(i % #ids) + 1] .. \'","content":"{content}"}}\'',
              "  return wrk.format(nil, nil, nil, body)", "end"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---- the data -----------------------------------------------------------------------------------------------

def register(c, name):
    r = c.post("/api/v1/auth/register", json={"email": f"{name}@example.com", "username": name, "password": PASSWORD})
    r.raise_for_status()
    return r.json()["user"]["id"], r.json()["access_token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def middle_cursor(c, headers, conv, seq):
    """A cursor of the headless history that starts just below `seq`. The cursor is opaque to clients; the bench
    builds one from the middle of a large channel rather than paging there, after checking that a cursor of a
    real answer has the same form (base64url of "s<seq of the page's last message>")."""
    page = c.get(f"/api/v1/conversations/{conv}/messages?limit=20", headers=headers).json()
    raw = base64.urlsafe_b64decode(page["next_cursor"] + "=" * (-len(page["next_cursor"]) % 4)).decode()
    if raw != f"s{page['items'][-1]['seq']}":
        sys.exit(f"the headless cursor is no longer s<seq> ({raw!r}): update middle_cursor()")
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def prepare_small(c, env):
    """The small data set; returns what the routes need: tokens, ids, the other user's channels."""
    tag = uuid.uuid4().hex[:8]
    me, token = register(c, f"bench{tag}")
    other, other_token = register(c, f"benchb{tag}")
    auth = bearer(token)

    def channel(name, headers=auth):
        r = c.post("/api/v1/channels/", headers=headers, json={"name": name})
        r.raise_for_status()
        return r.json()["id"]

    small, large, send = channel(f"{tag}-small"), channel(f"{tag}-large"), channel(f"{tag}-send")
    for i in range(60):
        c.post("/api/v1/messages/", headers=auth, json={"channel_id": small, "content": f"message {i} for the bench"})
    joined = len(c.get("/api/v1/channels/my", headers=auth).json())   # new users join the default channels
    for i in range(50 - joined):         # the caller in 50 channels
        channel(f"{tag}-more-{i}")
    spread = [channel(f"{tag}-spread-{i}", bearer(other_token)) for i in range(100)]
    psql(env, f"{REPO}/tests/bench/seed.sql", phase="small", me=me, other=other, large=large, n_large=LARGE, hash="-")
    return {"me": me, "token": token, "other_token": other_token, "small": small, "large": large, "send": send,
            "spread": spread, "name": f"bench{tag}"}


def prepare_big(env, d):
    """The large data set, on top of the small one (seed.sql's phase 'big')."""
    started = time.monotonic()
    hashed = sql_value(env, f"SELECT hashed_password FROM users WHERE id = '{d['me']}'")
    psql(env, f"{REPO}/tests/bench/seed.sql", phase="big", me=d["me"], other=d["me"], large=d["large"],
         n_large=0, hash=hashed, **BIG)
    total = sql_value(env, "SELECT count(*) FROM messages")
    print(f"large data set: {total} messages in all, seeded in {time.monotonic() - started:.0f} s", flush=True)


# ---- the routes ---------------------------------------------------------------------------------------------

def route_label(method, pattern):
    """The route label of /metrics: "GET /api/v1/messages/channel/:channel_id"."""
    return f"{method} " + re.sub(r"\{(\w+)\}", r":\1", pattern)


def cases(c, d):
    """(label, method, path, body, metrics route, data-sensitive, wrk settings) for every route. body "spread"
    rotates sends over the other user's 100 channels; a None body is none."""
    send_body = json.dumps({"channel_id": d["send"], "content": "a message sent by wrk"})
    hist = route_label("GET", "/api/v1/messages/channel/{channel_id}")
    page = route_label("GET", "/api/v1/conversations/{id}/messages")
    cursor = middle_cursor(c, bearer(d["token"]), d["large"], LARGE // 2)
    login = f"username={d['name']}&password={PASSWORD}&grant_type=password"
    slow = {"duration": LOGIN_DURATION, "connections": "4"}
    return [
        ("GET /auth/me", "GET", "/api/v1/auth/me", None, "GET /api/v1/auth/me", False, {}),
        ("GET /users/me", "GET", "/api/v1/users/me", None, "GET /api/v1/users/me", False, {}),
        ("GET history of 20, small channel", "GET", f"/api/v1/messages/channel/{d['small']}?limit=20", None, hist,
         True, {}),
        ("GET history of 50, small channel", "GET", f"/api/v1/messages/channel/{d['small']}?limit=50", None, hist,
         True, {}),
        ("GET history of 20, large channel", "GET", f"/api/v1/messages/channel/{d['large']}?limit=20", None, hist,
         True, {}),
        ("GET history of 50, large channel", "GET", f"/api/v1/messages/channel/{d['large']}?limit=50", None, hist,
         True, {}),
        ("GET history, empty page (large)", "GET",
         f"/api/v1/messages/channel/{d['large']}?limit=50&after_seq={LARGE}", None, hist, True, {}),
        ("GET cursor page, middle (large)", "GET", f"/api/v1/conversations/{d['large']}/messages?limit=20&cursor={cursor}",
         None, page, True, {}),
        ("GET /channels/my (50 channels)", "GET", "/api/v1/channels/my", None, "GET /api/v1/channels/my", True, {}),
        ("GET /conversations/ (headless)", "GET", "/api/v1/conversations/", None, "GET /api/v1/conversations", True,
         {}),
        ("GET mentions/my", "GET", "/api/v1/messages/mentions/my?limit=50", None,
         "GET /api/v1/messages/mentions/my", True, {}),
        ("GET search (topic7)", "GET", "/api/v1/messages/search?q=topic7&limit=20", None,
         "GET /api/v1/messages/search", True, {}),
        ("POST login (OAuth2 form)", "POST", "/api/v1/auth/login/access-token", login,
         "POST /api/v1/auth/login/access-token", False, slow),
        ("POST send, one conversation", "POST", "/api/v1/messages/", send_body, "POST /api/v1/messages", False, {}),
        ("POST send, spread over 100", "POST", "/api/v1/messages/", "spread", "POST /api/v1/messages", False, {}),
    ]


def measure(c, url, run_dir, bench_dir, index, case, d, ceilings):
    """One route: the ceilings and the round trips once (when asked: the data does not change them), then
    BENCH_RUNS wrk runs; the medians of the runs."""
    label, method, path, body, route, _, settings = case
    headers = {} if "login" in label else bearer(d["token"])
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded" if "login" in label else "application/json"
    send_body = json.dumps({"channel_id": d["spread"][0], "content": "a message sent by wrk"})
    sample_body = send_body if body == "spread" else body
    spread_headers = dict(headers, **bearer(d["other_token"]))
    sample = c.request(method, path, headers=spread_headers if body == "spread" else headers, content=sample_body)
    if sample.status_code >= 300:
        sys.exit(f"{label}: {method} {path} answered {sample.status_code}: {sample.text[:300]}")
    row = {"label": label, "bytes": len(sample.content)}
    if ceilings:
        name = f"{index}.json"
        with open(f"{bench_dir}/{name}", "wb") as f:
            f.write(sample.content)
        ceiling_script = lua(f"{bench_dir}/{index}-ceiling.lua", method, {"Content-Type": "application/json"},
                             sample_body) if body is not None else None
        row["static"] = wrk(f"{url}/_bench/{name}", **settings)          # nginx's static handler takes GETs only
        row["fcgi"] = wrk(f"{url}/_bench_fcgi/{name}", ceiling_script, **settings)
    if body == "spread":
        script = spread_lua(f"{bench_dir}/{index}.lua", spread_headers, d["spread"], "a message sent by wrk")
    else:
        script = lua(f"{bench_dir}/{index}.lua", method, headers, body)
    runs, cpus = [], []
    before = route_trips(c, route) if ceilings else None
    for i in range(RUNS):
        cpu0 = stack_cpu(run_dir)
        runs.append(wrk(url + path, script, **settings))
        cpus.append(cpu_per_answer(cpu0, stack_cpu(run_dir), runs[-1]["ok"]))
        if i == 0 and ceilings:
            after = route_trips(c, route)
            n = after[0] - before[0] if before and after else 0
            row["trips"] = ((after[1] - before[1]) / n, (after[2] - before[2]) / n) if n > 0 else None
    row["api"] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    row["errors"] = sum(r["errors"] for r in runs)
    row["cpu"] = {k: statistics.median(cp.get(k, 0) for cp in cpus) for k in CPU_KINDS + ["stack"]}
    row["cpu"]["busiest"] = statistics.mode(cp.get("busiest", "-") for cp in cpus)
    print(f"  {label}: {row['api']['rps']:.0f} req/s, p99 {row['api']['p99']:.2f} ms, "
          f"{row['cpu']['stack']:.3f} ms CPU", flush=True)
    return row


# ---- the tables ---------------------------------------------------------------------------------------------

def table(title, header, rows):
    """A left-aligned first column, right-aligned others, each as wide as its widest cell."""
    cells = [header] + [[str(x) for x in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}\n")
    for r in cells:
        print("  ".join(r[0].ljust(widths[0]) if i == 0 else r[i].rjust(widths[i]) for i in range(len(r))))


def print_throughput(rows):
    out = []
    for r in rows:
        api, st, fc, t = r["api"], r.get("static"), r.get("fcgi"), r.get("trips")
        out.append([r["label"], r["bytes"], f"{api['rps']:.0f}", f"{api['p50']:.2f}", f"{api['p99']:.2f}", r["errors"],
                    f"{st['rps']:.0f}" if st else "-", f"{st['p99']:.2f}" if st else "-",
                    f"{fc['rps']:.0f}" if fc else "-", f"{fc['p99']:.2f}" if fc else "-",
                    f"{api['rps'] / st['rps']:.2f}" if st else "-", f"{api['rps'] / fc['rps']:.2f}" if fc else "-",
                    f"{t[0]:.2f}" if t else "-", f"{t[1]:.2f}" if t else "-"])
    table(f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s (login: -c4 -d{LOGIN_DURATION}s) through nginx on 127.0.0.1, "
          f"median of {RUNS} run(s); static = nginx serving the same bytes, fcgi = a FastCGI program answering them",
          ["route", "bytes", "req/s", "p50 ms", "p99 ms", "non-2xx", "static/s", "st p99", "fcgi/s", "fc p99",
           "/static", "/fcgi", "PG/req", "Redis/req"], out)


def print_cpu(rows):
    table("CPU ms per 2xx answer, by process (median of the runs; 'handler' sums the groups; 'stack' is the sum; "
          "wrk is the client)",
          ["route"] + CPU_KINDS + ["stack", "wrk", "busiest handler"],
          [[r["label"]] + [f"{r['cpu'][k]:.3f}" for k in CPU_KINDS] +
           [f"{r['cpu']['stack']:.3f}", f"{r['api']['client_ms']:.3f}", r["cpu"]["busiest"]] for r in rows])


def print_targets(rows):
    by = {r["label"]: r for r in rows}
    out = []
    for label, what, limit in TARGETS:
        if label not in by:
            continue
        if what == "cpu":
            v = by[label]["cpu"]["stack"]
            out.append([label, f"CPU ms/answer <= {limit:.2f}", f"{v:.3f}", "met" if v <= limit else "NOT MET"])
        else:
            v = by[label]["api"]["rps"]
            out.append([label, f"req/s >= {limit}", f"{v:.0f}", "met" if v >= limit else "NOT MET"])
    table("targets", ["route", "target", "measured", ""], out)


def print_scale(small, big):
    by = {r["label"]: r for r in small}
    out = []
    for r in big:
        s = by.get(r["label"])
        if not s:
            continue
        ratio = r["api"]["p99"] / s["api"]["p99"]
        grown = r["bytes"] / s["bytes"]       # an answer that got bigger (more members, more matches) costs more
        verdict = "met" if ratio <= FLAT_LIMIT else f"NOT MET (> {FLAT_LIMIT:.0f}x)"
        out.append([r["label"], s["bytes"], r["bytes"], f"{s['api']['p99']:.2f}", f"{r['api']['p99']:.2f}",
                    f"{ratio:.2f}", f"{s['cpu']['stack']:.3f}", f"{r['cpu']['stack']:.3f}",
                    f"{r['cpu']['stack'] / s['cpu']['stack']:.2f}" if s["cpu"]["stack"] else "-",
                    verdict + (f", answer {grown:.1f}x bigger" if grown > 1.5 else "")])
    table(f"data scale: p99 ms and stack CPU ms/answer with the small data and with {BIG['n_convs'] * BIG['per_conv']:,} "
          f"more messages, {BIG['n_users']:,} more users (target: p99 ratio <= {FLAT_LIMIT:.0f}x)",
          ["route", "small bytes", "large bytes", "small p99", "large p99", "ratio", "small CPU", "large CPU",
           "ratio", ""], out)


def print_durability(durable, fast):
    by = {r["label"]: r for r in fast}
    table("durable (fsync, synchronous commit) against CHAT_PG_DURABLE=0, small data set",
          ["route", "req/s", "req/s fsync off", "p99 ms", "p99 fsync off", "CPU ms", "CPU fsync off"],
          [[r["label"], f"{r['api']['rps']:.0f}", f"{by[r['label']]['api']['rps']:.0f}", f"{r['api']['p99']:.2f}",
            f"{by[r['label']]['api']['p99']:.2f}", f"{r['cpu']['stack']:.3f}", f"{by[r['label']]['cpu']['stack']:.3f}"]
           for r in durable if r["label"] in by])


# ---- main ---------------------------------------------------------------------------------------------------

def run_mode(durable, big_setting):
    print(f"\n==== PostgreSQL {'durable (fsync and synchronous commit on, as make run)' if durable else 'NOT durable (CHAT_PG_DURABLE=0: fsync and synchronous commit off)'}",
          flush=True)
    base, env, url = start_stack(durable)
    ceiling = None
    try:
        run_dir = env["CHAT_RUN_DIR"]
        bench_dir = f"{run_dir}/bench"
        os.makedirs(bench_dir, exist_ok=True)
        ceiling = start_fcgi_ceiling(bench_dir)
        c = httpx.Client(base_url=url, timeout=60)
        d = prepare_small(c, env)
        all_cases = cases(c, d)
        only = os.environ.get("BENCH_ONLY")
        if only:
            all_cases = [case for case in all_cases if only in case[0]]
        # the sends last: they add messages (to their own channels, but the tables grow)
        print("small data set:", flush=True)
        small = [measure(c, url, run_dir, bench_dir, i, case, d, True) for i, case in enumerate(all_cases)]
        big = []
        if big_mode(durable, big_setting):
            prepare_big(env, d)
            big = [measure(c, url, run_dir, bench_dir, 100 + i, case, d, False)
                   for i, case in enumerate(all_cases) if case[5]]
        print_throughput(small)
        print_cpu(small)
        print_targets(small)
        if big:
            print_scale(small, big)
            print_cpu([dict(r, label=r["label"] + " [large data]") for r in big])
        return small
    finally:
        if ceiling:
            ceiling.terminate()
            ceiling.wait()
        stop_stack(base, env)


def big_mode(durable, setting):
    return setting == "both" or setting == ("1" if durable else "0")


def main():
    # CHAT_PG_DURABLE alone (the stack's own knob) picks its mode, as before BENCH_DURABLE existed
    default = os.environ.get("CHAT_PG_DURABLE", "both")
    modes = {"both": [True, False], "1": [True], "0": [False]}.get(os.environ.get("BENCH_DURABLE", default))
    if modes is None:
        sys.exit("BENCH_DURABLE must be both, 1 or 0")
    big = os.environ.get("BENCH_BIG", "1")
    started = time.monotonic()
    results = {durable: run_mode(durable, big) for durable in modes}
    if len(results) == 2:
        print_durability(results[True], results[False])
    print(f"\nmake bench (run.py) took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
