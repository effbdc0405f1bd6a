"""chat-worker's scheduler: periodic jobs run once per period across all workers (a Redis SET NX claim
per period on Redis's clock), and their upkeep does what docs/events.md and docs/worker.md say."""
import time
from collections import Counter

import httpx
import pytest

from worker_helpers import EVENTS, Redis, WorkerProc, uniq, wait_until

PERIODS = {"outbox_relay": 1000, "presence_sweep": 5000, "session_cleanup": 30000, "idempotency_cleanup": 30000,
           "events_trim": 30000}


@pytest.fixture(scope="module")
def r(stack):
    with Redis(stack.redis_sock) as client:
        yield client


def runs(r):
    """The scheduler's run log: (type, period, consumer, at_ms, ok, duration_ms), newest first."""
    out = []
    for line in r("LRANGE", "chat:sched:runs", 0, -1):
        t, period, consumer, at, ok, took = line.split()
        out.append((t, int(period), consumer, int(at), ok, int(took)))
    return out


def test_two_more_workers_never_run_a_periodic_job_twice_in_one_period(stack, r):
    with WorkerProc(stack, f"periodic-a-{uniq()}") as a, WorkerProc(stack, f"periodic-b-{uniq()}") as b:
        wait_until(lambda: a.started_logged() and b.started_logged(), 10, "both workers to start")
        t0 = int(r("TIME")[0]) * 1000
        time.sleep(6.5)
        assert a.alive() and b.alive(), a.log_tail() + b.log_tail()
        recent = [x for x in runs(r) if x[3] >= t0]
    # three workers (the stack's and ours) raced for every period: one run each, never two
    per_period = Counter((t, p) for t, p, *_ in recent)
    twice = {k: n for k, n in per_period.items() if n > 1}
    assert not twice, f"periodic jobs ran twice in one period: {twice}"
    relay_periods = sorted(p for t, p in per_period if t == "outbox_relay")
    assert len(relay_periods) >= 5, relay_periods  # every second, about
    assert relay_periods == list(range(relay_periods[0], relay_periods[-1] + 1)), f"a period was skipped: {relay_periods}"
    assert any(t == "presence_sweep" for t, _ in per_period), per_period
    for t, period, consumer, at, ok, _ in recent:
        assert ok == "ok", (t, period, consumer)
        assert period == at // PERIODS.get(t, 60000), (t, period, at)
    # the claim of a recent period names the worker that ran it
    t, period, consumer, *_ = next(x for x in recent if x[0] == "outbox_relay")
    claim = r("GET", f"chat:sched:{t}:{period}")
    assert claim in (None, consumer), (claim, consumer)  # None: expired since (PX = one period)
    latest = max(p for tt, p in per_period if tt == "outbox_relay")
    holder = r("GET", f"chat:sched:outbox_relay:{latest}")
    ran_by = [c for tt, p, c, *_ in recent if tt == "outbox_relay" and p == latest]
    assert holder is None or [holder] == ran_by, (holder, ran_by)


def test_presence_sweep_sets_expired_users_offline(stack, r, db, register):
    gone, here = register(), register()
    db("UPDATE users SET is_online = true, last_seen_at = NULL WHERE id IN (:'p1', :'p2')", gone.user["id"], here.user["id"])
    now_ms = int(r("TIME")[0]) * 1000
    r("ZADD", "presence:online", now_ms - 1000, gone.user["id"], now_ms + 600_000, here.user["id"])
    try:
        wait_until(lambda: db("SELECT is_online FROM users WHERE id = :'p1'", gone.user["id"]) == [["f"]], 8,
                   "the expired user to be set offline by the presence sweep")
        assert db("SELECT last_seen_at IS NOT NULL FROM users WHERE id = :'p1'", gone.user["id"]) == [["t"]]
        assert db("SELECT is_online FROM users WHERE id = :'p1'", here.user["id"]) == [["t"]]
        # the daemons' events are theirs: the sweep publishes none
        assert not [e for e in r("XRANGE", EVENTS, "-", "+") or [] if gone.user["id"] in str(e[1]) and "offline" in str(e[1])]
    finally:
        r("ZREM", "presence:online", gone.user["id"], here.user["id"])
        db("UPDATE users SET is_online = false WHERE id = :'p1'", here.user["id"])


def test_cleanup_removes_expired_sessions_tokens_and_idempotency_keys(stack, db, register, login):
    u = register()
    uid = u.user["id"]
    keep = login(u.user["username"])  # a live session that must stay
    # age some rows past their windows
    db("INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES "
       "(:'p1', 'old-key', 'h', now() - interval '25 hours'), (:'p1', 'new-key', 'h', now() - interval '23 hours')", uid)
    db("UPDATE refresh_tokens SET expires_at = now() - interval '1 minute' WHERE session_id = "
       "(SELECT id FROM sessions WHERE user_id = :'p1' ORDER BY created_at LIMIT 1)", uid)
    db("INSERT INTO sessions (user_id, revoked_at, revoke_reason) VALUES "
       "(:'p1', now() - interval '31 days', 'logout'), (:'p1', now() - interval '29 days', 'logout')", uid)
    db("INSERT INTO refresh_tokens (session_id, token_hash, expires_at, used_at) SELECT id, 'used-long-ago-' || id, "
       "now() + interval '1 day', now() - interval '31 days' FROM sessions WHERE user_id = :'p1' AND revoked_at IS NULL "
       "ORDER BY created_at DESC LIMIT 1", uid)

    def cleaned():
        keys = db("SELECT key FROM idempotency_keys WHERE user_id = :'p1' ORDER BY key", uid)
        old_sessions = db("SELECT count(*) FROM sessions WHERE user_id = :'p1' AND revoked_at < now() - interval '30 days'", uid)
        expired = db("SELECT count(*) FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.user_id = :'p1' "
                     "AND (t.expires_at < now() OR t.used_at < now() - interval '30 days')", uid)
        return keys == [["new-key"]] and old_sessions == [["0"]] and expired == [["0"]]

    wait_until(cleaned, 35, "the 30 s cleanup jobs to run", interval=0.5)
    assert db("SELECT count(*) FROM sessions WHERE user_id = :'p1' AND revoked_at > now() - interval '30 days'", uid) == [["1"]]
    # the live session still works
    resp = httpx.get(stack.base_url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {keep.access}"}, timeout=10)
    assert resp.status_code == 200, resp.text
