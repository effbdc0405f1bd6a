"""§9.2 resume: a socket that reconnects with last_event_id gets every stored event it missed, judged by the
membership of its time, in order, once, before any live event; an id the server cannot replay from gets
resync_required. (Resuming from before a daemon started, and from a trimmed id: test_ws_zz_killed_daemon.)"""
import threading
import time

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, H, create_channel, http_client, join, send, uid,
)
from ws_helpers import STORED_TYPES, assert_stamped, event_key, rt, ws  # noqa: F401 (fixtures rt, ws)


def after_established(sock, *cids):
    """The events after connection_established (which must be the first frame) about conversations `cids`.

    Every stored event the socket got, whatever its conversation, must have a greater event_id than the one
    before: replayed events first, then live ones, none twice. (Other tests' users joining `general` meanwhile
    are replayed too: only the conversations of the test are compared exactly.)"""
    frames = sock.since()
    assert frames and frames[0].type == "connection_established", sock.types()
    events = [f.obj for f in frames[1:] if f.obj is not None]
    keys = [event_key(e["event_id"]) for e in events if e["type"] in STORED_TYPES]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), f"{sock.label}: event ids out of order: {keys}"
    return [e for e in events if e.get("channel_id") in cids or e.get("conversation_id") in cids]


def test_resume_replays_exactly_the_missed_messages_before_live_ones(api, users, rt, ws):
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    witness = ws(b, port=rt.ports[1])  # stays connected: the events as they were issued
    first = ws(a, port=rt.ports[0])
    m0 = send(api, b, ch["id"], "seen")
    last = first.wait_event("new_message", 5, data_id=m0["id"])["event_id"]
    first.close()

    missed = [send(api, b, ch["id"], f"missed {i}") for i in range(3)]
    issued = witness.wait_count("new_message", 4, 5, channel_id=ch["id"])[1:]
    assert [e["data"]["id"] for e in issued] == [m["id"] for m in missed]

    for port in (rt.ports[1], rt.ports[0], None):  # the other daemon, the same one, nginx's choice
        s = ws(a, port=port, last_event_id=last)
        live = send(api, b, ch["id"], f"live after resuming on {port}")
        s.wait_event("new_message", 5, data_id=live["id"])
        got = after_established(s, ch["id"])
        assert [e["data"]["id"] for e in got] == [m["id"] for m in missed] + [live["id"]], \
            f"{s.label}: {[(e['type'], e.get('data', {}).get('content')) for e in got]}"
        # the replayed frames are the events as issued: same event_id, same payload
        assert got[:-1] == issued, "replayed events differ from the live ones"
        issued.append(witness.wait_event("new_message", 5, data_id=live["id"]))
        missed.append(live)  # the next round resumes from the same id: it missed this one too
        s.close()


def test_resume_from_connection_established_last_event_id(api, users, rt, ws):
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    s = ws(a, port=rt.ports[0])
    last = s.established["last_event_id"]
    s.close()
    missed = [send(api, b, ch["id"]) for _ in range(3)]
    s2 = ws(a, port=rt.ports[1], last_event_id=last)
    s2.wait_count("new_message", 3, 5, channel_id=ch["id"])
    got = after_established(s2, ch["id"])
    assert [(e["type"], e["data"]["id"]) for e in got] == [("new_message", m["id"]) for m in missed]
    assert [e["data"] for e in got] == missed
    # resuming from the newest id: nothing to replay, no resync
    s3 = ws(a, port=rt.ports[0], last_event_id=got[-1]["event_id"])
    m = send(api, b, ch["id"], "only this")
    s3.wait_event("new_message", 5, data_id=m["id"])
    assert [e["type"] for e in after_established(s3, ch["id"])] == ["new_message"]


def test_resume_while_messages_keep_coming_has_no_gap_and_no_duplicate(stack, api, users, rt, ws):
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    s = ws(a, port=rt.ports[0])
    m0 = send(api, b, ch["id"], "before")
    last = s.wait_event("new_message", 5, data_id=m0["id"])["event_id"]
    s.close()
    for _ in range(20):
        send(api, b, ch["id"], "while away")

    stop = threading.Event()
    sent = []

    def keep_sending():
        with http_client(stack.base_url) as c:
            while not stop.is_set() and len(sent) < 200:
                sent.append(send(c, b, ch["id"], "live"))

    t = threading.Thread(target=keep_sending)
    t.start()
    try:
        time.sleep(0.2)
        s2 = ws(a, port=rt.ports[1], last_event_id=last)
        time.sleep(0.5)
    finally:
        stop.set()
        t.join(30)
    total = 1 + 20 + len(sent)
    got = s2.wait_count("new_message", total - 1, 10, channel_id=ch["id"])
    seqs = [e["data"]["seq"] for e in got]
    assert seqs == list(range(2, total + 1)), f"gaps or duplicates around the resume: {seqs}"
    keys = [event_key(e["event_id"]) for e in got]
    assert keys == sorted(keys)


def test_resume_judges_each_missed_event_by_the_membership_of_its_time(api, users, rt, ws):
    a, b = users(2)
    left = create_channel(api, b)
    joined = create_channel(api, b)
    join(api, a, left["id"])
    s = ws(a, port=rt.ports[0])
    last = s.established["last_event_id"]
    s.close()

    x1 = send(api, b, left["id"], "a still in it")
    assert api.delete(f"{CHANNELS}{left['id']}/leave", headers=H(a)).status_code == 200
    x2 = send(api, b, left["id"], "a gone")
    y1 = send(api, b, joined["id"], "a not in it yet")
    join(api, a, joined["id"])
    y2 = send(api, b, joined["id"], "a in it")

    s2 = ws(a, port=rt.ports[1], last_event_id=last)
    s2.wait_event("new_message", 5, data_id=y2["id"])
    got = after_established(s2, left["id"], joined["id"])

    def brief(e):
        return (e["type"], e["data"]["id"]) if e["type"] == "new_message" else (e["type"], e["channel_id"])

    assert [brief(e) for e in got] == [
        ("new_message", x1["id"]), ("user_left", left["id"]), ("user_joined", joined["id"]),
        ("new_message", y2["id"])], [brief(e) for e in got]
    assert x2["id"] not in str(got) and y1["id"] not in str(got)
    for e in got[1:3]:
        assert e["user_id"] == uid(a), e


def test_unknown_last_event_id_gets_resync_required(api, users, rt, ws):
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    probe = ws(a)
    real = probe.established["last_event_id"]
    ms = real.split("-")[0]
    # not an id at all; an id from the future; an id inside the stream's range that was never issued
    for bad, port in [("not-an-id", None), ("12-x", rt.ports[0]), ("99999999999999-0", rt.ports[1]),
                      (f"{ms}-999999", rt.ports[0]), (f"{ms}-999999", rt.ports[1])]:
        s = ws(a, port=port, last_event_id=bad)
        e = s.wait_event("resync_required", 5)
        assert set(e) == {"type", "reason", "timestamp"}, e
        assert e["reason"] == "unknown_event_id", (bad, e)
        assert_stamped(e)
        assert s.types()[:2] == ["connection_established", "resync_required"], (bad, s.types())
        # no replay, and the socket is live
        m = send(api, b, ch["id"], f"after resync {bad}")
        s.wait_event("new_message", 5, data_id=m["id"])
        assert [x["type"] for x in after_established(s, ch["id"])] == ["new_message"], s.types()
        assert s.types()[:2] == ["connection_established", "resync_required"], s.types()
        assert len(s.events("resync_required")) == 1
