"""chat-worker's reliable queue (docs/worker.md §1): a job taken by a worker that dies is taken again and done
once in effect; a failing job is retried with growing backoff, then dead-lettered; SIGTERM hands jobs
back; the operator command (--stats, --dead-letter) and /metrics show and fix the queue. The stack's
own workers are paused here: these tests run their own, with test jobs enabled."""
import json
import statistics
import time

import httpx
import pytest

from worker_helpers import (
    DEAD, DELAYED, JOBS, Redis, WorkerProc, counter, enqueue, entries, pending_of, run_admin,
    stack_workers_paused, uniq, wait_until,
)

BASE_MS = 100   # WORKER_BACKOFF_BASE_MS of the failing-job test
ATTEMPTS = 5


@pytest.fixture(scope="module")
def r(stack):
    with Redis(stack.redis_sock) as client:
        yield client


@pytest.fixture(scope="module", autouse=True)
def paused(stack, r):
    with stack_workers_paused(stack) as names:
        assert names, "the stack runs no chat-worker of its own"
        # nothing of earlier modules is left in flight
        wait_until(lambda: r("XLEN", JOBS) == 0, 10, "chat:jobs to be empty before the worker tests")
        yield


@pytest.fixture
def workers(stack):
    started = []

    def start(name, **env):
        env.setdefault("CHAT_WORKER_TEST_JOBS", "1")
        w = WorkerProc(stack, f"{name}-{uniq()}", **env)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def done_of(r, key):
    return counter(r, f"chat:test:done:{key}")


def test_kill9_mid_batch_every_job_done_once_by_the_survivor(stack, r, workers):
    key = uniq("batch-")
    env = {"WORKER_JOB_TIMEOUT_MS": "1000", "WORKER_CONCURRENCY": "4"}
    victim = workers("victim", **env)
    victim.wait_started(r)
    ids = [enqueue(r, "test_sleep", {"ms": 60, "key": key}) for _ in range(200)]
    survivor = workers("survivor", **env)
    survivor.wait_started(r)
    # in the middle of the batch, with jobs in the victim's hands
    wait_until(lambda: done_of(r, key) >= 40 and pending_of(r, victim.consumer), 20, "the batch to be under way")
    victim.kill9()
    orphans = pending_of(r, victim.consumer)
    assert orphans, "the victim held no job when it died: the test proves nothing"
    wait_until(lambda: done_of(r, key) >= 200, 60, "all 200 jobs to be done")
    time.sleep(1.5)  # anything still to be redone would be reclaimed by now
    assert done_of(r, key) == 200
    runs = counter(r, f"chat:test:runs:{key}")
    assert runs >= 200, runs
    # each job id has its marker, set by exactly one worker
    markers = r.pipeline([["GET", f"chat:test:ran:{key}:{i}"] for i in ids])
    assert all(m in (victim.consumer, survivor.consumer) for m in markers), markers
    by = {k: int(v) for k, v in zip(*[iter(r("HGETALL", f"chat:test:by:{key}"))] * 2)}
    assert sum(by.values()) == 200 and by.get(survivor.consumer, 0) > 0, by
    # what the victim held was finished by the survivor (or had its effect before the kill, once)
    for o in orphans:
        assert r("GET", f"chat:test:ran:{key}:{o}") in (victim.consumer, survivor.consumer), o
    # the queue is clean: nothing pending, nothing left, nothing dead
    wait_until(lambda: r("XLEN", JOBS) == 0, 5, "chat:jobs to be empty")
    assert pending_of(r, victim.consumer) == [] and pending_of(r, survivor.consumer) == []
    assert not [f for _, f in entries(r, DEAD) if key in f.get("payload", "")]


def test_failing_job_is_retried_with_growing_backoff_then_dead_lettered(stack, r, workers):
    w = workers("failer", WORKER_BACKOFF_BASE_MS=BASE_MS, WORKER_MAX_ATTEMPTS=ATTEMPTS, WORKER_CONCURRENCY=4)
    w.wait_started(r)
    before_retried = counter(r, "chat:metrics:jobs:retried")
    before_dead = counter(r, "chat:metrics:jobs:dead_lettered")
    keys = [uniq("fail-") for _ in range(12)]
    ids = {enqueue(r, "test_fail", {"key": k}): k for k in keys}

    def dead_ones():
        found = {f["entry_id"]: f for _, f in entries(r, DEAD) if f.get("payload") and
                 json.loads(f["payload"]).get("key") in keys}
        return found if len(found) == len(keys) else None

    wait_until(dead_ones, 30, "the failing jobs in chat:jobs:dead")
    gaps = {i: [] for i in range(1, ATTEMPTS)}
    for k in keys:
        attempts = [line.split() for line in r("LRANGE", f"chat:test:attempts:{k}", 0, -1)]
        assert [int(a[0]) for a in attempts] == list(range(1, ATTEMPTS + 1)), attempts
        at = [int(a[1]) for a in attempts]
        for i in range(1, ATTEMPTS):
            gap = at[i] - at[i - 1]
            # full jitter: each wait is at most base * 2^(attempt-1), plus the scheduler's tick and the run
            assert 0 <= gap <= BASE_MS * 2 ** (i - 1) + 350, (k, i, at)
            gaps[i].append(gap)
    # the ceilings double, so on average the gaps grow (12 jobs make a reversal vanishingly unlikely)
    means = [statistics.mean(gaps[i]) for i in range(1, ATTEMPTS)]
    assert means[3] > means[1] > 0 and means[3] > means[0] and means[2] > means[0], f"the gaps do not grow: {means}"
    # the dead entries say why and after how many attempts, and keep the job as it was
    for entry_id, f in dead_ones().items():
        assert entry_id not in ids  # re-queued jobs are new entries; the job id stays the first one
        assert f["job_id"] in ids and f["type"] == "test_fail", f
        assert f["attempts"] == str(ATTEMPTS), f
        assert "failing on purpose (attempt 5)" in f["error"], f
        assert f["failed_by"] == w.consumer and f["failed_at"].endswith("Z"), f
        assert "attempt" not in f, f
    assert counter(r, "chat:metrics:jobs:retried") - before_retried == len(keys) * (ATTEMPTS - 1)
    assert counter(r, "chat:metrics:jobs:dead_lettered") - before_dead == len(keys)
    assert r("ZCARD", DELAYED) == 0


def test_unknown_job_type_is_dead_lettered_without_retries(stack, r, workers):
    w = workers("unknown")
    w.wait_started(r)
    eid = enqueue(r, "no_such_job", {"x": 1})
    dead = wait_until(lambda: [f for _, f in entries(r, DEAD) if f.get("entry_id") == eid], 10, "the unknown job")
    assert dead[0]["attempts"] == "1" and "unknown job type" in dead[0]["error"], dead
    r("XDEL", DEAD, *[e for e, f in entries(r, DEAD) if f.get("entry_id") == eid])


def test_sigterm_hands_running_jobs_back_and_exits_fast(stack, r, workers):
    key = uniq("term-")
    first = workers("term", WORKER_JOB_TIMEOUT_MS=800, WORKER_CONCURRENCY=4)
    first.wait_started(r)
    for _ in range(4):
        enqueue(r, "test_sleep", {"ms": 4000, "key": key})
    wait_until(lambda: len(pending_of(r, first.consumer)) == 4, 10, "4 long jobs in flight")
    took = first.terminate()
    assert took < 10, f"SIGTERM took {took:.1f} s"
    assert first.proc.returncode == 0
    assert b"event=worker_stopped" in first.log_path.read_bytes()
    assert done_of(r, key) == 0
    assert len(pending_of(r, first.consumer)) == 4  # not acked: handed back
    second = workers("term2", WORKER_JOB_TIMEOUT_MS=800, WORKER_CONCURRENCY=4)
    wait_until(lambda: done_of(r, key) == 4, 20, "the handed-back jobs to be done by another worker")
    assert r("HGET", f"chat:test:by:{key}", second.consumer) == "4"


def test_stats_and_dead_letter_commands(stack, r, workers):
    key = uniq("stats-")
    # with no worker running, jobs wait: depth, age and /metrics show them
    eids = [enqueue(r, "test_sleep", {"ms": 1, "key": key}) for _ in range(3)]
    r("ZADD", DELAYED, int(time.time() * 1000) + 3_600_000, json.dumps(["type", "test_sleep", "payload", "{}"]))
    time.sleep(0.2)
    s = json.loads(run_admin(stack, "--stats", "--json").stdout)
    assert s["depth"] == 3 and s["waiting"] == 3 and s["in_flight"] == 0, s
    assert s["delayed"] == 1 and s["next_delayed_in_ms"] > 3_000_000, s
    assert s["oldest_age_ms"] >= 150, s
    assert {"done", "retried", "dead_lettered"} <= set(s["totals"]), s
    assert {p["type"] for p in s["periodic"]} >= {"outbox_relay", "presence_sweep", "events_trim"}, s
    text = run_admin(stack, "--stats").stdout
    assert "depth           3" in text and "delayed         1" in text and "dead-letter" in text, text
    m = httpx.get(stack.base_url + "/metrics", timeout=10)
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain"), m.headers
    lines = dict(line.rsplit(" ", 1) for line in m.text.splitlines() if line and not line.startswith("#"))
    assert lines["chat_jobs_queue_depth"] == "3" and lines["chat_jobs_delayed"] == "1", m.text
    assert float(lines["chat_jobs_oldest_age_seconds"]) > 0.1 and lines["chat_redis_up"] == "1", m.text
    assert int(lines['chat_jobs_total{outcome="done"}']) == s["totals"]["done"], m.text
    r("DEL", DELAYED)

    done_before = s["totals"]["done"]
    w = workers("stats", WORKER_BACKOFF_BASE_MS=20, WORKER_MAX_ATTEMPTS=2)
    wait_until(lambda: done_of(r, key) == 3, 10, "the waiting jobs to be done")
    bad = [enqueue(r, "test_fail", {"key": uniq("dl-")}) for _ in range(3)]
    wait_until(lambda: len([1 for _, f in entries(r, DEAD) if f.get("job_id") in bad]) == 3, 10, "3 dead jobs")
    s = json.loads(run_admin(stack, "--stats", "--json").stdout)
    assert s["totals"]["done"] >= done_before + 3 and s["dead"] >= 3, s
    assert w.consumer in [c["name"] for c in s["consumers"]], s
    w.terminate()

    listed = json.loads(run_admin(stack, "--dead-letter", "list", "--json").stdout)
    mine = {d["job_id"]: d for d in listed if d["job_id"] in bad}
    assert set(mine) == set(bad), listed
    assert all(d["attempts"] == 2 and d["type"] == "test_fail" and "on purpose" in d["error"] for d in mine.values())
    text = run_admin(stack, "--dead-letter", "list").stdout
    assert all(d["id"] in text for d in mine.values()) and "error:" in text, text
    one = run_admin(stack, "--dead-letter", "list", mine[bad[0]]["id"], "--json")
    assert [d["job_id"] for d in json.loads(one.stdout)] == [bad[0]]

    # retry one: back in chat:jobs with its attempts reset, the dead entry gone
    out = json.loads(run_admin(stack, "--dead-letter", "retry", mine[bad[0]]["id"], "--json").stdout)
    assert out == {"retried": 1, "ids": [mine[bad[0]]["id"]]}
    back = [f for _, f in entries(r, JOBS) if f.get("job_id") == bad[0]]
    assert len(back) == 1 and "attempt" not in back[0] and "error" not in back[0], back
    assert back[0]["type"] == "test_fail" and json.loads(back[0]["payload"]) == json.loads(mine[bad[0]]["payload"])
    assert run_admin(stack, "--dead-letter", "retry", mine[bad[0]]["id"], check=False).returncode == 1
    # drop one by id, then drop all
    out = run_admin(stack, "--dead-letter", "drop", mine[bad[1]]["id"]).stdout
    assert out.strip() == "dropped 1 dead job", out
    left = {d["job_id"] for d in json.loads(run_admin(stack, "--dead-letter", "list", "--json").stdout)}
    assert bad[1] not in left and bad[2] in left
    out = json.loads(run_admin(stack, "--dead-letter", "drop", "--json").stdout)
    assert out["dropped"] >= 1, out
    assert json.loads(run_admin(stack, "--dead-letter", "list", "--json").stdout) == []
    assert run_admin(stack, "--dead-letter", "list").stdout.strip() == "no dead jobs"
    # the retried job runs again from attempt 1 on the next worker, and fails its way back to the dead stream
    w2 = workers("stats2", WORKER_BACKOFF_BASE_MS=20, WORKER_MAX_ATTEMPTS=2)
    again = wait_until(lambda: [f for _, f in entries(r, DEAD) if f.get("job_id") == bad[0]], 10, "the retried job dead again")
    assert again[0]["attempts"] == "2" and again[0]["failed_by"] == w2.consumer, again
    key0 = json.loads(again[0]["payload"])["key"]
    assert [a.split()[0] for a in r("LRANGE", f"chat:test:attempts:{key0}", 0, -1)] == ["1", "2", "1", "2"]
    run_admin(stack, "--dead-letter", "drop")
    # bad usage is refused with the usage text
    bad_usage = run_admin(stack, "--dead-letter", "explode", check=False)
    assert bad_usage.returncode == 2 and "usage:" in bad_usage.stderr
