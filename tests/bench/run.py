#!/usr/bin/python3
"""make bench: REST throughput through nginx next to the ceiling of nginx serving the same bytes itself.

Starts its own stack (deploy/stack.sh, free port, temporary run dir), prepares data, runs wrk against
each endpoint and against a static file of the same size in the same run, and prints a table of
requests/s, p50 and p99, and the ratio to the ceiling. Numbers on a shared 2-core machine move by
±30 %: compare ratios, not absolutes, and run it twice.
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
    out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "errors": int(non2xx.group(1)) if non2xx else 0}


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
        cases = [
            ("GET /api/v1/auth/me", "/api/v1/auth/me", "GET", None),
            ("GET /api/v1/messages/channel/{id}?limit=50", f"/api/v1/messages/channel/{ch}?limit=50", "GET", None),
            ("POST /api/v1/messages/", "/api/v1/messages/", "POST",
             json.dumps({"channel_id": ch, "content": "a message sent by wrk"})),
        ]
        rows = []
        for label, path, method, body in cases:
            headers = dict(auth)
            if body is not None:
                headers["Content-Type"] = "application/json"
            sample = c.request(method, path, headers=headers, content=body)
            size = len(sample.content)
            static = f"{bench_dir}/{len(rows)}.json"
            with open(static, "wb") as f:
                f.write(sample.content)
            ceiling = wrk(f"{url}/_bench/{len(rows)}.json")
            api = wrk(url + path, lua(f"{bench_dir}/{len(rows)}.lua", method, headers, body))
            rows.append((label, size, api, ceiling))
        print(f"\nwrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s through nginx on 127.0.0.1 "
              f"(ceiling = nginx serving a static file of the same size, same run)\n")
        print(f"{'endpoint':<46} {'bytes':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
              f"{'ceiling req/s':>14} {'ceil p99':>9} {'ratio':>6}")
        for label, size, api, ceil in rows:
            print(f"{label:<46} {size:>6} {api['rps']:>9.0f} {api['p50']:>8.2f} {api['p99']:>8.2f} "
                  f"{api['errors']:>7} {ceil['rps']:>14.0f} {ceil['p99']:>9.2f} {api['rps'] / ceil['rps']:>6.2f}")
    finally:
        stop_stack(base, env)


if __name__ == "__main__":
    main()
