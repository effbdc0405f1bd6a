"""§9 backpressure: a socket whose unsent output passes 4 MiB is closed with 1013, while the other sockets of
the same channel on the same daemon keep receiving everything; the cut-off client can resume.

The slow reader is a raw TCP socket with a small receive buffer that completes the upgrade and then stops
reading. It is driven by many large messages (4000 characters each) sent concurrently over REST."""
from concurrent.futures import ThreadPoolExecutor

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    create_channel, http_client, join, send,
)
from ws_helpers import RawWs, rt, ws  # noqa: F401 (fixtures rt, ws)

LIMIT = 4 * 1024 * 1024
CONTENT = 4000
COARSE, FINE = 150, 8          # messages per round: coarse up to 3.5 MiB, then fine steps to locate the cut
FINE_FROM = 3.5 * 1024 * 1024
MAX_MESSAGES = 3000
SENDERS = 6
DROPS = "chat_realtime_backpressure_drops_total"
NOISE = 64 * 1024              # other frames the slow reader may have been sent meanwhile (user_status...)


def frame_size(text: str) -> int:
    """Bytes of an unmasked server text frame carrying `text` (RFC 6455 §5.2)."""
    n = len(text.encode())
    return n + (2 if n < 126 else 4 if n < 65536 else 10)


def test_a_reader_that_stops_reading_is_closed_with_1013_and_the_others_get_everything(stack, api, users, rt, ws):
    owner, slow, fast = users(3)
    ch = create_channel(api, owner)
    join(api, slow, ch["id"])
    join(api, fast, ch["id"])
    port = rt.ports[0]
    good = ws(fast, port=port)  # the same daemon as the slow reader
    raw = RawWs(port, slow.access, rcvbuf=4096)
    drops_before = rt.metrics(0).get(DROPS, 0)

    clients = [http_client(stack.base_url) for _ in range(SENDERS)]
    sent = []
    produced = 0  # bytes of the channel's new_message frames the daemon had for every member, so far
    step = 0      # bytes of the last round
    cut_at = None
    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            while len(sent) < MAX_MESSAGES:
                base, n = len(sent), COARSE if produced < FINE_FROM else FINE
                sent += pool.map(
                    lambda i: send(clients[i % SENDERS], owner, ch["id"], f"#{base + i:05d} " + "x" * (CONTENT - 7)),
                    range(n))
                good.wait_count("new_message", len(sent), 30, channel_id=ch["id"])
                before, produced = produced, sum(frame_size(f.data) for f in good.since()
                                                 if f.type == "new_message" and f.obj["channel_id"] == ch["id"])
                step = produced - before
                if rt.metrics(0).get(DROPS, 0) > drops_before:
                    cut_at = produced
                    break
    finally:
        for c in clients:
            c.close()
    assert cut_at is not None, f"no 1013 after {len(sent)} messages ({produced} bytes) to a socket that reads nothing"
    assert rt.metrics(0)[DROPS] == drops_before + 1

    # the slow reader: the frames the kernel held, then a close frame with 1013
    texts, code, reason = raw.read_until_close(30)
    raw.send_close(1013)
    raw.close()
    assert code == 1013, (code, reason)
    # the limit is on the unsent output, past what the daemon could write to the kernel (which all reached the
    # reader): the socket was cut in the round whose frames took that output past 4 MiB
    written = raw.text_bytes
    assert cut_at + NOISE > written + LIMIT, f"cut at {cut_at} bytes with only {written} written: under 4 MiB unsent"
    assert cut_at - step < written + LIMIT + NOISE, \
        f"not cut although {cut_at - step} bytes were produced and only {written} written: over 4 MiB unsent"
    assert texts and texts[0]["type"] == "connection_established", [t["type"] for t in texts[:3]]
    slow_msgs = [t for t in texts if t.get("type") == "new_message" and t["channel_id"] == ch["id"]]
    assert len(slow_msgs) < len(sent), "the slow reader got everything: it was not cut off"

    # the fast reader got every message once, in order, and its socket is still open
    all_good = good.events("new_message", channel_id=ch["id"])
    assert [e["data"]["seq"] for e in all_good] == list(range(1, len(sent) + 1))
    assert sorted(e["data"]["id"] for e in all_good) == sorted(m["id"] for m in sent)
    assert not good.is_closed
    # what reached the slow reader is a prefix of the same sequence, whole frames only
    assert [e["event_id"] for e in slow_msgs] == [e["event_id"] for e in all_good[:len(slow_msgs)]]

    # it can reconnect and resume from the last event it got: exactly the rest, in order
    last = [t for t in texts if "event_id" in t][-1]["event_id"]
    back = ws(slow, port=port, last_event_id=last)
    rest = back.wait_count("new_message", len(sent) - len(slow_msgs), 30, channel_id=ch["id"])
    assert [e["event_id"] for e in rest] == [e["event_id"] for e in all_good[len(slow_msgs):]]
    assert [e["data"]["seq"] for e in rest] == list(range(len(slow_msgs) + 1, len(sent) + 1))
    mark = good.mark()
    good.send_json({"type": "ping"})
    good.wait_event("pong", 5, since=mark)
