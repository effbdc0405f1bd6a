"""Chaos: nothing acknowledged is lost while the programs of the stack die (README.md#operations: restarts,
durability).

20 senders post ~5 messages/s each with an Idempotency-Key, retrying a failed send with the same key until it is
acknowledged; 50 WebSocket clients through nginx receive the messages of their channels and, whenever their socket
breaks, reconnect with `last_event_id`. Meanwhile the test kill -9s a handler, a realtime daemon, the worker and
Redis, and crashes PostgreSQL twice (`pg_ctl -m immediate`, then kill -9 of the postmaster); the stack's
supervisor starts each again.

Then: every acknowledged message is in PostgreSQL with the seq it was acknowledged with; seq has no gap per
conversation; no retry made a second message; every client received every message of its channels exactly once
(live or replayed on resume, never resync_required); every killed program came back. The unavailability window
of each fault is printed: how long clients saw it (failed sends, sockets without a daemon) and how long the
program took to come back.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
import uuid

import httpx
import websockets

from conftest import it

SENDERS = 20
RECEIVERS = 50
CHANNELS = 4
SEND_INTERVAL = 0.17     # with the request itself: ~5 messages/s per sender
FAULT_GAP = 14           # seconds of steady traffic around each fault
DRAIN_TIMEOUT = 40
V = "/api/v1"


def H(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def register(client: httpx.Client, prefix: str) -> dict:
    name = prefix + uuid.uuid4().hex[:10]
    r = client.post(V + "/auth/register", json={"email": f"{name}@example.com", "username": name,
                                                "password": "Correct-horse-9"})
    assert r.status_code == 201, r.text
    return r.json()


class Timeline:
    """What clients saw, with monotonic timestamps, for the windows of the faults."""

    def __init__(self):
        self.lock = threading.Lock()
        self.send_failures: list[float] = []   # attempts that did not get a 2xx
        self.ws_down: list[tuple[float, float]] = []  # (socket lost, socket back) per reconnect

    def failed_send(self, t: float) -> None:
        with self.lock:
            self.send_failures.append(t)

    def reconnected(self, lost: float, back: float) -> None:
        with self.lock:
            self.ws_down.append((lost, back))


class Sender(threading.Thread):
    def __init__(self, base_url, user, channel_id, timeline, stop):
        super().__init__(daemon=True)
        self.base_url, self.user, self.cid, self.timeline, self.stop = base_url, user, channel_id, timeline, stop
        self.acked: list[dict] = []      # the 201/200 answers
        self.unacked: list[str] = []     # keys given up at the end (never counted as lost)
        self.attempts = 0
        self.errors: list[str] = []      # answers no fault explains (a 4xx)

    def run(self):
        with httpx.Client(base_url=self.base_url, timeout=10) as c:
            n = 0
            while not self.stop.is_set():
                n += 1
                key = uuid.uuid4().hex
                body = {"channel_id": self.cid, "content": f"{self.user['user']['username']} #{n} {key}"}
                delay = 0.1
                while True:
                    self.attempts += 1
                    try:
                        r = c.post(V + "/messages/", json=body, headers={**H(self.user["access_token"]),
                                                                         "Idempotency-Key": key})
                        if r.status_code in (200, 201):
                            self.acked.append(r.json())
                            break
                        if r.status_code < 500 and r.status_code != 429:
                            self.errors.append(f"send refused: {r.status_code} {r.text[:200]}")
                    except httpx.HTTPError:
                        pass
                    self.timeline.failed_send(time.monotonic())
                    if self.stop.is_set() and delay > 5:
                        self.unacked.append(key)
                        break
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
                time.sleep(SEND_INTERVAL * random.uniform(0.5, 1.5))


class Receivers:
    """RECEIVERS WebSocket clients on one asyncio loop; each resumes with the last event id it got."""

    def __init__(self, ws_url, users, memberships, timeline):
        self.ws_url, self.users, self.memberships, self.timeline = ws_url, users, memberships, timeline
        self.got: list[dict[str, int]] = [dict() for _ in users]  # message id -> times received
        self.resyncs = [0] * len(users)
        self.reconnects = [0] * len(users)
        self.unexpected: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.stopping = False
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def client(self, i: int):
        token = self.users[i]["access_token"]
        last = None
        lost_at = None
        while not self.stopping:
            url = f"{self.ws_url}?token={token}" + (f"&last_event_id={last}" if last else "")
            try:
                async with websockets.connect(url, open_timeout=10, close_timeout=2, ping_interval=None,
                                              max_size=2 ** 22) as ws:
                    async for raw in ws:
                        e = json.loads(raw)
                        if e["type"] == "connection_established":
                            if last is None:
                                last = e["last_event_id"]
                            if lost_at is not None:
                                self.timeline.reconnected(lost_at, time.monotonic())
                                lost_at = None
                        elif e["type"] == "resync_required":
                            self.resyncs[i] += 1
                        if "event_id" in e:
                            last = e["event_id"]
                        if e["type"] == "new_message" and e["channel_id"] in self.memberships[i]:
                            mid = e["data"]["id"]
                            self.got[i][mid] = self.got[i].get(mid, 0) + 1
            except Exception as exc:  # noqa: BLE001 - a broken socket, a refused upgrade: reconnect
                if isinstance(exc, (KeyError, AssertionError)):
                    self.unexpected.append(repr(exc))
            if self.stopping:
                return
            if lost_at is None:
                lost_at = time.monotonic()
            self.reconnects[i] += 1
            await asyncio.sleep(random.uniform(0.2, 0.6))

    def start(self):
        self.thread.start()
        self.tasks = [asyncio.run_coroutine_threadsafe(self.client(i), self.loop) for i in range(len(self.users))]

    def stop(self):
        self.stopping = True

        async def cancel_all():  # every client and what websockets runs for it, awaited to the end
            for _ in range(3):
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                if not tasks:
                    return
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_nothing_acknowledged_is_lost_while_everything_dies(chaos_stack):
    stack = chaos_stack
    timeline = Timeline()
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        owner = register(c, "co_")
        channels = [c.post(V + "/channels/", json={"name": f"chaos-{i}-{uuid.uuid4().hex[:6]}"},
                           headers=H(owner["access_token"])).json()["id"] for i in range(CHANNELS)]
        senders_users = [register(c, "cs_") for _ in range(SENDERS)]
        receiver_users = [register(c, "cr_") for _ in range(RECEIVERS)]
        memberships = []
        for i, u in enumerate(senders_users):
            assert c.post(V + "/channels/join", json={"channel_id": channels[i % CHANNELS]},
                          headers=H(u["access_token"])).status_code == 200
        for i, u in enumerate(receiver_users):
            mine = {channels[i % CHANNELS], channels[(i + 1) % CHANNELS]}
            for cid in mine:
                assert c.post(V + "/channels/join", json={"channel_id": cid},
                              headers=H(u["access_token"])).status_code == 200
            memberships.append(mine)

    receivers = Receivers(f"ws://127.0.0.1:{stack.port}/ws", receiver_users, memberships, timeline)
    receivers.start()
    time.sleep(3)  # every client connected
    stop = threading.Event()
    senders = [Sender(stack.base_url, u, channels[i % CHANNELS], timeline, stop) for i, u in enumerate(senders_users)]
    for s in senders:
        s.start()

    faults = []

    def kill(program):
        pid = it.program_pid(stack, program)
        os.kill(pid, signal.SIGKILL)
        return lambda: it.wait_restarted(stack, program, pid, timeout=60)

    def crash_postgres(mode):
        # restart_postgres crashes it and waits until the supervisor has it accepting connections again
        return lambda: it.restart_postgres(stack, mode=mode)

    plan = [
        ("kill -9 of a handler (chat-messages-1)", lambda: kill("chat-messages:chat-messages-1")),
        ("kill -9 of a realtime daemon (chat-realtime-1)", lambda: kill("chat-realtime-1")),
        ("kill -9 of the worker", lambda: kill("chat-worker:chat-worker-1")),
        ("kill -9 of Redis", lambda: kill("redis")),
        ("PostgreSQL crash (pg_ctl -m immediate)", lambda: crash_postgres("immediate")),
        ("PostgreSQL crash (kill -9 of the postmaster)", lambda: crash_postgres("kill")),
    ]
    for name, start in plan:
        time.sleep(FAULT_GAP)
        t = time.monotonic()
        wait = start()
        wait()
        faults.append({"fault": name, "at": t, "back_s": time.monotonic() - t})
    time.sleep(FAULT_GAP)
    stop.set()
    for s in senders:
        s.join(60)
    t_end = time.monotonic()
    errors = [e for s in senders for e in s.errors]
    assert not errors, errors[:3]

    acked = [m for s in senders for m in s.acked]
    by_channel = {cid: {m["id"] for m in acked if m["channel_id"] == cid} for cid in channels}

    # the clients catch up: every acknowledged message of their channels, exactly once
    deadline = time.monotonic() + DRAIN_TIMEOUT
    def missing_of(i):
        want = set().union(*(by_channel[cid] for cid in memberships[i]))
        return want - set(receivers.got[i])
    while time.monotonic() < deadline and any(missing_of(i) for i in range(RECEIVERS)):
        time.sleep(0.5)
    receivers.stop()

    # ---- the report
    print(f"\nchaos: {sum(s.attempts for s in senders)} send attempts, {len(acked)} acknowledged, "
          f"{sum(len(s.unacked) for s in senders)} given up at the end, over {t_end - faults[0]['at'] + FAULT_GAP:.0f} s")
    for i, f in enumerate(faults):
        nxt = faults[i + 1]["at"] if i + 1 < len(faults) else t_end
        fails = [t for t in timeline.send_failures if f["at"] <= t < nxt]
        downs = [(a, b) for a, b in timeline.ws_down if f["at"] - 1 <= a < nxt]
        send_window = (max(fails) - f["at"]) if fails else 0.0
        ws_window = max((b - a for a, b in downs), default=0.0)
        f.update(failed_sends=len(fails), send_window_s=send_window, reconnects=len(downs), ws_window_s=ws_window)
        print(f"  {f['fault']}: back after {f['back_s']:.1f} s; sends failing for {send_window:.1f} s "
              f"({len(fails)} failed attempts, all retried); {len(downs)} sockets reconnected, the longest "
              f"without a socket {ws_window:.1f} s")

    # ---- what must hold
    rows = it.psql(stack.database_url, "SELECT id, conversation_id, seq, content FROM messages WHERE "
                   "conversation_id = ANY(string_to_array(:'p1', ',')::uuid[])", ",".join(channels))
    stored = {r[0]: (r[1], int(r[2]), r[3]) for r in rows}
    lost = [m for m in acked if m["id"] not in stored]
    deliveries = sum(sum(g.values()) for g in receivers.got)
    twice = sum(n - 1 for g in receivers.got for n in g.values() if n > 1)
    print(f"  result: {len(acked)} acknowledged, {len(lost)} lost, {len(stored) - len(acked)} stored but not "
          f"acknowledged, {deliveries} deliveries to {RECEIVERS} clients, {twice} duplicates, "
          f"{sum(receivers.resyncs)} resync_required, {sum(receivers.reconnects)} reconnects")
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged messages are not in PostgreSQL: {lost[:3]}"
    moved = [m for m in acked if stored[m["id"]][1] != m["seq"]]
    assert not moved, f"{len(moved)} acknowledged seqs now belong to other messages: {moved[:3]}"
    for cid in channels:
        seqs = sorted(s for conv, s, _ in stored.values() if conv == cid)
        assert seqs == list(range(1, len(seqs) + 1)), f"seq of {cid} has gaps or duplicates"
    contents = [content for _, _, content in stored.values()]
    assert len(contents) == len(set(contents)), "a retried send made a second message"
    assert len({m["id"] for m in acked}) == len(acked) == len(stored), (len(acked), len(stored))
    missing = {i: missing_of(i) for i in range(RECEIVERS) if missing_of(i)}
    assert not missing, f"{len(missing)} clients miss messages, e.g. client {next(iter(missing))}: " \
                        f"{len(next(iter(missing.values())))} missing"
    dups = {i: [m for m, n in receivers.got[i].items() if n > 1] for i in range(RECEIVERS)}
    dups = {i: d for i, d in dups.items() if d}
    assert not dups, f"{len(dups)} clients got a message twice, e.g. {next(iter(dups.items()))}"
    assert sum(receivers.resyncs) == 0, f"{sum(receivers.resyncs)} resync_required: the replay lost its window"
    assert not receivers.unexpected, receivers.unexpected[:3]
    status = it.ctl(stack, "status", check=False).stdout
    assert all("RUNNING" in line for line in status.splitlines() if line.strip()), status
    assert sum(receivers.reconnects) > 0, "no socket ever broke: the realtime daemon was not killed"
