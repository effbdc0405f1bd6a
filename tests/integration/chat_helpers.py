"""Helpers of the channels / messages / conversations / events tests (docs/api.md#channels, #messages,
#conversations, #server-frames).

Everything goes through the real stack: HTTP through nginx, SQL through psql, Redis through redis-cli.
Run as a script (`python3 chat_helpers.py send-worker JSON`) it is one sender process of the
concurrency test: several threads, each posting messages over its own HTTP connection.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import TS_RE, UUID_RE, assert_user, auth_headers, http_client, register_user

V1 = "/api/v1"
CHANNELS = V1 + "/channels/"
MESSAGES = V1 + "/messages/"
CONVERSATIONS = V1 + "/conversations/"

EVENTS = "chat:events"
JOBS = "chat:jobs"

MESSAGE_FIELDS = {
    "id", "conversation_id", "channel_id", "sender_id", "user_id", "user", "seq", "content", "message_type",
    "media_url", "parent_id", "reply_count", "is_edited", "is_deleted", "reactions", "mentions",
    "created_at", "updated_at",
}
REACTION_FIELDS = {"id", "message_id", "user_id", "username", "emoji", "created_at"}
CHANNEL_FIELDS = {
    "id", "name", "description", "is_private", "is_archived", "creator_id", "member_count", "is_member",
    "unread_count", "created_at", "updated_at",
}
CONVERSATION_FIELDS = {
    "id", "kind", "title", "is_group", "is_private", "creator_id", "unread_count", "last_message_at",
    "created_at", "updated_at",
}
URL_SAFE_RE = re.compile(r"^[A-Za-z0-9_\-.~]+$")


@pytest.fixture(name="api", scope="module")
def api_fixture(stack):
    """Overrides conftest's `api` in the modules that import it: the same client, with TCP_NODELAY."""
    with http_client(stack.base_url, timeout=30) as client:
        yield client


class UserPool:
    """Fresh users registered ahead of need by one background thread while tests run (Argon2 makes registration
    the slowest part of the tests' setups; the server has a core to spare while a test waits on it)."""

    def __init__(self, base_url: str, ahead: int = 8):
        import queue

        self.base_url = base_url
        self.ready = queue.Queue()
        self.slots = threading.Semaphore(ahead)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._fill, daemon=True)
        self.thread.start()

    def _fill(self):
        with http_client(self.base_url) as client:
            while not self.stopping.is_set():
                if not self.slots.acquire(timeout=0.1):
                    continue
                try:
                    self.ready.put(register_user(client))
                except Exception as e:  # handed to the test that takes it
                    self.ready.put(e)
                    return

    def take(self, n: int) -> list:
        import queue

        out = []
        while len(out) < n:
            try:
                item = self.ready.get_nowait()
            except queue.Empty:
                break
            self.slots.release()
            if isinstance(item, Exception):
                raise item
            out.append(item)
        if len(out) < n:
            out += register_many(self.base_url, n - len(out))
        return out

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=60)


@pytest.fixture(scope="module")
def _user_pool(base_url):
    pool = UserPool(base_url)
    yield pool
    pool.close()


@pytest.fixture(name="users")
def users_fixture(_user_pool):
    """users(n) -> n fresh users (Registered tuples), each registered for this test only."""
    return _user_pool.take


def authors_for(stack, messages: int, at_least: int = 2) -> int:
    """How many users must share `messages` quick sends so that none of them meets the per-user send limit
    (RATE_LIMIT_SEND_BURST of the stack, default 30): heavy tests register no more users than they need."""
    burst = int(stack.setting("RATE_LIMIT_SEND_BURST", "30"))
    per_user = max(1, burst * 3 // 4)
    return max(at_least, -(-messages // per_user))


def H(reg) -> dict:
    """Authorization header of a Registered user."""
    return auth_headers(reg.access)


def uid(reg) -> str:
    return reg.user["id"]


def uniq(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------------------------
# shapes


def assert_ts(v) -> None:
    assert isinstance(v, str) and TS_RE.match(v), f"not an RFC 3339 UTC microsecond timestamp: {v!r}"


def assert_reaction(r: dict, *, message_id=None, user=None, emoji=None) -> None:
    assert isinstance(r, dict) and set(r) >= REACTION_FIELDS, f"Reaction lacks {REACTION_FIELDS - set(r)}: {r}"
    assert UUID_RE.match(r["id"]) and UUID_RE.match(r["message_id"]) and UUID_RE.match(r["user_id"]), r
    assert_ts(r["created_at"])
    if message_id is not None:
        assert r["message_id"] == message_id, r
    if user is not None:
        assert (r["user_id"], r["username"]) == (user.user["id"], user.user["username"]), r
    if emoji is not None:
        assert r["emoji"] == emoji, r


def assert_message(m: dict, *, conversation_id=None, sender=None, content=None) -> None:
    """Every field of a Message (docs/api.md#message), with the right types and the duplicated ids equal."""
    assert isinstance(m, dict), m
    missing = MESSAGE_FIELDS - set(m)
    assert not missing, f"Message lacks {missing}: {m}"
    assert UUID_RE.match(m["id"]), m
    assert m["channel_id"] == m["conversation_id"] and UUID_RE.match(m["conversation_id"]), m
    assert m["user_id"] == m["sender_id"] and UUID_RE.match(m["sender_id"]), m
    assert m["user"] is not None, m
    assert_user(m["user"], email_visible=False)
    assert m["user"]["id"] == m["sender_id"], m
    assert isinstance(m["seq"], int) and m["seq"] >= 1, m
    assert isinstance(m["content"], str) and m["content"], m
    assert m["message_type"] in ("text", "image", "file", "system"), m
    assert m["media_url"] is None or isinstance(m["media_url"], str), m
    assert m["parent_id"] is None or UUID_RE.match(m["parent_id"]), m
    assert isinstance(m["reply_count"], int) and m["reply_count"] >= 0, m
    assert isinstance(m["is_edited"], bool) and isinstance(m["is_deleted"], bool), m
    assert isinstance(m["reactions"], list), m
    for r in m["reactions"]:
        assert_reaction(r, message_id=m["id"])
    assert isinstance(m["mentions"], list) and all(isinstance(x, str) and UUID_RE.match(x) for x in m["mentions"]), m
    assert_ts(m["created_at"])
    assert_ts(m["updated_at"])
    if conversation_id is not None:
        assert m["conversation_id"] == conversation_id, m
    if sender is not None:
        assert m["sender_id"] == sender.user["id"] and m["user"]["username"] == sender.user["username"], m
    if content is not None:
        assert m["content"] == content, m


def assert_channel(c: dict, *, full: bool = False) -> None:
    assert isinstance(c, dict), c
    missing = CHANNEL_FIELDS - set(c)
    assert not missing, f"Channel lacks {missing}: {c}"
    assert UUID_RE.match(c["id"]), c
    assert isinstance(c["name"], str) and 1 <= len(c["name"]) <= 80, c
    assert c["description"] is None or isinstance(c["description"], str), c
    for k in ("is_private", "is_archived", "is_member"):
        assert isinstance(c[k], bool), c
    assert c["creator_id"] is None or UUID_RE.match(c["creator_id"]), c
    assert isinstance(c["member_count"], int) and c["member_count"] >= 0, c
    if c["is_member"]:
        assert isinstance(c["unread_count"], int) and c["unread_count"] >= 0, c
    else:
        assert c["unread_count"] is None, c
    assert_ts(c["created_at"])
    assert_ts(c["updated_at"])
    if full:
        assert isinstance(c.get("members"), list), f"Channel lacks members: {c}"
        for u in c["members"]:
            assert_user(u, email_visible=False)
        assert "last_message_at" in c, c
        assert c["last_message_at"] is None or TS_RE.match(c["last_message_at"]), c
        assert c["member_count"] == len(c["members"]), c


def assert_conversation(c: dict, *, participants: bool = False) -> None:
    assert isinstance(c, dict), c
    missing = CONVERSATION_FIELDS - set(c)
    assert not missing, f"Conversation lacks {missing}: {c}"
    assert UUID_RE.match(c["id"]), c
    assert c["kind"] in ("channel", "direct", "group"), c
    assert c["is_group"] == (c["kind"] != "direct"), c
    assert isinstance(c["is_private"], bool), c
    if c["kind"] == "direct":
        assert c["title"] is None and c["is_private"] is True, c
    if c["kind"] == "channel":
        assert isinstance(c["title"], str) and c["title"], c
    assert c["creator_id"] is None or UUID_RE.match(c["creator_id"]), c
    assert c["unread_count"] is None or (isinstance(c["unread_count"], int) and c["unread_count"] >= 0), c
    assert c["last_message_at"] is None or TS_RE.match(c["last_message_at"]), c
    assert_ts(c["created_at"])
    assert_ts(c["updated_at"])
    if participants:
        ps = c.get("participants")
        assert isinstance(ps, list) and ps, f"Conversation lacks participants: {c}"
        for p in ps:
            assert set(p) >= {"user", "role", "joined_at"}, p
            assert_user(p["user"], email_visible=False)
            assert p["role"] in ("owner", "admin", "member"), p
            assert_ts(p["joined_at"])


# --------------------------------------------------------------------------------------------
# channels


def create_channel(api, owner, name=None, *, private=False, description=None) -> dict:
    body = {"name": name or uniq("ch_"), "is_private": private}
    if description is not None:
        body["description"] = description
    r = api.post(CHANNELS, json=body, headers=H(owner))
    assert r.status_code == 201, f"create channel {body}: {r.status_code} {r.text}"
    return r.json()


def join(api, user, channel_id) -> None:
    r = api.post(CHANNELS + "join", json={"channel_id": channel_id}, headers=H(user))
    assert r.status_code == 200, f"join {channel_id}: {r.status_code} {r.text}"


def add_user(api, actor, channel_id, user) -> None:
    r = api.post(f"{CHANNELS}{channel_id}/add-user", json={"user_id": uid(user)}, headers=H(actor))
    assert r.status_code == 200, f"add-user: {r.status_code} {r.text}"


def get_channel(api, user, channel_id) -> dict:
    r = api.get(CHANNELS + channel_id, headers=H(user))
    assert r.status_code == 200, f"GET channel: {r.status_code} {r.text}"
    return r.json()


def register_many(base_url: str, n: int) -> list:
    """n fresh users registered in parallel (Argon2 makes registration the slow part of setups)."""

    def one(_):
        with http_client(base_url) as client:
            return register_user(client)

    with ThreadPoolExecutor(max_workers=min(n, 6)) as pool:
        return list(pool.map(one, range(n)))


def channel_setup(api, *, members: int = 1, private=False):
    """(owner, [members...], channel): a fresh channel with `members` extra members."""
    owner, *others = register_many(str(api.base_url).rstrip("/"), members + 1)
    ch = create_channel(api, owner, private=private)
    for u in others:
        if private:
            add_user(api, owner, ch["id"], u)
        else:
            join(api, u, ch["id"])
    return owner, others, ch


# --------------------------------------------------------------------------------------------
# messages


def send_raw(api, user, channel_id, content="hello", *, headers=None, **fields) -> httpx.Response:
    body = {"channel_id": channel_id, "content": content, **fields}
    return api.post(MESSAGES, json=body, headers={**H(user), **(headers or {})})


def send(api, user, channel_id, content=None, *, headers=None, **fields) -> dict:
    content = content if content is not None else uniq("msg ")
    r = send_raw(api, user, channel_id, content, headers=headers, **fields)
    assert r.status_code == 201, f"send to {channel_id}: {r.status_code} {r.text}"
    return r.json()


def conv_send_raw(api, user, conv_id, content="hello", *, headers=None, **fields) -> httpx.Response:
    return api.post(f"{CONVERSATIONS}{conv_id}/messages", json={"content": content, **fields},
                    headers={**H(user), **(headers or {})})


def conv_send(api, user, conv_id, content=None, **fields) -> dict:
    content = content if content is not None else uniq("msg ")
    r = conv_send_raw(api, user, conv_id, content, **fields)
    assert r.status_code == 201, f"send to conversation {conv_id}: {r.status_code} {r.text}"
    return r.json()


def history(api, user, channel_id, **params) -> list:
    r = api.get(f"{MESSAGES}channel/{channel_id}", params=params, headers=H(user))
    assert r.status_code == 200, f"history: {r.status_code} {r.text}"
    return r.json()


def all_history(api, user, channel_id) -> list:
    """Every live message of a channel, oldest first, through after_seq paging."""
    out, after = [], 0
    while True:
        page = history(api, user, channel_id, limit=100, after_seq=after)
        if not page:
            return out
        out.extend(page)
        after = page[-1]["seq"]


def conv_page(api, user, conv_id, **params) -> dict:
    r = api.get(f"{CONVERSATIONS}{conv_id}/messages", params=params, headers=H(user))
    assert r.status_code == 200, f"conversation page: {r.status_code} {r.text}"
    return r.json()


def get_message(api, user, message_id) -> dict:
    r = api.get(MESSAGES + message_id, headers=H(user))
    assert r.status_code == 200, f"GET message: {r.status_code} {r.text}"
    return r.json()


def react(api, user, message_id, emoji) -> httpx.Response:
    return api.post(MESSAGES + "reactions", json={"message_id": message_id, "emoji": emoji}, headers=H(user))


def search(api, user, q, **params) -> httpx.Response:
    return api.get(MESSAGES + "search", params={"q": q, **params}, headers=H(user))


def my_mentions(api, user, **params) -> list:
    r = api.get(MESSAGES + "mentions/my", params=params, headers=H(user))
    assert r.status_code == 200, f"mentions/my: {r.status_code} {r.text}"
    return r.json()


def mark_read(api, user, channel_id, **body) -> httpx.Response:
    return api.post(MESSAGES + "read", json={"channel_id": channel_id, **body}, headers=H(user))


def list_conversations(api, user, **params) -> list:
    r = api.get(CONVERSATIONS, params=params, headers=H(user))
    assert r.status_code == 200, f"conversations list: {r.status_code} {r.text}"
    return r.json()


def conversation_in_list(api, user, conv_id) -> dict | None:
    for c in list_conversations(api, user, limit=100):
        if c["id"] == conv_id:
            return c
    return None


def create_conversation(api, user, participant_ids, *, is_group=False, title=None) -> httpx.Response:
    body = {"participant_ids": list(participant_ids), "is_group": is_group}
    if title is not None:
        body["title"] = title
    return api.post(CONVERSATIONS, json=body, headers=H(user))


def my_channels(api, user) -> list:
    r = api.get(CHANNELS + "my", headers=H(user))
    assert r.status_code == 200, f"channels/my: {r.status_code} {r.text}"
    return r.json()


def in_my_channels(api, user, channel_id) -> dict | None:
    for c in my_channels(api, user):
        if c["id"] == channel_id:
            return c
    return None


def all_channels(api, user) -> list:
    r = api.get(CHANNELS, params={"limit": 1000}, headers=H(user))
    assert r.status_code == 200, f"channels list: {r.status_code} {r.text}"
    return r.json()


def make_role(db, user, role: str) -> None:
    db("UPDATE users SET role = :'p2' WHERE id = :'p1'", uid(user), role)


# --------------------------------------------------------------------------------------------
# Redis streams (redis-cli --json)


def stream_mark(redis_cli, stream: str = EVENTS) -> str:
    """The id of the newest entry of the stream now ("0-0" when empty): read entries after it later."""
    out = json.loads(redis_cli("--json", "XREVRANGE", stream, "+", "-", "COUNT", "1") or "[]")
    return out[0][0] if out else "0-0"


def stream_after(redis_cli, mark: str, stream: str = EVENTS, conversation_id: str | None = None) -> list[dict]:
    """Entries after `mark`, oldest first, as dicts of their fields plus `_id` and `_payload` (parsed)."""
    raw = json.loads(redis_cli("--json", "XRANGE", stream, "(" + mark, "+") or "[]")
    out = []
    for entry_id, flat in raw:
        assert len(flat) % 2 == 0, flat
        fields = dict(zip(flat[0::2], flat[1::2]))
        fields["_id"] = entry_id
        fields["_payload"] = json.loads(fields["payload"]) if "payload" in fields else None
        if conversation_id is None or fields.get("conversation_id") == conversation_id:
            out.append(fields)
    return out


class RedisMonitor:
    """`redis-cli monitor` over the stack's socket: every command Redis executes while it runs.

    Used for chat:jobs, whose entries chat-worker acknowledges and deletes within milliseconds, so XRANGE after
    the fact may not see them. commands() first sends an ECHO sentinel: Redis feeds monitors in execution
    order, so once the sentinel is read every earlier command has been read too."""

    _ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')
    _ESC = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", '"': b'"', "\\": b"\\"}

    def __init__(self, sock: str):
        import queue
        import subprocess

        self.sock = sock
        self.proc = subprocess.Popen(["redis-cli", "-s", sock, "monitor"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()
        first = self.lines.get(timeout=10)
        assert first.strip() == b"OK", f"redis-cli monitor did not start: {first!r}"

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    @classmethod
    def _unescape(cls, s: str) -> str:
        out, i = bytearray(), 0
        while i < len(s):
            c = s[i]
            if c == "\\" and i + 1 < len(s):
                n = s[i + 1]
                if n == "x":
                    out.append(int(s[i + 2:i + 4], 16))
                    i += 4
                    continue
                out += cls._ESC.get(n, n.encode())
                i += 2
                continue
            out += c.encode()
            i += 1
        return out.decode("utf-8", "replace")

    def commands(self, timeout: float = 10.0) -> list:
        """Every command seen since the monitor started, as lists of arguments (command name upper-cased)."""
        import subprocess

        sentinel = uniq("monitor-sentinel-")
        subprocess.run(["redis-cli", "-s", self.sock, "ECHO", sentinel], check=True, capture_output=True, timeout=30)
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "redis-cli monitor ended"
            text = line.decode("utf-8", "replace")
            args = [self._unescape(a) for a in self._ARG.findall(text.split("] ", 1)[-1])]
            if args and args[0].upper() == "ECHO" and args[1:] == [sentinel]:
                return list(self.seen)
            if args:
                self.seen.append([args[0].upper()] + args[1:])

    def xadds(self, stream: str) -> list:
        """The fields of every XADD to `stream` seen so far (dicts, with `_payload` parsed when present)."""
        found = []
        for args in self.commands():
            if args[0] != "XADD" or len(args) < 2 or args[1] != stream:
                continue
            rest = args[2:]
            while rest and rest[0].upper() in ("MAXLEN", "MINID", "NOMKSTREAM", "LIMIT", "~", "="):
                head = rest.pop(0).upper()
                if head in ("MAXLEN", "MINID", "LIMIT"):
                    if rest and rest[0] in ("~", "="):
                        rest.pop(0)
                    rest.pop(0)
            rest = rest[1:]  # the entry id (*)
            fields = dict(zip(rest[0::2], rest[1::2]))
            if "attempt" in fields or "job_id" in fields:
                continue  # chat-worker re-queueing a job (a retry), not a new one
            fields["_payload"] = json.loads(fields["payload"]) if "payload" in fields else None
            found.append(fields)
        return found

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def assert_event_entry(e: dict, etype: str, conversation_id: str, audience: str = "conversation") -> dict:
    """A chat:events entry with the docs/events.md fields; returns the parsed payload."""
    for k in ("type", "conversation_id", "audience", "user_ids", "payload", "outbox_id"):
        assert k in e, f"stream entry lacks {k}: {e}"
    assert e["type"] == etype, e
    assert e["conversation_id"] == conversation_id, e
    assert e["audience"] == audience, e
    assert e["outbox_id"].isdigit(), e
    p = e["_payload"]
    assert isinstance(p, dict), e
    assert p.get("type") == etype, p
    assert_ts(p.get("timestamp"))
    assert "event_id" not in p, f"the stored payload must not carry event_id: {p}"
    return p


def outbox_count(db, conversation_id: str | None = None) -> int:
    if conversation_id is None:
        return int(db("SELECT count(*) FROM outbox")[0][0])
    return int(db("SELECT count(*) FROM outbox WHERE conversation_id = :'p1'", conversation_id)[0][0])


# --------------------------------------------------------------------------------------------
# one sender process of the concurrency test: run as `python3 -c SENDER_PROCESS_SRC`, the spec as the
# first line of stdin; it prints "ready", waits for a "go" line, then every thread posts its messages
# over its own keep-alive connection (http.client: a light import, so the processes start fast) and
# the results are printed as one JSON line.

SENDER_PROCESS_SRC = r"""
import http.client, json, socket, sys, threading
from urllib.parse import urlsplit

spec = json.loads(sys.stdin.readline())
url = urlsplit(spec["base_url"])
results, lock = [], threading.Lock()
go = threading.Event()

def sender(s):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    go.wait()
    mine = []
    for i in range(spec["count"]):
        content = "%s #%d" % (s["tag"], i)
        body = json.dumps({"channel_id": spec["channel_id"], "content": content}).encode()
        try:
            conn.request("POST", "/api/v1/messages/", body=body, headers={
                "Authorization": "Bearer " + s["token"], "Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            data = json.loads(raw) if raw else None
            ok = resp.status == 201 and isinstance(data, dict)
            mine.append({"status": resp.status, "content": content, "id": data.get("id") if ok else None,
                         "seq": data.get("seq") if ok else None, "body": None if ok else raw[:300].decode("utf-8", "replace")})
        except Exception as e:
            mine.append({"status": -1, "content": content, "id": None, "seq": None, "body": repr(e)})
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    with lock:
        results.append({"tag": s["tag"], "sends": mine})

threads = [threading.Thread(target=sender, args=(s,)) for s in spec["senders"]]
for t in threads:
    t.start()
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"
go.set()
for t in threads:
    t.join()
print(json.dumps(results), flush=True)
"""
