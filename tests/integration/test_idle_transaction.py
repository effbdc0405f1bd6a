"""A session that goes quiet inside a transaction does not hold its locks for ever.

The outbox relay holds its conversation's advisory lock (domain/outbox.cpp) while it talks to Redis. When the
host that runs it drops off the network (tests/cluster's third fault), PostgreSQL sees an idle-in-transaction
session whose peer never answers again, and without a bound every send of that conversation, on every host,
queues behind that lock until TCP gives up (hours). The programs' sessions (core/db.hpp's kSessionOptions) carry
idle_in_transaction_session_timeout, so PostgreSQL ends such a session and the lock passes on.

Here: a session with the programs' settings takes the relay's lock of a conversation and goes quiet (psql
sleeps outside any statement, as a vanished client does); a second one waits for the same lock and must get it
within the bound, with the first session ended by the server.
"""

import os
import re
import subprocess
import time
import uuid

from conftest import REPO


def session_options() -> str:
    m = re.search(r'kSessionOptions =\s*"([^"]*)"', (REPO / "core" / "db.hpp").read_text())
    assert m, "kSessionOptions not found in core/db.hpp"
    return m.group(1)


def idle_timeout_ms(options: str) -> int:
    m = re.search(r"idle_in_transaction_session_timeout=(\d+)", options)
    assert m, f"the programs' sessions have no idle_in_transaction_session_timeout: {options}"
    return int(m.group(1))


def test_a_quiet_transaction_gives_its_lock_up(stack):
    options = session_options()
    bound_s = idle_timeout_ms(options) / 1000
    assert 1 <= bound_s <= 30, "long enough for a relay's Redis round trips, short enough for a send's retries"
    conversation = str(uuid.uuid4())
    env = {**os.environ, "PGOPTIONS": options}
    lock = f"SELECT pg_advisory_xact_lock(727301, hashtext('{conversation}'));"
    # The holder: BEGIN, the lock, then silence (\! sleep runs in psql, between statements) past the bound.
    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", stack.database_url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    holder.stdin.write(f"BEGIN;\n{lock}\n\\! sleep {bound_s * 3 + 5}\nSELECT 'still here';\nCOMMIT;\n")
    holder.stdin.flush()
    try:
        time.sleep(0.5)  # the holder has the lock
        started = time.monotonic()
        waiter = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", stack.database_url],
            input=f"BEGIN;\n{lock}\nSELECT 'got it';\nCOMMIT;\n", capture_output=True, text=True, env=env,
            timeout=bound_s * 3 + 10)
        waited = time.monotonic() - started
        assert waiter.returncode == 0, waiter.stderr
        assert "got it" in waiter.stdout
        assert waited < bound_s + 3, f"the lock came after {waited:.1f} s, the bound is {bound_s} s"
        out, err = holder.communicate(timeout=bound_s * 3 + 15)
        assert "still here" not in out, "the quiet session was not ended"
        assert "idle-in-transaction timeout" in err or "terminating connection" in err or "server closed" in err, err
    finally:
        if holder.poll() is None:
            holder.kill()
