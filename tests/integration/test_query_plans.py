"""The list queries use their indexes (a page reads an index in order and stops after `limit` rows): EXPLAIN of
the handlers' own SQL over a conversation with many rows, with sequential scans disabled, names the intended index
and never scans `messages` sequentially.

The SQL is the handlers' `constexpr db::Statement k...` constants, taken from the sources through the C
preprocessor with the build's own compile command (so macros such as the Message JSON are expanded exactly as
the compiler sees them), and every session here has the programs' own settings (core/db.hpp's kSessionOptions:
generic plans, so the plans checked are the ones that run). The hot statements are also planned once per
connection: on a warmed connection, planning an EXECUTE takes less time than running it."""
import json
import os
import re
import shlex
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import REPO, psql

CONVERSATIONS = 20
PER_CONVERSATION = 1500
C_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
C_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'", "r": "\r", "0": "\0"}


def c_unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: C_ESCAPES.get(m.group(1), m.group(1)), s)


def preprocessed(build: Path, source: Path) -> str:
    """The translation unit of `source` after the preprocessor, with the flags of compile_commands.json."""
    cc_path = build / "compile_commands.json"
    assert cc_path.is_file(), f"{cc_path} is missing: configure the build first (cmake -S . -B build)"
    entries = [e for e in json.loads(cc_path.read_text()) if Path(e["file"]).resolve() == source.resolve()]
    assert entries, f"{source} is not in {cc_path}"
    e = entries[0]
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a in ("-c", "-Werror") or a.startswith("-o"):
            continue
        out.append(a)
    r = subprocess.run(out + ["-E", "-P", "-w"], cwd=e["directory"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"preprocessing {source} failed: {r.stderr[-2000:]}"
    return r.stdout


def statements(build: Path, source: Path) -> dict:
    """name -> SQL of every `constexpr db::Statement kName{"stmt_name", "SQL" ...};` of the source."""
    text = preprocessed(build, source)
    found = {}
    for m in re.finditer(r"constexpr\s+(?:chat::)?db::Statement\s+(k\w+)\s*\{(.*?)\}\s*;", text, re.S):
        lits = [c_unescape(x) for x in C_STRING.findall(m.group(2))]
        assert len(lits) >= 2, f"{m.group(1)} in {source}: no SQL literal found"
        found[m.group(1)] = "".join(lits[1:])
    return found


def session_options() -> str:
    """The settings every program's PostgreSQL session has (core/db.hpp's kSessionOptions)."""
    m = re.search(r'kSessionOptions =\s*"([^"]*)"', (REPO / "core" / "db.hpp").read_text())
    assert m, "kSessionOptions not found in core/db.hpp"
    return m.group(1)


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def build_dir(stack) -> Path:
    """The build the stack runs (chat.env's CHAT_BUILD_DIR)."""
    return Path(stack.env.get("CHAT_BUILD_DIR") or REPO / "build")


def database_url_for(url: str, dbname: str) -> str:
    """The same connection URL (postgresql://[host]/db?params) naming another database."""
    m = re.match(r"^(postgres(?:ql)?://[^/?]*)(/[^?]*)?(\?.*)?$", url)
    assert m, f"not a postgresql:// URL: {url}"
    return f"{m.group(1)}/{dbname}{m.group(3) or ''}"


@pytest.fixture(scope="module")
def plans_db(stack):
    """A database of its own on the stack's PostgreSQL, migrated by the project's chat-migrate, so that the
    plans depend on this module's data only (index page fill, statistics), not on what ran before."""
    name = "plans_" + uuid.uuid4().hex[:10]
    admin_url = database_url_for(stack.superuser_url, "postgres")
    url = database_url_for(stack.owner_url, name)  # the owner seeds it and may ANALYZE it
    psql(admin_url, f"CREATE DATABASE {name} OWNER chat_owner")
    try:
        env = {**os.environ, **stack.env, "DATABASE_URL": database_url_for(stack.database_url, name),
               "MIGRATE_DATABASE_URL": url}
        r = subprocess.run([str(build_dir(stack) / "chat-migrate"), str(REPO / "sql")], env=env, cwd=stack.run_dir,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"chat-migrate failed on {name}: {r.stdout}{r.stderr}"
        options = session_options()
        assert "plan_cache_mode=force_generic_plan" in options, options
        yield lambda sql, *params: psql(url, sql, *params, options=options)
    finally:
        psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def dataset(plans_db):
    """CONVERSATIONS group conversations whose messages arrive interleaved (as in production), PER_CONVERSATION
    each: every 10th deleted, every 97th with the word "needle", every 7th by V mentions U; in the target one
    ("busy 1") every 50th is a reply to its first message. U is also in 60 quiet conversations."""
    db = plans_db
    u, v = str(uuid.uuid4()), str(uuid.uuid4())
    db(f"""
BEGIN;
INSERT INTO users (id, username, email, hashed_password) VALUES
  (:'p1', 'plan_u', 'plan_u@example.com', 'x'), (:'p2', 'plan_v', 'plan_v@example.com', 'x');
INSERT INTO conversations (kind, name, is_private, creator_id, last_seq, last_message_at)
  SELECT 'group', 'busy ' || c, true, :'p1', {PER_CONVERSATION}, now() FROM generate_series(1, {CONVERSATIONS}) c;
INSERT INTO conversations (kind, name, is_private, creator_id)
  SELECT 'group', 'quiet ' || i, true, :'p1' FROM generate_series(1, 60) i;
INSERT INTO conversation_members (conversation_id, user_id, role) SELECT id, :'p1', 'owner' FROM conversations;
INSERT INTO conversation_members (conversation_id, user_id, role)
  SELECT id, :'p2', 'member' FROM conversations WHERE name LIKE 'busy %';
INSERT INTO messages (conversation_id, seq, sender_id, content, deleted_at, created_at)
  SELECT c.id, i, CASE WHEN (i + c.n) % 2 = 0 THEN :'p1'::uuid ELSE :'p2'::uuid END,
         'plan row ' || i || CASE WHEN i % 97 = 0 THEN ' needle' ELSE '' END,
         CASE WHEN i % 10 = 0 THEN now() END, now() - interval '1 day' + (i * {CONVERSATIONS} + c.n) * interval '1 ms'
  FROM generate_series(1, {PER_CONVERSATION}) i,
       (SELECT id, row_number() OVER (ORDER BY id) AS n FROM conversations WHERE name LIKE 'busy %') c
  ORDER BY i, c.n;
COMMIT;
""", u, v)
    g = db("SELECT id FROM conversations WHERE name = 'busy 1'")[0][0]
    parent = db("SELECT id FROM messages WHERE conversation_id = :'p1' AND seq = 1", g)[0][0]
    db("""
BEGIN;
UPDATE messages SET parent_id = :'p2' WHERE conversation_id = :'p1' AND seq % 50 = 0;
INSERT INTO mentions (message_id, user_id, created_at)
  SELECT id, :'p3', created_at FROM messages WHERE seq % 7 = 0 AND sender_id <> :'p3';
COMMIT;
ANALYZE;
""", g, parent, u)
    return {"u": u, "v": v, "g": g, "parent": parent}


@pytest.fixture(scope="module")
def sql_of(stack):
    h, d, build = REPO / "handlers", REPO / "domain", build_dir(stack)
    return {
        "messages": statements(build, h / "messages.cpp"),
        "conversations": statements(build, h / "conversations.cpp"),
        "channels": statements(build, h / "channels.cpp"),
        "principal": statements(build, d / "principal.cpp"),
        "access": statements(build, d / "access.cpp"),
        "accounts": statements(build, d / "accounts.cpp"),
        "messaging": statements(build, d / "messaging.cpp"),
        "outbox": statements(build, d / "outbox.cpp"),
    }


def explain(db, sql: str, args: str, params: tuple) -> dict:
    """The JSON plan of `sql` prepared and executed with `args` (psql variables :'p1'... bound to params)."""
    name = "q_" + uuid.uuid4().hex[:8]
    rows = db(f"SET enable_seqscan = off;\nPREPARE {name} AS {sql};\nEXPLAIN (FORMAT JSON) EXECUTE {name}({args});",
              *params)
    text = "\n".join(r[0] for r in rows)
    return json.loads(text)[0]["Plan"]


CASES = [
    # (id, source, constant, EXECUTE arguments, dataset keys bound to :'p1'.., the index expected)
    ("history newest", "messages", "kHistoryNewest", ":'p1', 50, 0", ("g",), "messages_live_seq_idx"),
    ("history before_seq", "messages", "kHistoryBefore", ":'p1', 50, 1200", ("g",), "messages_live_seq_idx"),
    ("history after_seq", "messages", "kHistoryAfter", ":'p1', 50, 300", ("g",), "messages_live_seq_idx"),
    ("conversation page", "conversations", "kPage", ":'p1', 1200, 21", ("g",), "messages_live_seq_idx"),
    ("conversation first page", "conversations", "kPage", ":'p1', 9223372036854775807, 21", ("g",),
     "messages_live_seq_idx"),
    ("replies", "messages", "kReplies", ":'p1', 50, 0", ("parent",), "messages_parent_idx"),
    ("my channels", "channels", "kMyChannels", ":'p1'", ("u",), "conversation_members_user_idx"),
    ("conversations list", "conversations", "kList", ":'p1', 100, 0", ("u",), "conversation_members_user_idx"),
    ("mentions", "messages", "kMyMentions", ":'p1', 50, 0", ("u",), "mentions_user_order_idx"),
    ("search", "messages", "kSearch", ":'p1', 'needle', NULL, 20", ("u",), "messages_search_conv_idx"),
    # within one conversation either the full-text index or the conversation's own index drives it
    ("search in a conversation", "messages", "kSearch", ":'p1', 'needle', :'p2', 20", ("u", "g"),
     ("messages_search_conv_idx", "messages_live_seq_idx")),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_list_query_uses_its_index(plans_db, dataset, sql_of, case):
    _, source, const, args, keys, index = case
    indexes = index if isinstance(index, tuple) else (index,)
    assert const in sql_of[source], f"{const} not found in handlers/{source}.cpp (found {sorted(sql_of[source])})"
    sql = sql_of[source][const]
    plan = explain(plans_db, sql, args, tuple(dataset[k] for k in keys))
    nodes = list(plan_nodes(plan))
    summary = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes]
    assert any(n.get("Index Name") in indexes for n in nodes), f"{const} does not use {index}: {summary}"
    seq_scans = [s for s in summary if s[0] == "Seq Scan" and s[1] in ("messages", "conversation_members", "mentions")]
    assert not seq_scans, f"{const} scans a big table sequentially: {summary}"


def test_history_pages_stop_after_limit_rows(plans_db, dataset, sql_of):
    """A page reads an index of messages in seq order and stops after `limit` rows: Limit directly over an
    index scan of messages, whatever the offset or cursor (no Sort, no scan of the whole conversation)."""
    for source, const, args in (("messages", "kHistoryNewest", ":'p1', 50, 0"),
                                ("messages", "kHistoryBefore", ":'p1', 50, 1200"),
                                ("messages", "kHistoryAfter", ":'p1', 50, 300"),
                                ("conversations", "kPage", ":'p1', 9223372036854775807, 21"),
                                ("conversations", "kPage", ":'p1', 1200, 21")):
        plan = explain(plans_db, sql_of[source][const], args, (dataset["g"],))
        nodes = list(plan_nodes(plan))
        limited = [n for n in nodes if n["Node Type"] == "Limit" and len(n.get("Plans", [])) == 1
                   and n["Plans"][0]["Node Type"] in ("Index Scan", "Index Only Scan")
                   and n["Plans"][0].get("Relation Name") == "messages"]
        summary = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes]
        assert len(limited) == 1, f"{const}({args}): no Limit over an ordered index scan of messages: {summary}"
        scan = limited[0]["Plans"][0]
        assert "conversation_id" in scan.get("Index Cond", ""), f"{const}: {scan}"


def test_unread_count_uses_the_live_seq_index(plans_db, dataset, sql_of):
    """The unread count inside every Channel/Conversation object (CHAT_CONVERSATION_JOINS) reads the live-message
    index from the reader's marker on, and counts what docs/api.md#channel says: messages by others after the marker,
    deleted ones left out."""
    plans_db("UPDATE conversation_members SET last_read_seq = 1000 WHERE conversation_id = :'p1' AND user_id = :'p2'",
             dataset["g"], dataset["u"])
    sql = sql_of["conversations"]["kJson"]
    plan = explain(plans_db, sql, ":'p1', :'p2'", (dataset["g"], dataset["u"]))
    nodes = list(plan_nodes(plan))
    summary = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes]
    assert any(n.get("Index Name") == "messages_live_seq_idx" for n in nodes), summary
    assert not [s for s in summary if s[0] == "Seq Scan" and s[1] == "messages"], summary
    expected = plans_db("SELECT count(*) FROM messages WHERE conversation_id = :'p1' AND seq > 1000 "
                        "AND deleted_at IS NULL AND sender_id <> :'p2'", dataset["g"], dataset["u"])
    assert int(expected[0][0]) > 100
    name = "q_" + uuid.uuid4().hex[:8]
    rows = plans_db(f"PREPARE {name} AS {sql};\nEXECUTE {name}(:'p1', :'p2');", dataset["g"], dataset["u"])
    assert json.loads(rows[-1][0])["unread_count"] == int(expected[0][0])


# The statements of the hot routes (docs/api.md: every request's principal and conversation, the history pages,
# the send and its relay, the lists, /users/me), with arguments over the dataset. `writes`: run inside a
# transaction that is rolled back.
HOT = [
    ("principal", "principal", "kLoadPrincipal", ":'p1', :'p2'", ("u", "session"), False),
    ("conversation access", "access", "kFindConversation", ":'p1', :'p2'", ("g", "u"), False),
    ("own user", "accounts", "kLoadOwnUser", ":'p1'", ("u",), False),
    ("conversation json", "conversations", "kJson", ":'p1', :'p2'", ("g", "u"), False),
    ("send", "messaging", "kSend",
     ":'p1', :'p2', 'planned once', 'text', NULL, NULL, NULL, 'h', '{}'", ("g", "u"), True),
    ("send with a mention", "messaging", "kSend",
     ":'p1', :'p2', 'hi @plan_v', 'text', NULL, NULL, 'k-plan', 'h', '{plan_v}'", ("g", "u"), True),
    ("relay take", "outbox", "kTakeOfConversation", ":'p1', 100, 0", ("g",), True),
] + [(c[0], c[1], c[2], c[3], c[4], False) for c in CASES]


def planning_and_execution(db, sql: str, args: str, params: tuple, writes: bool) -> tuple[float, float]:
    """(planning ms, execution ms) of EXPLAIN ANALYZE EXECUTE on a connection that ran the statement 6 times (past
    the 5 runs PostgreSQL plans for their values before it considers a generic plan)."""
    name = "q_" + uuid.uuid4().hex[:8]
    warm = "\n".join(f"EXECUTE {name}({args});" for _ in range(6))
    script = (f"PREPARE {name} AS {sql};\n\\o /dev/null\n{warm}\n\\o\n"
              f"EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) EXECUTE {name}({args});")
    if writes:
        script = f"BEGIN;\n{script}\nROLLBACK;"
    rows = db(script, *params)
    doc = json.loads("\n".join(r[0] for r in rows))[0]
    return doc["Planning Time"], doc["Execution Time"]


@pytest.fixture(scope="module")
def session_of_u(plans_db, dataset):
    return plans_db("INSERT INTO sessions (user_id) VALUES (:'p1') RETURNING id", dataset["u"])[0][0]


@pytest.mark.parametrize("case", HOT, ids=[c[0] for c in HOT])
def test_a_hot_statement_is_planned_once_per_connection(plans_db, dataset, session_of_u, sql_of, case):
    _, source, const, args, keys, writes = case
    assert const in sql_of[source], f"{const} not found in {source}.cpp (found {sorted(sql_of[source])})"
    values = {**dataset, "session": session_of_u}
    planning, execution = planning_and_execution(plans_db, sql_of[source][const], args,
                                                 tuple(values[k] for k in keys), writes)
    print(f"\n{const}: planning {planning:.3f} ms, execution {execution:.3f} ms")
    assert planning <= execution, f"{const}: planning {planning:.3f} ms > execution {execution:.3f} ms"


def test_the_application_runs_without_jit(stack):
    """The handlers' short statements never pay for LLVM compilation, however the planner misestimates a cost (a
    plan of /channels/my over one large conversation crossed jit_above_cost and compiled for 60-90 ms per
    request): a session with the programs' settings (core/db.hpp's kSessionOptions, which every program's
    connection sends) on the stack's database has jit off, where PostgreSQL's default would have it on."""
    options = session_options()
    rows = psql(stack.database_url, "SHOW jit", options=options)
    assert rows and rows[0][0] == "off", (options, rows)
    assert psql(stack.database_url, "SHOW jit")[0][0] == "on", "PostgreSQL's default changed: the test proves nothing"
