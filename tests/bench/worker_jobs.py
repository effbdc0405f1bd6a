#!/usr/bin/python3
"""chat-worker throughput and latency for mention_notification: jobs/s of one worker draining a backlog
of real messages' jobs, then send-to-notification delay while jobs arrive at ~80 % of that rate.

    /usr/bin/python3 tests/bench/worker_jobs.py            # BENCH_JOBS=2000 WORKER_CONCURRENCY=4 by default

Starts its own stack (deploy/stack.sh up in a temporary run dir, stopped at the end). Delays are measured
on Redis's clock: the stream entry id of the cause (the job, or the message's new_message event) to the
entry id of the mention_notification event.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from worker_helpers import EVENTS, JOBS, Redis, WorkerProc, stack_workers_paused, wait_until  # noqa: E402

N_JOBS = int(os.environ.get("BENCH_JOBS", "2000"))
CONCURRENCY = os.environ.get("WORKER_CONCURRENCY", "4")
STEADY_SECONDS = float(os.environ.get("BENCH_STEADY_SECONDS", "10"))
MENTIONED = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(db_url, sql):
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", db_url], input=sql,
                       capture_output=True, text=True, check=True)
    return [line.split("|") for line in r.stdout.splitlines() if line]


def insert_messages(db_url, cid, sender, users, first_seq, n):
    """n real messages (rows, mentions) in conversation cid, each mentioning one of `users`."""
    rows = psql(db_url, f"""
        WITH m AS (
          INSERT INTO messages (conversation_id, seq, sender_id, content)
          SELECT '{cid}', s, '{sender}', 'bench message ' || s || ' for @user' || (s % {len(users)})
          FROM generate_series({first_seq}, {first_seq + n - 1}) s RETURNING id, seq)
        SELECT id, seq FROM m ORDER BY seq;
        UPDATE conversations SET last_seq = {first_seq + n - 1} WHERE id = '{cid}';""")
    ids = [(r[0], int(r[1])) for r in rows]
    values = ",".join(f"('{mid}', '{users[seq % len(users)]}')" for mid, seq in ids)
    psql(db_url, f"INSERT INTO mentions (message_id, user_id) VALUES {values};")
    return [(mid, users[seq % len(users)]) for mid, seq in ids]


def job_args(cid, sender, mid, uid):
    payload = {"message_id": mid, "conversation_id": cid, "sender_id": sender, "user_ids": [uid]}
    return ["XADD", JOBS, "*", "type", "mention_notification", "conversation_id", cid, "payload", json.dumps(payload)]


def notifications_after(r, mark):
    """message_id -> entry ms of its mention_notification event, after stream id `mark`."""
    out = {}
    for eid, flat in r("XRANGE", EVENTS, "(" + mark, "+") or []:
        f = dict(zip(flat[0::2], flat[1::2]))
        if f.get("type") == "mention_notification":
            out[json.loads(f["payload"])["data"]["message_id"]] = int(eid.split("-")[0])
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(name, xs):
    return (f"{name}: n={len(xs)} p50={pct(xs, 50)} ms p95={pct(xs, 95)} ms p99={pct(xs, 99)} ms "
            f"max={max(xs)} ms mean={statistics.mean(xs):.1f} ms")


def main():
    base = tempfile.mkdtemp(prefix="chat-wbench-", dir="/tmp")
    os.chmod(base, 0o755)
    run_dir = Path(base) / "run"
    port = free_port()
    env = dict(os.environ, CHAT_RUN_DIR=str(run_dir), CHAT_HTTP_PORT=str(port), RATE_LIMIT_AUTH="100000",
               RATE_LIMIT_AUTH_BURST="100000", RATE_LIMIT_SEND="1000000", RATE_LIMIT_SEND_BURST="1000000",
               LOG_LEVEL="warn")
    up = subprocess.run([str(REPO / "deploy/stack.sh"), "up"], env=env, capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(f"stack up failed:\n{up.stdout}{up.stderr}")
    try:
        run(run_dir, f"http://127.0.0.1:{port}")
    finally:
        subprocess.run([str(REPO / "deploy/stack.sh"), "down"], env=env, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def run(run_dir, base_url):
    chat_env = dict(line.split("=", 1) for line in (run_dir / "chat.env").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    db_url = chat_env["DATABASE_URL"].strip("'")
    stack = types.SimpleNamespace(run_dir=run_dir, env=chat_env, redis_sock=str(run_dir / "redis/redis.sock"))
    api = httpx.Client(base_url=base_url, timeout=30)
    name = "bench_" + uuid.uuid4().hex[:8]
    reg = api.post("/api/v1/auth/register", json={"email": f"{name}@example.com", "username": name,
                                                   "password": "Correct-horse-9"}).json()
    token, sender = reg["access_token"], reg["user"]["id"]
    auth = {"Authorization": f"Bearer {token}"}
    cid = api.post("/api/v1/channels/", json={"name": name}, headers=auth).json()["id"]
    users = [r[0] for r in psql(db_url, f"""
        INSERT INTO users (username, email, hashed_password)
        SELECT '{name}_u' || i, '{name}_u' || i || '@example.com', 'x' FROM generate_series(1, {MENTIONED}) i RETURNING id;""")]
    psql(db_url, "INSERT INTO conversation_members (conversation_id, user_id) VALUES " +
         ",".join(f"('{cid}', '{u}')" for u in users) + ";")
    usernames = [f"{name}_u{i}" for i in range(1, MENTIONED + 1)]
    backlog = insert_messages(db_url, cid, sender, users, 1, N_JOBS)
    seq = N_JOBS

    r = Redis(stack.redis_sock)
    with stack_workers_paused(stack):
        w = WorkerProc(stack, "bench-worker", WORKER_CONCURRENCY=CONCURRENCY, LOG_LEVEL="info")
        try:
            w.wait_started(r)
            # ---- 1. drain a backlog of N_JOBS jobs
            mark = r("XREVRANGE", EVENTS, "+", "-", "COUNT", 1)
            mark = mark[0][0] if mark else "0-0"
            done0 = int(r("HGET", "chat:metrics:jobs:by_type", "mention_notification:done") or 0)
            t0 = time.monotonic()
            replies = r.pipeline([job_args(cid, sender, mid, uid) for mid, uid in backlog])
            enq_ms = {mid: int(eid.split("-")[0]) for (mid, _), eid in zip(backlog, replies)}
            wait_until(lambda: int(r("HGET", "chat:metrics:jobs:by_type", "mention_notification:done") or 0)
                       >= done0 + N_JOBS, 600, "the backlog to drain", interval=0.01)
            drain = time.monotonic() - t0
            rate = N_JOBS / drain
            got = notifications_after(r, mark)
            assert len([m for m, _ in backlog if m in got]) == N_JOBS, "a notification is missing"
            print(f"drain: {N_JOBS} mention_notification jobs by one worker (WORKER_CONCURRENCY={CONCURRENCY}) "
                  f"in {drain:.2f} s = {rate:.0f} jobs/s")
            print(summary("  enqueue->notification during the drain", [got[m] - enq_ms[m] for m, _ in backlog]))

            # ---- 2. steady load at ~80 % of that rate, plus real sends through the API
            target = 0.8 * rate
            steady = insert_messages(db_url, cid, sender, users, seq + 1, int(target * STEADY_SECONDS) + 10)
            mark = r("XREVRANGE", EVENTS, "+", "-", "COUNT", 1)[0][0]
            sent, injected, k = [], {}, 0
            t0 = time.monotonic()
            next_send = t0
            while time.monotonic() - t0 < STEADY_SECONDS:
                due = int((time.monotonic() - t0) * target)
                batch = steady[k:due]
                if batch:
                    ids = r.pipeline([job_args(cid, sender, mid, uid) for mid, uid in batch])
                    injected.update({mid: int(eid.split("-")[0]) for (mid, _), eid in zip(batch, ids)})
                    k = due
                if time.monotonic() >= next_send:
                    m = api.post("/api/v1/messages/", json={"channel_id": cid,
                                                           "content": f"live @{usernames[len(sent) % MENTIONED]}"},
                                 headers=auth).json()
                    sent.append(m["id"])
                    next_send += 0.1
                time.sleep(0.005)
            wanted = list(injected) + sent
            wait_until(lambda: set(wanted) <= set(notifications_after(r, mark)), 60,
                       "the steady-load notifications", interval=0.2)
            got = notifications_after(r, mark)
            new_msg = {}
            for eid, flat in r("XRANGE", EVENTS, "(" + mark, "+"):
                f = dict(zip(flat[0::2], flat[1::2]))
                if f.get("type") == "new_message":
                    new_msg[json.loads(f["payload"])["data"]["id"]] = int(eid.split("-")[0])
            print(f"steady: {len(injected) / STEADY_SECONDS:.0f} jobs/s injected for {STEADY_SECONDS:.0f} s "
                  f"+ {len(sent)} API sends with a mention ({len(sent) / STEADY_SECONDS:.0f}/s)")
            print(summary("  API send (new_message) -> mention_notification", [got[m] - new_msg[m] for m in sent]))
            print(summary("  injected job -> mention_notification", [got[m] - injected[m] for m in injected]))
        finally:
            w.stop()
    r.close()


if __name__ == "__main__":
    main()
