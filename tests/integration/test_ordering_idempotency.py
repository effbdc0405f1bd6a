"""seq under concurrent senders (several processes), cursor paging of /conversations/{id}/messages, and
idempotent sends (Idempotency-Key header and client_msg_id)."""
import json
import math
import subprocess
import sys
import threading
from urllib.parse import quote

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, CONVERSATIONS, H, MESSAGES, SENDER_PROCESS_SRC, URL_SAFE_RE, all_history, assert_message, authors_for,
    conv_page, conv_send_raw, create_channel, create_conversation, http_client, join, send, send_raw,
    stream_after, stream_mark, uid, uniq,
)
from conftest import assert_422, assert_error

# ---------------------------------------------------------------------------------------------
# 20 concurrent senders in 4 processes: seq 1..N, no gap, no duplicate, stream in seq order


def test_concurrent_senders_get_gapless_seq(api, users, base_url, redis_cli, db, stack):
    procs, threads_per_proc, per_sender = 4, 5, 8
    n = procs * threads_per_proc * per_sender
    members = users(authors_for(stack, n, at_least=4))
    owner = members[0]
    ch = create_channel(api, owner)
    cid = ch["id"]
    for u in members[1:]:
        join(api, u, cid)
    senders = [members[i % len(members)] for i in range(procs * threads_per_proc)]
    mark = stream_mark(redis_cli)
    running = []
    for p in range(procs):
        group = senders[p * threads_per_proc:(p + 1) * threads_per_proc]
        spec = {"base_url": base_url, "channel_id": cid, "count": per_sender,
                "senders": [{"token": u.access, "tag": f"p{p}t{i}"} for i, u in enumerate(group)]}
        proc = subprocess.Popen([sys.executable, "-c", SENDER_PROCESS_SRC], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.stdin.write(json.dumps(spec) + "\n")
        proc.stdin.flush()
        running.append(proc)
    try:
        for proc in running:  # every process has its threads connected
            line = proc.stdout.readline()
            assert line.strip() == "ready", f"sender process did not start: {line!r} {proc.stderr.read()}"
        for proc in running:
            proc.stdin.write("go\n")
            proc.stdin.close()
        results = []
        for proc in running:
            out = proc.stdout.read()
            err = proc.stderr.read()
            assert proc.wait(timeout=120) == 0, f"sender process failed: {err}"
            results.extend(json.loads(out))
    finally:
        for proc in running:
            if proc.poll() is None:
                proc.kill()
    sends = [s for r in results for s in r["sends"]]
    assert len(results) == procs * threads_per_proc and len(sends) == n
    bad = [s for s in sends if s["status"] != 201]
    assert not bad, f"{len(bad)} sends failed, e.g. {bad[:3]}"
    seqs = [s["seq"] for s in sends]
    assert sorted(seqs) == list(range(1, n + 1)), "seq has gaps or duplicates in the send answers"
    # each sender's own messages got increasing seq (commit order), and the senders really interleaved
    owns = [[s["seq"] for s in r["sends"]] for r in results]
    for own in owns:
        assert own == sorted(own), owns
    assert any(own != list(range(own[0], own[0] + len(own))) for own in owns), "the sends did not overlap"
    # read everything back
    stored = all_history(api, owner, cid)
    assert [m["seq"] for m in stored] == list(range(1, n + 1))
    assert {m["id"]: m["seq"] for m in stored} == {s["id"]: s["seq"] for s in sends}
    assert {m["id"]: m["content"] for m in stored} == {s["id"]: s["content"] for s in sends}
    assert db("SELECT last_seq, (SELECT count(*) FROM messages WHERE conversation_id = :'p1') FROM conversations "
              "WHERE id = :'p1'", cid) == [[str(n), str(n)]]
    # the events stream carries the conversation's new_message events in seq order
    events = [e for e in stream_after(redis_cli, mark, conversation_id=cid) if e["type"] == "new_message"]
    assert [e["_payload"]["data"]["seq"] for e in events] == list(range(1, n + 1))


# ---------------------------------------------------------------------------------------------
# cursor paging


def fill(api, authors, cid, total):
    """total messages from several authors (round robin), through both send routes; returns them by seq."""
    sent = []
    lock = threading.Lock()

    def worker(k, author):
        with http_client(str(api.base_url).rstrip("/")) as c:
            mine = []
            for i in range(k, total, len(authors)):
                if i % 3 == 0:
                    r = c.post(f"{CONVERSATIONS}{cid}/messages", json={"content": f"page msg {i}"}, headers=H(author))
                else:
                    r = c.post(MESSAGES, json={"channel_id": cid, "content": f"page msg {i}"}, headers=H(author))
                assert r.status_code == 201, r.text
                mine.append(r.json())
            with lock:
                sent.extend(mine)

    ts = [threading.Thread(target=worker, args=(k, a)) for k, a in enumerate(authors)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(sent) == total
    return sorted(sent, key=lambda m: m["seq"])


def walk(api, user, cid, limit, between=None):
    """Every page with `limit`; returns (messages in page order, pages)."""
    got, pages, cursor = [], [], None
    while True:
        if cursor is None:
            page = conv_page(api, user, cid, limit=limit)
        else:
            assert isinstance(cursor, str) and URL_SAFE_RE.match(cursor), f"cursor is not URL-safe: {cursor!r}"
            assert quote(cursor, safe="") == cursor
            # used as is in the URL, no encoding
            r = api.get(f"{CONVERSATIONS}{cid}/messages?limit={limit}&cursor={cursor}", headers=H(user))
            assert r.status_code == 200, r.text
            page = r.json()
        assert set(page) == {"items", "next_cursor"}, page
        assert len(page["items"]) <= limit
        pages.append(page)
        got.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return got, pages
        assert len(page["items"]) == limit, "a page that is not the last one is short"
        if between:
            between(len(pages))
        assert len(pages) < 1000


def test_cursor_paging_250(api, users, stack):
    authors = users(authors_for(stack, 250, at_least=3))
    owner = authors[0]
    ch = create_channel(api, owner)
    cid = ch["id"]
    for u in authors[1:]:
        join(api, u, cid)
    reader = authors[1]
    sent = fill(api, authors, cid, 250)
    assert [m["seq"] for m in sent] == list(range(1, 251))
    expected = [m["id"] for m in reversed(sent)]  # newest first

    for limit in (7, 25, 50, 100):
        got, pages = walk(api, reader, cid, limit)
        assert [m["id"] for m in got] == expected, f"limit {limit}: duplicate, missing or misordered messages"
        assert len(pages) == math.ceil(250 / limit), f"limit {limit}: {len(pages)} pages"
        assert pages[-1]["next_cursor"] is None
        if 250 % limit == 0:
            assert len(pages[-1]["items"]) == limit  # the last page is exactly full, and still says it is the last
    got, _ = walk(api, reader, cid, 7)  # every item is the whole Message the send returned
    for m in got[:20]:
        assert_message(m, conversation_id=cid)
    by_id = {m["id"]: m for m in sent}
    assert all(m == by_id[m["id"]] for m in got), "a page item differs from the Message the send returned"
    # default limit is 20
    first = conv_page(api, reader, cid)
    assert [m["id"] for m in first["items"]] == expected[:20] and first["next_cursor"]

    # errors
    for bad in ("!!!", "abc", "%%%", "s-1", "AAAA", "c3g", "czA", "c3N4"):
        assert_422(api.get(f"{CONVERSATIONS}{cid}/messages", params={"cursor": bad}, headers=H(reader)))
    for lim in (0, 101, -1, "x"):
        assert_422(api.get(f"{CONVERSATIONS}{cid}/messages", params={"limit": lim}, headers=H(reader)))


def test_cursor_paging_while_messages_arrive(api, users, stack):
    authors = users(authors_for(stack, 120 + 45, at_least=3))
    owner, reader = authors[0], authors[1]
    ch = create_channel(api, owner)
    cid = ch["id"]
    for u in authors[1:]:
        join(api, u, cid)
    sent = fill(api, authors, cid, 120)
    expected = [m["id"] for m in reversed(sent)]
    newer = []

    def send_some(page_no):
        for _ in range(3):
            newer.append(send(api, authors[page_no % len(authors)], cid, f"late {page_no}")["id"])

    got, pages = walk(api, reader, cid, 9, between=send_some)
    assert [m["id"] for m in got] == expected
    assert len(newer) == 3 * (len(pages) - 1) and not set(newer) & {m["id"] for m in got}
    # deleted messages are left out of pages, and a cursor stays valid when its message is deleted
    page1 = conv_page(api, reader, cid, limit=10)
    boundary = page1["items"][-1]
    assert api.delete(MESSAGES + boundary["id"], headers=H(next(a for a in authors if uid(a) == boundary["sender_id"]))
                      ).status_code == 200
    page2 = conv_page(api, reader, cid, limit=10, cursor=page1["next_cursor"])
    assert page2["items"][0]["seq"] == boundary["seq"] - 1
    full, _ = walk(api, reader, cid, 100)
    assert boundary["id"] not in [m["id"] for m in full]
    assert len(full) == 120 + len(newer) - 1


def test_paging_small_and_empty(api, users):
    a, b = users(2)
    d = create_conversation(api, a, [uid(b)]).json()
    page = conv_page(api, a, d["id"])
    assert page == {"items": [], "next_cursor": None}
    ms = [conv_send_raw(api, a if i % 2 else b, d["id"], f"m{i}").json() for i in range(4)]
    page = conv_page(api, b, d["id"], limit=4)
    assert [m["id"] for m in page["items"]] == [m["id"] for m in reversed(ms)] and page["next_cursor"] is None
    page = conv_page(api, b, d["id"], limit=3)
    assert len(page["items"]) == 3 and page["next_cursor"]
    last = conv_page(api, b, d["id"], limit=3, cursor=page["next_cursor"])
    assert [m["id"] for m in last["items"]] == [ms[0]["id"]] and last["next_cursor"] is None


# ---------------------------------------------------------------------------------------------
# idempotency


def count_messages(db, cid):
    return int(db("SELECT count(*) FROM messages WHERE conversation_id = :'p1'", cid)[0][0])


def new_message_events(redis_cli, mark, cid):
    return [e for e in stream_after(redis_cli, mark, conversation_id=cid) if e["type"] == "new_message"]


def test_idempotency_key_header(api, users, db, redis_cli):
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    cid = ch["id"]
    key = uniq("idem-")
    mark = stream_mark(redis_cli)
    r1 = send_raw(api, a, cid, "pay once", headers={"Idempotency-Key": key})
    assert r1.status_code == 201, r1.text
    first = r1.json()
    for _ in range(2):
        r = send_raw(api, a, cid, "pay once", headers={"Idempotency-Key": key})
        assert r.status_code == 200, r.text
        assert r.json()["id"] == first["id"] and r.json()["seq"] == first["seq"]
        assert_message(r.json(), conversation_id=cid, sender=a, content="pay once")
    assert count_messages(db, cid) == 1
    assert [e["_payload"]["data"]["id"] for e in new_message_events(redis_cli, mark, cid)] == [first["id"]]
    # different content, or a different conversation, under the same key
    assert_error(send_raw(api, a, cid, "pay twice", headers={"Idempotency-Key": key}), 409,
                 "Idempotency key reused with a different request")
    other = create_channel(api, a)
    assert_error(send_raw(api, a, other["id"], "pay once", headers={"Idempotency-Key": key}), 409,
                 "Idempotency key reused with a different request")
    # header and client_msg_id share one namespace
    r = send_raw(api, a, cid, "pay once", client_msg_id=key)
    assert r.status_code == 200 and r.json()["id"] == first["id"], r.text
    assert_error(send_raw(api, a, cid, "something else", client_msg_id=key), 409,
                 "Idempotency key reused with a different request")
    # the headless route shares it too
    r = conv_send_raw(api, a, cid, "pay once", headers={"Idempotency-Key": key})
    assert r.status_code == 200 and r.json()["id"] == first["id"], r.text
    # keys are per user
    r = send_raw(api, b, cid, "pay once", headers={"Idempotency-Key": key})
    assert r.status_code == 201 and r.json()["id"] != first["id"], r.text
    assert count_messages(db, cid) == 2
    assert count_messages(db, other["id"]) == 0
    assert len(new_message_events(redis_cli, mark, cid)) == 2


def test_client_msg_id(api, users, db, redis_cli):
    (a,) = users(1)
    d = create_channel(api, a)
    cid = d["id"]
    cmid = uniq("cm-")
    mark = stream_mark(redis_cli)
    r1 = conv_send_raw(api, a, cid, "once only", client_msg_id=cmid)
    assert r1.status_code == 201, r1.text
    r2 = conv_send_raw(api, a, cid, "once only", client_msg_id=cmid)
    assert r2.status_code == 200, r2.text
    assert r2.json()["id"] == r1.json()["id"]
    r3 = send_raw(api, a, cid, "once only", client_msg_id=cmid)
    assert r3.status_code == 200 and r3.json()["id"] == r1.json()["id"], r3.text
    # the header names the same key
    r4 = send_raw(api, a, cid, "once only", headers={"Idempotency-Key": cmid})
    assert r4.status_code == 200 and r4.json()["id"] == r1.json()["id"], r4.text
    assert_error(conv_send_raw(api, a, cid, "changed", client_msg_id=cmid), 409,
                 "Idempotency key reused with a different request")
    assert count_messages(db, cid) == 1
    assert len(new_message_events(redis_cli, mark, cid)) == 1
    # another key: a new message
    r5 = conv_send_raw(api, a, cid, "once only", client_msg_id=uniq("cm-"))
    assert r5.status_code == 201 and r5.json()["seq"] == 2, r5.text


def test_idempotent_retry_after_the_send_would_fail(api, users, db):
    a, b = users(2)
    ch = create_channel(api, a)
    key = uniq("late-")
    first = send(api, a, ch["id"], "before archive", headers={"Idempotency-Key": key})
    assert api.delete(CHANNELS + ch["id"], headers=H(a)).status_code == 204
    assert_error(send_raw(api, a, ch["id"], "new one"), 403, "Channel is archived")
    r = send_raw(api, a, ch["id"], "before archive", headers={"Idempotency-Key": key})
    assert r.status_code == 200 and r.json()["id"] == first["id"], r.text
    assert count_messages(db, ch["id"]) == 1


def test_concurrent_retries_with_one_key(api, users, db, base_url):
    (a,) = users(1)
    ch = create_channel(api, a)
    key = uniq("race-")
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def go():
        with http_client(base_url) as c:
            barrier.wait()
            r = c.post(MESSAGES, json={"channel_id": ch["id"], "content": "racing"},
                       headers={**H(a), "Idempotency-Key": key})
            with lock:
                results.append((r.status_code, r.json().get("id")))

    ts = [threading.Thread(target=go) for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(s for s, _ in results) == [200] * 5 + [201], results
    assert len({i for _, i in results}) == 1, results
    assert count_messages(db, ch["id"]) == 1
