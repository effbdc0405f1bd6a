#!/usr/bin/python3
"""The cluster test's client (tests/cluster/run.sh starts it on the client host, chatc-client).

N users, all members of one channel (general: every user joins it at registration), half of them at home on
each application host. Each holds a WebSocket on its host and records every `new_message` it gets, keeps the
newest `event_id`, and when the socket dies reconnects (to the other host when its own does not answer) with
`last_event_id`; on `resync_required` it reads what it missed over REST. Senders post at a steady total rate with
an `Idempotency-Key`, retrying a failed send with the same key for up to 15 s (a 2xx is an acknowledgement);
readers fetch a history page at a steady rate (bounded retry). Then the faults, one after the other, each with
traffic before and after:

  1. kill -9 of the Redis primary; Sentinel promotes the replica; the old primary is started again (Sentinel
     makes it a replica: REDIS_WAIT_REPLICAS=1 needs one)
  2. the PostgreSQL replica stopped (pg_ctl stop -m fast): history reads must keep answering 200
  3. app-a's link down: its clients go to app-b and resume

At the end: every acknowledged message is in PostgreSQL, stored once; every socket saw each acknowledged message
exactly once; every sender read its own message back at once; and the history reads before fault 2 were served by
the replica (its index scans of messages grew). Per phase: the unavailability window and the counts. Exit 1 on any failed check.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid

import httpx
import websockets

API = "/api/v1"
PASSWORD = "cluster-pass-123"
SEND_DEADLINE = 15.0          # a send is retried (same key) this long before it counts as not acknowledged
READ_DEADLINE = 5.0           # a history read is retried this long
HTTP_TIMEOUT = 3.0            # one attempt: a host that does not answer within it is taken for gone
ON_TIME = 1.0                 # a message acknowledged and delivered to every socket within this is "normal service"


def now() -> float:
    return time.monotonic()


T0 = now()


def log(msg: str) -> None:
    print(f"[drive {now() - T0:6.1f}s] {msg}", flush=True)


class Msg:
    def __init__(self, key, user, content, phase):
        self.key, self.user, self.content, self.phase = key, user, content, phase
        self.t_first = now()
        self.t_ack = None
        self.id = None
        self.attempts = 0
        self.errors: list[str] = []


class User:
    def __init__(self, idx: int, home: int):
        self.idx, self.home = idx, home
        self.name = f"chatc{uuid.uuid4().hex[:8]}u{idx}"
        self.token = ""
        self.id = ""
        self.http_host = home            # where its sends and reads go (the other host when this one is gone)
        self.ws_host = home
        self.last_event_id: str | None = None
        self.seen: dict[str, float] = {}            # message id -> first receipt (any way)
        self.ws_count: dict[str, int] = {}          # message id -> receipts over the socket
        self.how: dict[str, str] = {}               # message id -> live | resumed | rest
        self.max_seq = 0
        self.connected = asyncio.Event()
        self.connections: list[tuple[float, int]] = []   # (when, host index) of every socket that opened
        self.resyncs = 0
        self.rest_overlap = 0


class Driver:
    def __init__(self, args):
        self.args = args
        self.apps = args.app
        self.clients = [httpx.AsyncClient(base_url=a, timeout=HTTP_TIMEOUT,
                                          limits=httpx.Limits(max_connections=400, max_keepalive_connections=64))
                        for a in self.apps]
        self.users: list[User] = []
        self.channel = ""
        self.msgs: list[Msg] = []
        self.reads: list[dict] = []
        self.own_reads: list[dict] = []  # read_own_write, one per acknowledged send
        self.phase = "setup"
        self.phases: list[dict] = []      # {name, start, fault_at, end, notes}
        self.stopping = False
        self.sending = False
        self.failures: list[str] = []
        self.tasks: list[asyncio.Task] = []
        self.counter = 0

    # ------------------------------------------------------------------ helpers

    def other(self, host: int) -> int:
        return (host + 1) % len(self.apps)

    def host_name(self, host: int) -> str:
        return "app-" + "ab"[host] if len(self.apps) == 2 else self.apps[host]

    def psql(self, host: str, sql: str, db: str = "chat") -> str:
        r = subprocess.run(["psql", "-qAtX", "-h", host, "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1"],
                           input=sql, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"psql {host}: {r.stderr.strip()}")
        return r.stdout.strip()

    def xact_commits(self, host: str) -> int | None:
        try:
            return int(self.psql(host, "SELECT xact_commit FROM pg_stat_database WHERE datname = 'chat'",
                                 db="postgres"))
        except Exception as e:  # the replica may be stopped
            log(f"xact_commit of {host}: {e}")
            return None

    def message_scans(self, host: str) -> int | None:
        """Index scans of the messages table on that server: a history page is one, the replica's freshness check
        (core/replica.cpp) none, so on the replica they count the pages it served."""
        try:
            return int(self.psql(host, "SELECT coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                                       "WHERE relname = 'messages'"))
        except Exception as e:
            log(f"messages scans of {host}: {e}")
            return None

    async def action(self, *what: str) -> None:
        log(f"fault action: {' '.join(what)}")
        p = await asyncio.create_subprocess_exec(os.environ["CHATC_RUN"], "_action", os.environ["CHATC_TMP"], *what,
                                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        rc = await p.wait()
        if rc != 0:
            raise RuntimeError(f"action {what} failed ({rc})")

    async def sentinel_master(self) -> str | None:
        for s in self.args.sentinels.split(","):
            h, p = s.rsplit(":", 1)
            try:
                proc = await asyncio.create_subprocess_exec(
                    "redis-cli", "-h", h, "-p", p, "--raw", "SENTINEL", "get-master-addr-by-name", "chat",
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                out, _ = await asyncio.wait_for(proc.communicate(), 2)
                lines = out.decode().split()
                if len(lines) >= 2:
                    return lines[0]
            except Exception:
                continue
        return None

    async def check_periodic(self) -> None:
        """The workers of both hosts share the periodic jobs: each (job, period) ran once (chat:sched:runs, run
        records "<name> <period> <consumer> <ms> ok|failed <duration>"). Around the Redis failover a period's claim
        may be lost with the old master and the period run again (docs/scale-out.md): those are counted apart."""
        master = await self.sentinel_master()
        if master is None:
            self.failures.append("no Sentinel named a master at the end")
            return
        proc = await asyncio.create_subprocess_exec(
            "redis-cli", "-h", master, "-a", os.environ["CHATC_REDIS_PASS"], "--no-auth-warning", "--raw",
            "LRANGE", "chat:sched:runs", "0", "-1", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), 5)
        runs: dict[tuple[str, str], list[int]] = {}
        consumers: set[str] = set()
        for line in out.decode().splitlines():
            f = line.split()
            if len(f) >= 5:
                runs.setdefault((f[0], f[1]), []).append(int(f[3]))
                consumers.add(f[2])
        fault_ms = getattr(self, "redis_fault_wall", 0) * 1000
        twice = [k for k, ms in runs.items() if len(ms) > 1 and not any(abs(m - fault_ms) < 15000 for m in ms)]
        around_failover = [k for k, ms in runs.items() if len(ms) > 1 and k not in twice]
        self.periodic_check = {"runs": sum(len(v) for v in runs.values()), "periods": len(runs),
                               "consumers": sorted(consumers), "twice_around_failover": len(around_failover)}
        log(f"periodic jobs: {self.periodic_check}")
        if not runs:
            self.failures.append("no periodic job ran")
        if twice:
            self.failures.append(f"periodic jobs ran twice in a period: {twice[:5]}")

    # ------------------------------------------------------------------ set-up

    async def setup(self) -> None:
        n = self.args.users
        for i in range(n):
            u = User(i, i % len(self.apps))
            body = {"email": f"{u.name}@example.com", "username": u.name, "password": PASSWORD}
            for _ in range(20):
                try:
                    r = await self.clients[u.home].post(API + "/auth/register", json=body, timeout=30)
                except httpx.TransportError as e:
                    log(f"register {u.name}: {e!r}, again")
                    await asyncio.sleep(0.5)
                    continue
                if r.status_code == 429:
                    await asyncio.sleep(1)
                    continue
                break
            assert r.status_code == 201, f"register {u.name} on {self.apps[u.home]}: {r.status_code} {r.text}"
            d = r.json()
            u.token, u.id = d["access_token"], d["user"]["id"]
            self.users.append(u)
        r = await self.clients[1 % len(self.apps)].get(API + "/channels/my", headers=self.auth(self.users[-1]))
        assert r.status_code == 200, r.text
        general = [c for c in r.json() if c["name"] == "general"]
        assert general, f"the last user is not in general: {r.text}"
        self.channel = general[0]["id"]
        r = await self.clients[0].get(API + f"/channels/{self.channel}", headers=self.auth(self.users[0]))
        assert r.status_code == 200, r.text
        members = {m.get("id") or m.get("user_id") for m in r.json().get("members", [])}
        missing = [u.name for u in self.users if u.id not in members]
        assert not missing, f"not members of general: {missing}"
        log(f"{n} users registered (homes: {[u.home for u in self.users]}), channel general {self.channel}")

    def auth(self, u: User) -> dict:
        return {"Authorization": f"Bearer {u.token}"}

    # ------------------------------------------------------------------ sockets

    def record(self, u: User, m: dict, how: str, over_ws: bool) -> None:
        if m.get("channel_id") != self.channel and m.get("conversation_id") != self.channel:
            return
        mid = m["id"]
        u.max_seq = max(u.max_seq, int(m.get("seq") or 0))
        if over_ws:
            u.ws_count[mid] = u.ws_count.get(mid, 0) + 1
            if u.how.get(mid) == "rest":
                u.rest_overlap += 1
        if mid not in u.seen:
            u.seen[mid] = now()
            u.how[mid] = how

    async def resync(self, u: User) -> None:
        """What a client does on resync_required: the history after the newest message it has, page by page."""
        u.resyncs += 1
        after = u.max_seq
        for _ in range(1000):
            page = None
            deadline = now() + READ_DEADLINE * 2
            while page is None and now() < deadline:
                try:
                    r = await self.clients[u.http_host].get(API + f"/messages/channel/{self.channel}",
                                                            params={"after_seq": after, "limit": 100},
                                                            headers=self.auth(u))
                    if r.status_code == 200:
                        page = r.json()
                        break
                except httpx.TransportError:
                    u.http_host = self.other(u.http_host)
                await asyncio.sleep(0.3)
            if not page:
                return
            for m in page:
                self.record(u, m, "rest", over_ws=False)
                after = max(after, int(m["seq"]))
            if len(page) < 100:
                return

    async def ws_loop(self, u: User) -> None:
        failed_here = 0
        while not self.stopping:
            base = self.apps[u.ws_host].replace("http://", "ws://")
            url = f"{base}/ws?token={u.token}"
            if u.last_event_id:
                url += f"&last_event_id={u.last_event_id}"
            resumed = u.last_event_id is not None
            opened = False
            try:
                async with websockets.connect(url, open_timeout=1.5, ping_interval=1, ping_timeout=2, close_timeout=1,
                                              max_size=None) as ws:
                    opened = True
                    failed_here = 0
                    u.connections.append((now(), u.ws_host))
                    if len(u.connections) > 1:
                        log(f"{u.name} reconnected to {self.apps[u.ws_host]} (last_event_id {u.last_event_id})")
                    async for raw in ws:
                        if isinstance(raw, bytes):
                            continue
                        if raw == "pong":
                            continue
                        ev = json.loads(raw)
                        t = ev.get("type")
                        if ev.get("event_id"):
                            u.last_event_id = ev["event_id"]
                        if t == "connection_established":
                            if u.last_event_id is None:
                                u.last_event_id = ev.get("last_event_id") or "0"
                            u.connected.set()
                        elif t == "resync_required":
                            log(f"{u.name}: resync_required ({ev.get('reason')}): reading the history over REST")
                            await self.resync(u)
                        elif t == "new_message":
                            self.record(u, ev.get("data") or {}, "resumed" if resumed else "live", over_ws=True)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
                if not self.stopping:
                    log(f"{u.name} socket on {self.apps[u.ws_host]} {'closed' if opened else 'failed'}: {e!r}")
            if self.stopping:
                return
            if not opened:
                failed_here += 1
                # its host does not answer: the other one (and back, should that fail too)
                u.ws_host = self.other(u.ws_host)
            await asyncio.sleep(0.2)

    # ------------------------------------------------------------------ traffic

    async def send(self, u: User, m: Msg) -> None:
        body = {"channel_id": self.channel, "content": m.content}
        headers = {**self.auth(u), "Idempotency-Key": m.key}
        while now() - m.t_first < SEND_DEADLINE:
            m.attempts += 1
            host = u.http_host
            try:
                r = await self.clients[host].post(API + "/messages/", json=body, headers=headers)
                if r.status_code in (200, 201):
                    m.t_ack = now()
                    m.id = r.json()["id"]
                    await self.read_own_write(u, m, r.json()["seq"])
                    return
                m.errors.append(str(r.status_code))
                if r.status_code in (400, 401, 403, 404, 409, 422):
                    return      # a refusal: retrying would not change it
            except httpx.TransportError as e:
                m.errors.append(type(e).__name__)
                if isinstance(e, httpx.PoolTimeout):
                    continue
                # no answer from this host: the other one, for this user's next request too (not a toggle: many
                # sends of the user fail at once)
                u.http_host = self.other(host)
            await asyncio.sleep(min(1.0, 0.1 * 2 ** min(m.attempts, 4)))

    async def read_own_write(self, u: User, m: Msg, seq: int) -> None:
        """Read-your-writes: right after the acknowledgement, the sender's history page from its seq on (served by
        the replica when it has replayed the sender's commit, by the primary otherwise) must hold the message."""
        rec = {"phase": self.phase, "id": m.id, "verified": False, "missed": False}
        self.own_reads.append(rec)
        t0 = now()
        while now() - t0 < READ_DEADLINE:
            host = u.http_host
            try:
                r = await self.clients[host].get(API + f"/messages/channel/{self.channel}",
                                                 params={"after_seq": seq - 1, "limit": 1}, headers=self.auth(u))
                if r.status_code == 200:
                    rec["verified"] = True
                    rec["missed"] = [x["id"] for x in r.json()] != [m.id]
                    return
            except httpx.TransportError:
                u.http_host = self.other(host)
            await asyncio.sleep(0.2)

    async def read(self, u: User) -> None:
        rec = {"t": now(), "phase": self.phase, "ok": False, "attempts": 0, "errors": [], "user": u.idx}
        self.reads.append(rec)
        while now() - rec["t"] < READ_DEADLINE:
            rec["attempts"] += 1
            host = u.http_host
            try:
                r = await self.clients[host].get(API + f"/messages/channel/{self.channel}",
                                                        params={"limit": 20}, headers=self.auth(u))
                if r.status_code == 200:
                    rec["ok"] = True
                    rec["latency"] = now() - rec["t"]
                    return
                rec["errors"].append(f"{self.host_name(host)} {r.status_code} at +{now() - rec['t']:.1f} s")
            except httpx.TransportError as e:
                rec["errors"].append(f"{self.host_name(host)} {type(e).__name__} at +{now() - rec['t']:.1f} s")
                u.http_host = self.other(host)
            await asyncio.sleep(0.2)

    async def ticker(self, rate: float, fire) -> None:
        period = 1.0 / rate
        nxt = now()
        while self.sending:
            fire()
            nxt += period
            await asyncio.sleep(max(0.0, nxt - now()))

    def fire_send(self) -> None:
        u = self.users[self.counter % len(self.users)]
        self.counter += 1
        key = str(uuid.uuid4())
        m = Msg(key, u, f"m{self.counter} from {u.name} ({self.phase}) {key[:8]}", self.phase)
        self.msgs.append(m)
        self.tasks.append(asyncio.create_task(self.send(u, m)))

    def fire_read(self) -> None:
        self.tasks.append(asyncio.create_task(self.read(random.choice(self.users))))

    # ------------------------------------------------------------------ the run

    def begin(self, name: str) -> dict:
        if self.phases:
            self.phases[-1]["end"] = now()
        ph = {"name": name, "start": now(), "fault_at": None, "end": None, "notes": []}
        self.phases.append(ph)
        self.phase = name
        return ph

    async def run(self) -> int:
        a = self.args
        await self.setup()
        ws_tasks = [asyncio.create_task(self.ws_loop(u)) for u in self.users]
        try:
            await asyncio.wait_for(asyncio.gather(*(u.connected.wait() for u in self.users)), 15)
        except asyncio.TimeoutError:
            self.failures.append("not every socket connected within 15 s")
            return self.finish(ws_tasks)
        log("every socket connected")

        self.sending = True
        self.begin("baseline")
        primary0, replica0 = self.xact_commits(a.primary), self.xact_commits(a.replica)
        scans0 = self.message_scans(a.replica)
        reads0 = 0
        tickers = [asyncio.create_task(self.ticker(a.rate, self.fire_send)),
                   asyncio.create_task(self.ticker(a.read_rate, self.fire_read))]
        await asyncio.sleep(a.before)

        # ---- fault 1: the Redis primary killed
        ph = self.begin("redis-primary-killed")
        ph["fault_at"] = now()
        self.redis_fault_wall = time.time()
        await self.action("redis-kill")
        promoted = None
        while now() - ph["fault_at"] < 30:
            master = await self.sentinel_master()
            if master and master != a.old_redis:
                promoted = now()
                ph["notes"].append(f"Sentinel promoted {master} after {promoted - ph['fault_at']:.1f} s")
                break
            await asyncio.sleep(0.2)
        if promoted is None:
            self.failures.append("Sentinel promoted no replica within 30 s")
        elif a.no_redis_rejoin:
            ph["notes"].append("the old primary stays down: the new master has no replica")
        else:
            await self.action("redis-restart", master)
            ph["notes"].append("the old primary started again (Sentinel makes it a replica)")
        await asyncio.sleep(a.after)

        # ---- the replica's share of the reads so far (before fault 2)
        await asyncio.sleep(1.2)   # PostgreSQL's backends flush their statistics at most once a second
        primary1, replica1 = self.xact_commits(a.primary), self.xact_commits(a.replica)
        scans1 = self.message_scans(a.replica)
        reads_ok = sum(1 for r in self.reads if r["ok"])
        self.replica_check = {"reads_ok": reads_ok - reads0,
                              "replica_pages": None if None in (scans0, scans1) else scans1 - scans0,
                              "replica_xact_delta": None if None in (replica0, replica1) else replica1 - replica0,
                              "primary_xact_delta": None if None in (primary0, primary1) else primary1 - primary0}
        rc = self.replica_check
        log(f"before fault 2: {rc['reads_ok']} history reads answered (and the senders' own); the replica served "
            f"{rc['replica_pages']} pages; xact_commit of chat grew by {rc['replica_xact_delta']} on the replica, "
            f"{rc['primary_xact_delta']} on the primary")
        # The readers' pages (not the senders' own, which the replica, 50 ms behind, cannot serve): most of them
        # come from users whose last send is older than that (a user sends every 300 ms).
        if rc["replica_pages"] is None or rc["replica_pages"] < rc["reads_ok"] // 3:
            self.failures.append(f"the history reads were not served by the replica: {rc['reads_ok']} reads, "
                                 f"it served {rc['replica_pages']} pages")

        # ---- fault 2: the PostgreSQL replica stopped
        ph = self.begin("pg-replica-stopped")
        ph["fault_at"] = now()
        await self.action("pg-replica-stop")
        await asyncio.sleep(a.after)

        # ---- fault 3: app-a's link down
        ph = self.begin("app-a-link-down")
        ph["fault_at"] = now()
        await self.action("link-down", "app-a")
        await asyncio.sleep(a.after + 5)

        # ---- the end: no new sends; those in flight finish; the sockets get what is left
        self.sending = False
        self.phases[-1]["end"] = now()
        for t in tickers:
            await t
        await asyncio.gather(*self.tasks, return_exceptions=True)
        acked = [m for m in self.msgs if m.id]
        deadline = now() + 20
        while now() < deadline and not all(m.id in u.seen for m in acked for u in self.users):
            await asyncio.sleep(0.2)
        await self.check_periodic()
        return self.finish(ws_tasks)

    # ------------------------------------------------------------------ the checks

    def finish(self, ws_tasks) -> int:
        self.stopping = True
        for t in ws_tasks:
            t.cancel()
        acked = [m for m in self.msgs if m.id]
        stored: set[str] = set()
        stored_twice: list[str] = []
        if acked:
            try:
                ids = ",".join(f"'{m.id}'" for m in acked)
                stored = set(self.psql(self.args.primary,
                                       f"SELECT id::text FROM messages WHERE id IN ({ids})").split())
                keys = [m.key[:8] for m in self.msgs]
                rows = self.psql(self.args.primary,
                                 "SELECT substring(content from '[0-9a-f]{8}$'), count(*) FROM messages "
                                 f"WHERE conversation_id = '{self.channel}' GROUP BY 1 HAVING count(*) > 1")
                stored_twice = [r for r in rows.split("\n") if r and r.split("|")[0] in keys]
            except Exception as e:
                self.failures.append(f"reading the messages from the primary failed: {e}")
        if stored_twice:
            self.failures.append(f"sends stored more than once (key prefix|count): {stored_twice[:10]}")
        def done_at(m):
            if not m.id or any(m.id not in u.seen for u in self.users):
                return None
            return max([m.t_ack] + [u.seen[m.id] for u in self.users])
        result = {"phases": [], "users": [], "replica_check": getattr(self, "replica_check", None),
                  "periodic": getattr(self, "periodic_check", None)}
        print()
        print(f"{'phase':<22} {'window s':>8} {'ack-win s':>9} {'sent':>5} {'acked':>5} {'deliv':>5} {'lost':>4} "
              f"{'dup':>4} {'unack':>5} {'reads':>5} {'rfail':>5} {'rmax s':>6}  notes")
        for ph in self.phases:
            ms = [m for m in self.msgs if m.phase == ph["name"]]
            ph_acked = [m for m in ms if m.id]
            delivered = [m for m in ph_acked if all(m.id in u.seen for u in self.users)]
            not_stored = [m for m in ph_acked if m.id not in stored]
            lost = {m.key for m in ph_acked if m.id not in stored or m not in delivered}
            dup = [m for m in ph_acked if any(u.ws_count.get(m.id, 0) > 1 for u in self.users)]
            unacked = [m for m in ms if not m.id]
            reads = [r for r in self.reads if r["phase"] == ph["name"]]
            rfail = [r for r in reads if not r["ok"]]

            done = done_at

            def window(completion) -> float | None:
                """From the fault until the last late send (not through within ON_TIME) got through."""
                if ph["fault_at"] is None:
                    return 0.0
                last = ph["fault_at"]
                # the last sends of a phase meet the next fault: they tell nothing about this one
                for m in (m for m in ms if m.t_first <= ph["end"] - 2 * ON_TIME):
                    c = completion(m)
                    if c is None:
                        return None
                    if c - m.t_first > ON_TIME:
                        last = max(last, c)
                return last - ph["fault_at"]

            w = window(done)
            wa = window(lambda m: m.t_ack)
            lat = sorted((done(m) or float("inf")) - m.t_first for m in ms)
            pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0.0
            row = {"name": ph["name"], "window_s": w, "ack_window_s": wa, "sent": len(ms), "acked": len(ph_acked),
                   "delivered": len(delivered), "lost": len(lost), "not_in_postgres": len(not_stored),
                   "duplicated": len(dup), "unacked": len(unacked), "reads": len(reads), "reads_failed": len(rfail),
                   "max_read_latency_s": max((r.get("latency", 0) for r in reads), default=0),
                   "max_send_attempts": max((m.attempts for m in ms), default=0), "notes": ph["notes"],
                   "latency_p50_s": pct(0.5), "latency_p90_s": pct(0.9), "latency_max_s": pct(1.0),
                   "unacked_errors": [m.errors[-5:] for m in unacked][:5]}
            result["phases"].append(row)
            fmt = lambda v: "never" if v is None else f"{v:.2f}"
            ph["notes"].append(f"send-to-delivered p50 {pct(0.5):.2f} p90 {pct(0.9):.2f} max {pct(1.0):.2f} s")
            print(f"{ph['name']:<22} {fmt(w):>8} {fmt(wa):>9} {len(ms):>5} {len(ph_acked):>5} {len(delivered):>5} "
                  f"{len(lost):>4} {len(dup):>4} {len(unacked):>5} {len(reads):>5} {len(rfail):>5} "
                  f"{row['max_read_latency_s']:>6.2f}  "
                  f"{'; '.join(ph['notes'])}")
            if lost:
                self.failures.append(f"{ph['name']}: {len(lost)} acknowledged messages lost "
                                     f"({len(not_stored)} not in PostgreSQL, the others not delivered to every socket)")
            if dup:
                self.failures.append(f"{ph['name']}: {len(dup)} messages delivered twice to a socket")
            if unacked:
                self.failures.append(f"{ph['name']}: {len(unacked)} sends not acknowledged within {SEND_DEADLINE:.0f} s "
                                     f"(last errors: {row['unacked_errors']})")
            if rfail:
                self.failures.append(f"{ph['name']}: {len(rfail)} history reads failed within {READ_DEADLINE:.0f} s "
                                     f"(errors: {[r['errors'][-3:] for r in rfail][:5]})")
            if ph["fault_at"] is not None and w is None:
                self.failures.append(f"{ph['name']}: service never came back to normal (every message acknowledged "
                                     f"and delivered within {ON_TIME} s)")
        own_missed = [r["id"] for r in self.own_reads if r["missed"]]
        own_verified = sum(1 for r in self.own_reads if r["verified"])
        result["read_your_writes"] = {"verified": own_verified, "missed": len(own_missed)}
        print(f"  read-your-writes: {own_verified} sends read back by their sender at once, {len(own_missed)} missed")
        if own_missed:
            self.failures.append(f"{len(own_missed)} senders did not see their own acknowledged message at once: "
                                 f"{own_missed[:5]}")
        if own_verified < len(acked) // 2:
            self.failures.append(f"only {own_verified} of {len(acked)} acknowledged sends were read back by their sender")
        for u in self.users:
            miss = [m.id for m in acked if m.id not in u.seen]
            hows = {h: list(u.how.values()).count(h) for h in ("live", "resumed", "rest")}
            result["users"].append({"name": u.name, "home": self.apps[u.home], "connections": len(u.connections),
                                    "resyncs": u.resyncs, "missing": len(miss), "received": hows,
                                    "rest_overlap": u.rest_overlap})
            print(f"  {u.name} (home {self.apps[u.home]}): sockets opened {len(u.connections)}, resyncs {u.resyncs}, "
                  f"got {hows}, missing {len(miss)}")
        result["failures"] = self.failures
        result["messages"] = [{"phase": m.phase, "t": round(m.t_first - T0, 3), "user": m.user.idx,
                               "ack": None if m.t_ack is None else round(m.t_ack - m.t_first, 3),
                               "done": None if done_at(m) is None else round(done_at(m) - m.t_first, 3),
                               "attempts": m.attempts, "errors": m.errors} for m in self.msgs]
        result["phase_times"] = [{k: (round(v - T0, 3) if isinstance(v, float) else v) for k, v in ph.items()}
                                 for ph in self.phases]
        with open(self.args.result, "w") as f:
            json.dump(result, f, indent=1)
        print()
        if self.failures:
            for f_ in self.failures:
                print(f"FAILED: {f_}")
            return 1
        print("every check passed")
        return 0


async def amain(args) -> int:
    d = Driver(args)
    try:
        return await d.run()
    finally:
        for c in d.clients:
            await c.aclose()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--app", action="append", required=True, help="an application host's base URL (twice)")
    p.add_argument("--primary", required=True)
    p.add_argument("--replica", required=True)
    p.add_argument("--sentinels", required=True)
    p.add_argument("--old-redis", required=True, help="the Redis primary's address before fault 1")
    p.add_argument("--result", required=True)
    p.add_argument("--no-redis-rejoin", action="store_true",
                   help="leave the killed Redis primary down (the new master keeps no replica: REDIS_WAIT_REPLICAS=1 "
                        "is never met)")
    p.add_argument("--users", type=int, default=6)
    p.add_argument("--rate", type=float, default=20.0, help="sends per second, all users together")
    p.add_argument("--read-rate", type=float, default=5.0)
    p.add_argument("--before", type=float, default=8.0, help="seconds of traffic before the first fault")
    p.add_argument("--after", type=float, default=8.0, help="seconds of traffic after each fault")
    args = p.parse_args()
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
