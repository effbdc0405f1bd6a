"""Clients that stop reading cost a bounded amount of memory end to end, are closed with 1013 within seconds, and
do not slow the others (docs/api.md#liveness-and-close-codes: past 4 MiB of unsent output a socket is closed with 1013).

200 logged-in sockets through nginx that never read while messages flow to their channel. Where their bytes can
wait, and what bounds each place: nginx's send buffer to the client (`listen ... sndbuf=32k`, doubled by the
kernel), nginx's one 4 KiB proxy buffer, the unix socket between nginx and the daemon (the daemon's SO_SNDBUF of
64 KiB, doubled; AF_UNIX charges queued bytes to the sender only), and the daemon's own queue: shared frames,
closed at 4 MiB or when the kernel has taken none of it for 10 s. The clients' own receive buffers are set to
4 KiB, as the memory of a remote client is not this host's; it is counted anyway, since they run here.

Measured: the host's TCP memory (/proc/net/sockstat) plus the memory of the daemons' unix sockets (`ss -xm`),
at its peak, per stalled socket, must stay under 256 KiB; every stalled socket is closed by its daemon (1013)
within 20 s; a healthy client's send-to-receive p99 with the 200 stalled sockets stays within 2x its value with
the same message flow and none stalled."""
from __future__ import annotations

import re
import statistics
import subprocess
import threading
import time

import pytest

from chat_helpers import api_fixture, create_channel, join, register_many, send  # noqa: F401 (api_fixture)
from conftest import auth_headers, http_client
from ws_helpers import RawWs, rt, ws  # noqa: F401 (fixtures rt, ws)

STALLED = 200
BOUND_PER_SOCKET = 256 * 1024
DROPS = "chat_realtime_backpressure_drops_total"
CONTENT = "y" * 3900


def tcp_mem() -> int:
    """Bytes of TCP socket memory of the whole host (/proc/net/sockstat counts pages)."""
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            f = line.split()
            return int(f[f.index("mem") + 1]) * 4096
    raise AssertionError("no TCP line in /proc/net/sockstat")


def unix_mem(run_dir) -> int:
    """Bytes queued on the unix sockets between nginx and the realtime daemons (sender-charged wmem + rmem)."""
    out = subprocess.run(["ss", "-xmnH"], capture_output=True, text=True, timeout=30).stdout
    total = 0
    for line in out.splitlines():  # the daemon's end of each connection names the socket's path
        m = re.search(r"skmem:\(r(\d+),rb\d+,t(\d+)", line)
        if m and f"{run_dir}/sock/realtime-" in line:
            total += int(m.group(1)) + int(m.group(2))
    return total


def total_drops(rt) -> int:
    return int(sum(rt.metrics(i).get(DROPS, 0) for i in range(len(rt.ports))))


class Flood:
    """Senders posting 3.9 KB messages to one channel as fast as they can, and a probe measuring how long one
    message takes from its POST to a healthy client's socket."""

    def __init__(self, base_url, sender, channel_id, healthy, threads=3):
        self.base_url, self.sender, self.cid, self.healthy, self.threads = base_url, sender, channel_id, healthy, threads
        self.stop = threading.Event()
        self.sent = 0

    def _pump(self):
        with http_client(self.base_url, timeout=30) as c:
            while not self.stop.is_set():
                r = c.post("/api/v1/messages/", json={"channel_id": self.cid, "content": CONTENT},
                           headers=auth_headers(self.sender.access))
                assert r.status_code == 201, r.text
                self.sent += 1

    def run(self, seconds: float, probes: int) -> list[float]:
        pumps = [threading.Thread(target=self._pump, daemon=True) for _ in range(self.threads)]
        for p in pumps:
            p.start()
        latencies = []
        try:
            with http_client(self.base_url, timeout=30) as c:
                t_end = time.monotonic() + seconds
                for i in range(probes):
                    mark = self.healthy.mark()
                    t0 = time.monotonic()
                    r = c.post("/api/v1/messages/", json={"channel_id": self.cid, "content": f"probe {i}"},
                               headers=auth_headers(self.sender.access))
                    assert r.status_code == 201, r.text
                    f = self.healthy.wait(lambda f: f.type == "new_message" and f.obj["data"]["id"] == r.json()["id"],
                                          20, f"probe {i}", since=mark)
                    latencies.append(f.at - t0)
                    time.sleep(max(0.0, (t_end - time.monotonic()) / max(1, probes - i)) * 0.5)
                while time.monotonic() < t_end:
                    time.sleep(0.1)
        finally:
            self.stop.set()
            for p in pumps:
                p.join(30)
        return latencies


def p99(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]


@pytest.fixture(scope="module")
def crowd(api, stack):
    owner, healthy_user, *stalled = register_many(stack.base_url, STALLED + 2)
    ch = create_channel(api, owner)
    for u in [healthy_user, *stalled]:
        join(api, u, ch["id"])
    return owner, healthy_user, stalled, ch


def test_stalled_readers_cost_bounded_memory_are_closed_and_do_not_slow_others(stack, rt, ws, crowd):
    owner, healthy_user, stalled_users, ch = crowd
    healthy = ws(healthy_user)  # through nginx, like the stalled ones
    flood = Flood(stack.base_url, owner, ch["id"], healthy)

    # the same message flow with nobody stalled: the healthy client's reference latency (after a warm-up, so
    # that the first connections and plans of the handlers do not count)
    flood.run(seconds=2, probes=10)
    flood.stop.clear()
    unloaded = flood.run(seconds=6, probes=40)
    time.sleep(1)

    base_tcp, base_unix, drops_before = tcp_mem(), unix_mem(stack.run_dir), total_drops(rt)
    stalled = [RawWs(stack.port, u.access, rcvbuf=4096) for u in stalled_users]
    peak = {"bytes": 0, "tcp": 0, "unix": 0, "closed_at": None}
    watching = threading.Event()

    def watch():
        while not watching.is_set():
            t, u = tcp_mem() - base_tcp, unix_mem(stack.run_dir) - base_unix
            if t + u > peak["bytes"]:
                peak.update(bytes=t + u, tcp=t, unix=u)
            if peak["closed_at"] is None and total_drops(rt) - drops_before >= STALLED:
                peak["closed_at"] = time.monotonic() - t_flood
                reader.start()  # a few of them read again now, while their close frame waits for them
            time.sleep(0.25)

    codes = []

    def read_again():
        # what reaches a stalled client once it reads again: the frames that fit the buffers, then the 1013 close
        for raw in stalled[:3]:
            try:
                codes.append(raw.read_until_close(30)[1])
            except (AssertionError, ConnectionError) as e:
                codes.append(repr(e))

    reader = threading.Thread(target=read_again, daemon=True)

    t_flood = time.monotonic()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    flood2 = Flood(stack.base_url, owner, ch["id"], healthy)
    try:
        loaded = flood2.run(seconds=14, probes=60)
        deadline = t_flood + 20
        while peak["closed_at"] is None and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        watching.set()
        watcher.join(10)
    closed_at = peak["closed_at"]
    per_socket = peak["bytes"] / STALLED
    print(f"\nstalled readers: peak {peak['bytes'] / 1024:.0f} KiB over the baseline (TCP {peak['tcp'] / 1024:.0f}, "
          f"unix {peak['unix'] / 1024:.0f}) = {per_socket / 1024:.1f} KiB per stalled socket; all closed with 1013 "
          f"{closed_at and round(closed_at, 1)} s after the flood began; healthy p99 {p99(unloaded) * 1000:.1f} ms "
          f"unloaded, {p99(loaded) * 1000:.1f} ms with {STALLED} stalled ({flood2.sent} messages flowed)")
    assert per_socket < BOUND_PER_SOCKET, f"{per_socket / 1024:.0f} KiB per stalled socket"
    assert closed_at is not None, f"only {total_drops(rt) - drops_before} of {STALLED} stalled sockets were closed"
    reader.join(60)
    assert codes == [1013] * 3, codes
    for raw in stalled:
        raw.close()
    assert p99(loaded) <= 2 * p99(unloaded), (p99(unloaded), p99(loaded), statistics.median(loaded))
    # the healthy client got every probe and is still open
    assert not healthy.is_closed
    m = send(http_client(stack.base_url), owner, ch["id"], "after the stall")
    healthy.wait_event("new_message", 10, data_id=m["id"])
