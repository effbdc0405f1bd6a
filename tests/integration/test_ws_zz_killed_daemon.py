"""A chat-realtime daemon killed with SIGKILL (docs/events.md §5): its users are reported offline by the presence
sweep; the stack's supervisor starts the daemon again on the same port behind nginx, and a client resumes through
it from an event older than the new process (replayed from Redis) or gets resync_required for an id the stream no
longer holds.

Runs after the other WebSocket modules (it kills a daemon); leaves the stack as it found it."""
import os
import signal
import time

import pytest

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    H, create_channel, join, send, uid,
)
from conftest import wait_restarted
from ws_helpers import event_key, http_get_status, rt, wait_until, ws  # noqa: F401 (fixtures rt, ws)

VICTIM = 0  # index of the daemon that is killed (chat-realtime-1); the watcher sits on the other one


def daemon_pid(rt, index: int) -> int:
    pid = rt.pid(index)
    cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    assert os.path.basename(cmd[0].decode()) == "chat-realtime" and str(rt.ports[index]).encode() in cmd, cmd
    return pid


def restarted(stack, rt, index: int, old_pid: int) -> int:
    """Waits for the supervisor to have started the killed daemon again, answering on its port."""
    pid = wait_restarted(stack, rt.program(index), old_pid)
    port = rt.ports[index]
    wait_until(lambda: http_get_status(f"http://127.0.0.1:{port}/metrics") == 200, 20,
               f"the restarted chat-realtime on port {port} to answer /metrics")
    return pid


@pytest.fixture(scope="module")
def killed(rt, api, _user_pool):
    """The scene of the kill; yields what the tests look at."""
    victim, watcher, reader, sender = _user_pool.take(4)
    ch = create_channel(api, watcher)
    join(api, victim, ch["id"])
    join(api, reader, ch["id"])
    join(api, sender, ch["id"])
    scene = {"victim": victim, "watcher": watcher, "reader": reader, "sender": sender, "channel": ch}
    yield scene


def test_users_of_a_killed_daemon_go_offline_and_the_daemon_comes_back(stack, api, rt, ws, killed, redis_cli):
    scene = killed
    victim, watcher, reader, sender, ch = (scene[k] for k in ("victim", "watcher", "reader", "sender", "channel"))
    survivor = 1 - VICTIM
    sw = ws(watcher, port=rt.ports[survivor])
    mark = sw.mark()
    sv = ws(victim, port=rt.ports[VICTIM])  # connected only to the daemon that dies
    sw.wait_event("user_status", 5, since=mark, user_id=uid(victim), status="online")
    assert api.get(f"/api/v1/users/{uid(victim)}", headers=H(watcher)).json()["is_online"] is True

    # the reader notes where it is, then leaves; one message before the kill, one while the daemon is dead
    sr = ws(reader, port=rt.ports[VICTIM])
    m0 = send(api, sender, ch["id"], "seen by the reader")
    scene["last_seen"] = sr.wait_event("new_message", 5, data_id=m0["id"])["event_id"]
    sr.close()
    missed = [send(api, sender, ch["id"], "before the kill")]

    pid = daemon_pid(rt, VICTIM)
    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    sv.wait_closed(5)
    assert sv.close_code == 1006, f"a killed daemon cannot close cleanly: {sv.close_code}"
    missed.append(send(api, sender, ch["id"], "while the daemon is down"))

    f = sw.wait(lambda f: f.type == "user_status" and f.obj["user_id"] == uid(victim) and f.obj["status"] == "offline",
                30, "user_status offline of the killed daemon's user", since=mark)
    took = f.at - t_kill
    assert took < 30, took
    assert api.get(f"/api/v1/users/{uid(victim)}", headers=H(watcher)).json()["is_online"] is False
    # the watcher's daemon is unaffected
    m = send(api, sender, ch["id"], "the survivor still delivers")
    sw.wait_event("new_message", 5, since=mark, data_id=m["id"])
    missed.append(m)

    # back on the same port, behind nginx as before: the supervisor started it again
    assert restarted(stack, rt, VICTIM, pid) != pid
    mark = sw.mark()
    sv2 = ws(victim, port=rt.ports[VICTIM])
    sw.wait_event("user_status", 10, since=mark, user_id=uid(victim), status="online")
    m = send(api, sender, ch["id"], "the restarted daemon delivers")
    sv2.wait_event("new_message", 5, data_id=m["id"])
    missed.append(m)
    scene["missed"] = missed
    # nginx's upstream has both daemons again: sockets through it, wherever they land, get the next message
    via_nginx = [ws(victim) for _ in range(3)]
    m = send(api, sender, ch["id"], "through nginx")
    for s in via_nginx:
        s.wait_event("new_message", 5, data_id=m["id"])
    missed.append(m)


def test_resume_from_an_event_older_than_the_restarted_daemon(rt, ws, killed):
    """The new process's memory starts at its start: the missed events come from Redis (XRANGE), then its own."""
    scene = killed
    assert "missed" in scene, "the kill test did not get that far"
    s = ws(scene["reader"], port=rt.ports[VICTIM], last_event_id=scene["last_seen"])
    missed = scene["missed"]
    got = s.wait_count("new_message", len(missed), 10, channel_id=scene["channel"]["id"])
    assert [e["data"]["id"] for e in got] == [m["id"] for m in missed]
    assert [e["data"] for e in got] == missed
    keys = [event_key(e["event_id"]) for e in s.events() if "event_id" in e]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), keys


def test_an_id_trimmed_from_the_stream_gets_resync_required(api, rt, ws, killed, redis_cli):
    """The worker trims chat:events with XTRIM MINID past its window; the same trim here, up to an event the
    reader saw, makes that id too old for a daemon that no longer holds it in memory."""
    scene = killed
    assert "missed" in scene, "the kill test did not get that far"
    last = scene["last_seen"]
    ms, n = last.split("-")
    assert int(redis_cli("XTRIM", "chat:events", "MINID", f"{ms}-{int(n) + 1}")) >= 1
    s = ws(scene["reader"], port=rt.ports[VICTIM], last_event_id=last)
    e = s.wait_event("resync_required", 5)
    assert e["reason"] == "event_id_too_old", e
    assert s.types()[:2] == ["connection_established", "resync_required"], s.types()
    assert s.events("new_message") == [], "a resync replays nothing"
    # the socket is live
    m = send(api, scene["sender"], scene["channel"]["id"], "after the resync")
    s.wait_event("new_message", 5, data_id=m["id"])
