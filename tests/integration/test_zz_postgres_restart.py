"""A PostgreSQL restart is invisible to clients: every handler's stale connection is reopened and the request
retried once, /health is right at the first call, and a connection lost inside a transaction is a 503, never a
500 (runs late: it restarts PostgreSQL)."""
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import PASSWORD, assert_json, auth_headers, http_client, psql, restart_postgres, wait_until

# One authenticated read per handler group: each needs the database.
READS = [
    "/api/v1/auth/me",
    "/api/v1/users/me",
    "/api/v1/channels/",
    "/api/v1/messages/mentions/my",
    "/api/v1/conversations/",
]


def burst(base_url, me, rounds):
    """Every read `rounds` times from 8 threads at once, plus /health, and refreshes, whose transaction is the
    first statement on the connection; returns [(path, status, body)]."""
    jobs = [p for p in READS for _ in range(rounds)] + ["/health"] * rounds
    with http_client(base_url) as client:
        r = client.post("/api/v1/auth/login", json={"username": me.user["username"], "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        refresh = [client.post("/api/v1/auth/login", json={"username": me.user["username"], "password": PASSWORD})
                   .json()["refresh_token"] for _ in range(4)]

        def one(path):
            r = client.get(path, headers=auth_headers(token))
            return path, r.status_code, r.text[:200]

        def renew(tok):
            r = client.post("/api/v1/auth/refresh", json={"refresh_token": tok})
            return "/api/v1/auth/refresh", r.status_code, r.text[:200]

        with ThreadPoolExecutor(8) as pool:
            renewed = list(pool.map(renew, refresh))
            return renewed + list(pool.map(one, jobs))


@pytest.mark.parametrize("mode", ["fast", "immediate", "kill"])
def test_no_request_fails_after_postgres_comes_back(stack, register, mode):
    """A clean restart, a crash (`-m immediate`) and kill -9 of the postmaster: every handler thread holds a
    connection to the old server; the first request on each reopens it and succeeds."""
    me = register()
    # every thread of every handler process holds a connection: 2 procs x 2 threads per group, many requests
    warm = burst(stack.base_url, me, 12)
    assert all(s in (200, 201) for _, s, _ in warm), [w for w in warm if w[1] not in (200, 201)][:5]

    restart_postgres(stack, mode=mode)

    first = burst(stack.base_url, me, 12)
    bad = [r for r in first if r[1] not in (200, 201)]
    assert not bad, f"{len(bad)} of {len(first)} requests failed right after the restart ({mode}): {bad[:6]}"


@pytest.mark.parametrize("how", ["terminate", "kill", "crash"])
def test_connection_lost_inside_a_transaction_is_503(stack, api, how):
    """Registration takes an advisory lock inside its transaction; while psql holds it, the handler waits there.
    Losing that backend mid-transaction — terminated (SQLSTATE 57P01), killed (the handler sees only a closed
    socket), or told to quit because another backend crashed (57P02: PostgreSQL restarts every backend) —
    answers 503, not 500."""
    url = stack.database_url
    holder_ready = threading.Event()
    release = threading.Event()

    def hold_lock():
        # psql keeps the session (and the lock) until its stdin closes
        p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        p.stdin.write("SELECT pg_advisory_lock(727201);\n\\echo locked\n")
        p.stdin.flush()
        while p.stdout.readline().strip() != "locked":
            pass
        holder_ready.set()
        release.wait(60)
        try:
            p.stdin.write("SELECT pg_advisory_unlock(727201);\n")
            p.stdin.close()
        except BrokenPipeError:  # the crash took psql's session too
            pass
        p.wait(30)

    holder = threading.Thread(target=hold_lock, daemon=True)
    holder.start()
    assert holder_ready.wait(30)
    wait_until(lambda: psql(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 727201 "
                                 "AND granted")[0][0] == "1", 10, "psql to hold the registration lock")
    result = {}

    def register_blocked():
        name = "tx_" + str(int(time.time() * 1000))[-9:]
        with http_client(stack.base_url) as client:
            result["r"] = client.post("/api/v1/auth/register",
                                      json={"email": f"{name}@example.com", "username": name,
                                            "password": "Correct-horse-9"})

    t = threading.Thread(target=register_blocked, daemon=True)
    t.start()
    try:
        waiting = wait_until(
            lambda: psql(url, "SELECT pid FROM pg_stat_activity WHERE application_name = 'chat-auth' "
                              "AND wait_event_type = 'Lock'"),
            15, "the registration to wait for the advisory lock inside its transaction")
        if how == "terminate":
            psql(url, "SELECT pg_terminate_backend(:'p1')", waiting[0][0])
        elif how == "kill":
            os.kill(int(waiting[0][0]), signal.SIGKILL)
        else:  # the lock holder's backend dies: a crash of "another server process" for the handler's
            holder_pid = psql(url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 727201 "
                                   "AND granted")[0][0]
            os.kill(int(holder_pid), signal.SIGKILL)
        t.join(30)
        assert not t.is_alive(), "the registration did not answer after its backend was terminated"
    finally:
        release.set()
        holder.join(30)
    r = result["r"]
    assert r.status_code == 503, f"{r.status_code} {r.text}"
    assert_json(r)
    assert r.json() == {"detail": "Service unavailable"}
    # the handler threads reconnect for their next requests
    wait_until(lambda: api.get("/health").status_code == 200, 30, "/health to be 200 again")


def test_the_stack_runs_postgres_durably(db):
    """A 2xx means stored: the stack's PostgreSQL flushes WAL at commit, like production."""
    for setting in ("fsync", "synchronous_commit", "full_page_writes"):
        assert db(f"SHOW {setting}") == [["on"]], setting


def test_acknowledged_messages_survive_a_postgres_crash(stack, register):
    """Senders keep posting while PostgreSQL crashes (`-m immediate`): every message answered 201 is in the
    database afterwards with the seq it was answered with, and seq has no gap and no duplicate."""
    from chat_helpers import create_channel, join, send_raw
    owner = register()
    members = [register() for _ in range(3)]
    with http_client(stack.base_url) as c:
        ch = create_channel(c, owner)
        for m in members:
            join(c, m, ch["id"])
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(who):
        with http_client(stack.base_url, timeout=10) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    r = send_raw(c, who, ch["id"], f"{who.user['username']} #{i}")
                except Exception:  # noqa: BLE001 - the connection may break while PostgreSQL is down
                    continue
                if r.status_code == 201:
                    with lock:
                        acked.append(r.json())
                time.sleep(0.01)

    threads = [threading.Thread(target=sender, args=(m,), daemon=True) for m in members]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 60, 30, "60 acknowledged sends before the crash")
    restart_postgres(stack, mode="immediate")
    n_at_restart = len(acked)
    wait_until(lambda: len(acked) >= n_at_restart + 30, 30, "30 more acknowledged sends after the crash")
    stop.set()
    for t in threads:
        t.join(30)
    rows = psql(stack.database_url, "SELECT id, seq FROM messages WHERE conversation_id = :'p1'", ch["id"])
    stored = {r[0]: int(r[1]) for r in rows}
    lost = [m for m in acked if m["id"] not in stored]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged messages are not in PostgreSQL: {lost[:3]}"
    moved = [m for m in acked if stored[m["id"]] != m["seq"]]
    assert not moved, f"acknowledged seqs now belong elsewhere: {moved[:3]}"
    assert sorted(stored.values()) == list(range(1, len(stored) + 1)), "seq has gaps or duplicates"


def test_a_send_right_after_its_connection_was_closed_is_stored(stack, api, register):
    """A send whose principal comes from the handler's cache makes the send's flight (BEGIN, statement, COMMIT)
    the first thing its connection does; when the server closed that connection meanwhile (here: every backend
    of the application terminated, as a restart or an idle timeout would), the handler must see that before it
    sends, reconnect, and store the message (201), since a flight with a COMMIT in it is never retried."""
    me = register()
    ch = api.post("/api/v1/channels/", json={"name": f"stale-{me.user['username']}"}, headers=auth_headers(me.access))
    assert ch.status_code == 201, ch.text
    body = {"channel_id": ch.json()["id"], "content": "after the connection was closed"}
    for _ in range(3):  # every handler thread has its connection, several with the principal cached
        for _ in range(12):
            r = api.post("/api/v1/messages/", json=body, headers=auth_headers(me.access))
            assert r.status_code == 201, r.text
        # the timeout makes it wait until each backend is gone (its socket closed), as after a restart
        psql(stack.superuser_url, "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                                  "WHERE usename = 'chat_app' AND pid <> pg_backend_pid()")
        statuses = [api.post("/api/v1/messages/", json=body, headers=auth_headers(me.access)).status_code
                    for _ in range(12)]
        assert statuses == [201] * 12, statuses
