# Regenerate docs/openapi.json from the repo root with: /usr/bin/python3 docs/gen_openapi.py
"""Writes docs/openapi.json, the OpenAPI 3.1 document of the wire contract (docs/api.md tells it in prose).

The document is written from the contract (docs/api.md), not from the server; what only the server knows is taken from
a build of it, so the two cannot drift. The operations below are emitted only for the routes of the built
programs' route tables (`chat-<group> --routes` for each group of `<build>/chat-groups.txt`, which CMake writes
from handlers/groups.cmake); a route without an operation here is an error, so a new route cannot go
undocumented, and so is an operation tagged with another group than the one serving it. Lengths, page sizes and the body limit are the validators' own (`chat-<group> --schema`, from
core/limits.hpp). tests/integration/test_openapi.py checks the result against real responses.

    /usr/bin/python3 docs/gen_openapi.py [--build-dir DIR]           # write docs/openapi.json
    /usr/bin/python3 docs/gen_openapi.py [--build-dir DIR] --check   # exit 1 when docs/openapi.json is stale

The build: --build-dir, else $CHAT_BUILD_DIR, else the repository's build/.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "openapi.json"


def fail(msg: str):
    raise SystemExit(f"gen_openapi.py: {msg}")


def build_dir(argv: list[str]) -> Path:
    if "--build-dir" in argv:
        i = argv.index("--build-dir")
        if i + 1 >= len(argv):
            fail("--build-dir needs a directory")
        return Path(argv[i + 1]).resolve()
    return Path(os.environ.get("CHAT_BUILD_DIR") or REPO / "build").resolve()


def handler_groups(build: Path) -> list[str]:
    """The groups CMake wrote from handlers/groups.cmake."""
    f = build / "chat-groups.txt"
    if not f.is_file():
        fail(f"no {f}: build first (cmake -S . -B build && cmake --build build), or pass --build-dir")
    groups = [line.strip() for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not groups:
        fail(f"{f} lists no handler group")
    return groups


def ask(build: Path, group: str, flag: str):
    """What `chat-<group> <flag>` prints, as JSON."""
    exe = build / f"chat-{group}"
    if not os.access(exe, os.X_OK):
        fail(f"no {exe}: build first (cmake --build {build})")
    r = subprocess.run([str(exe), flag], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        fail(f"{exe} {flag} exited with status {r.returncode}: {r.stderr.strip()}")
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        fail(f"{exe} {flag} printed no JSON ({e}): {r.stdout[:200]!r}")


def route_table(build: Path) -> dict[tuple[str, str], str]:
    """(METHOD, /path/{param}) of every row of the built programs' route tables -> the group that serves it."""
    return {(row["method"], row["path"]): g for g in handler_groups(build) for row in ask(build, g, "--routes")}


def input_limits(build: Path) -> dict:
    """The limits of core/limits.hpp; every program links the same, so a difference is a stale program."""
    dumps = {g: ask(build, g, "--schema") for g in handler_groups(build)}
    first = next(iter(dumps.values()))
    differ = [f"chat-{g}" for g, d in dumps.items() if d != first]
    if differ:
        fail(f"--schema of {', '.join(differ)} differs from the others: rebuild {build}")
    return first


BUILD = build_dir(sys.argv[1:])
LIMITS = input_limits(BUILD)
TEXT = LIMITS["text"]
PAGES = LIMITS["pages"]
EMOJI_BYTES = LIMITS["emoji_max_bytes"]


def length(name: str) -> dict:
    """minLength and maxLength of a text field, in characters."""
    return {"minLength": TEXT[name]["min"], "maxLength": TEXT[name]["max"]}


def max_length(name: str) -> dict:
    return {"maxLength": TEXT[name]["max"]}


def byte_size(n: int) -> str:
    return f"{n // 1048576} MiB" if n % 1048576 == 0 else f"{n} bytes"


BODY_LIMIT = byte_size(LIMITS["body_max_bytes"])


# ------------------------------------------------------------------------------------------------
# schema helpers


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def rresp(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def nullable(t: str, **kw) -> dict:
    return {"type": [t, "null"], **kw}


def uuid(desc: str | None = None) -> dict:
    s = {"type": "string", "format": "uuid"}
    if desc:
        s["description"] = desc
    return s


def ts(desc: str | None = None) -> dict:
    s = {"type": "string", "format": "date-time"}
    if desc:
        s["description"] = desc
    return s


def array(items: dict, desc: str | None = None) -> dict:
    s = {"type": "array", "items": items}
    if desc:
        s["description"] = desc
    return s


def obj(props: dict, required: list | None = None, desc: str | None = None, **kw) -> dict:
    s: dict = {"type": "object"}
    if desc:
        s["description"] = desc
    s["properties"] = props
    if required:
        s["required"] = required
    s.update(kw)
    return s


USERNAME = {"type": "string", **length("username"),
            "description": f"{TEXT['username']['min']}-{TEXT['username']['max']} characters: letters and digits (of "
                           "any script), `_`, `.`, `-`; unique case-insensitively."}


USER = obj(
    {
        "id": uuid(),
        "username": USERNAME,
        "email": {
            "type": "string",
            "anyOf": [{"format": "email"}, {"maxLength": 0}],
            "description": "The address only in answers about the caller itself (`/auth/*`, `/users/me`, "
            "`GET`/`PUT /users/{own id}`, `POST /users/`) and in REST answers to a global admin about others; the "
            "empty string `\"\"` everywhere else (users embedded in messages, members and participants, lists "
            "and search results — the caller's own entry included — and every WebSocket event). Never `null`: "
            "clients call string methods on it."},
        "avatar": nullable("string"),
        "role": {"type": "string", "enum": ["member", "moderator", "admin"]},
        "status": {"type": "string", "enum": ["active", "suspended", "banned"]},
        "is_active": {"type": "boolean"},
        "is_online": {"type": "boolean"},
        "last_seen_at": nullable("string", format="date-time"),
        "unread_mentions": {"type": "integer", "minimum": 0,
                            "description": "Only in answers about the caller itself (`/auth/*`, `/users/me`): "
                            "mentions that arrived while the caller was offline, since it last read "
                            "`GET /messages/mentions/my`."},
        "created_at": ts(),
        "updated_at": ts(),
    },
    ["id", "username", "email", "avatar", "role", "status", "is_active", "is_online", "last_seen_at",
     "created_at", "updated_at"],
    "A user (docs/api.md#user). Never any password material.",
)

AUTH_RESPONSE = obj(
    {
        "access_token": {"type": "string", "description": "HS256 JWT; claims `sub`, `exp`, `iat`, `jti`, `sid`."},
        "token_type": {"type": "string", "enum": ["bearer"]},
        "expires_in": {"type": "integer", "minimum": 1, "description": "Lifetime of the access token in seconds."},
        "refresh_token": {"type": "string", "description": "Opaque; valid 30 days; rotated on every refresh."},
        "user": ref("User"),
    },
    ["access_token", "token_type", "expires_in", "refresh_token", "user"],
    "A new session (docs/api.md#authresponse).",
)

CHANNEL = obj(
    {
        "id": uuid(),
        "name": {"type": "string", **length("channel_name")},
        "description": nullable("string"),
        "is_private": {"type": "boolean"},
        "is_archived": {"type": "boolean"},
        "creator_id": uuid(),
        "member_count": {"type": "integer", "minimum": 0},
        "is_member": {"type": "boolean", "description": "Whether the caller is a member."},
        "unread_count": nullable(
            "integer", minimum=0,
            description="Messages by others after the caller's read marker; `null` for a non-member."),
        "last_message_at": nullable(
            "string", format="date-time",
            description="Always present in `/channels/my` and `GET /channels/{id}`."),
        "created_at": ts(),
        "updated_at": ts(),
    },
    ["id", "name", "description", "is_private", "is_archived", "creator_id", "member_count", "is_member",
     "unread_count", "created_at", "updated_at"],
    "A channel as the caller sees it (docs/api.md#channel).",
)

CHANNEL_WITH_MEMBERS = {
    "description": "A Channel with its members: `/channels/my` and `GET /channels/{id}`.",
    "allOf": [
        ref("Channel"),
        obj({"members": array(ref("User"), "The members (emails `\"\"`)."),
             "last_message_at": nullable("string", format="date-time")},
            ["members", "last_message_at"]),
    ],
}

CONVERSATION = obj(
    {
        "id": uuid(),
        "kind": {"type": "string", "enum": ["channel", "direct", "group"]},
        "title": nullable("string", description="The channel name for channels; `null` for direct conversations."),
        "is_group": {"type": "boolean", "description": "True for group and channel."},
        "is_private": {"type": "boolean", "description": "Direct conversations are private."},
        "is_archived": {"type": "boolean",
                        "description": "An archived channel stays listed here (docs/api.md#channels)."},
        "creator_id": uuid(),
        "unread_count": nullable(
            "integer", minimum=0,
            description="Messages by others after the caller's read marker (`null` only when the caller is "
            "not a member: a global moderator or admin reading a channel)."),
        "last_message_at": nullable("string", format="date-time"),
        "created_at": ts(),
        "updated_at": ts(),
    },
    ["id", "kind", "title", "is_group", "is_private", "is_archived", "creator_id", "unread_count",
     "last_message_at", "created_at", "updated_at"],
    "A conversation: a public or private channel, a direct or a group conversation (docs/api.md#conversation).",
)

PARTICIPANT = obj(
    {"user": ref("User"), "role": {"type": "string", "enum": ["owner", "admin", "member"]}, "joined_at": ts()},
    ["user", "role", "joined_at"],
)

CONVERSATION_WITH_PARTICIPANTS = {
    "description": "A Conversation with its participants: `GET /conversations/{id}`.",
    "allOf": [ref("Conversation"), obj({"participants": array(ref("Participant"))}, ["participants"])],
}

REACTION = obj(
    {"id": uuid(), "message_id": uuid(), "user_id": uuid(), "username": {"type": "string"},
     "emoji": {"type": "string", "minLength": 1}, "created_at": ts()},
    ["id", "message_id", "user_id", "username", "emoji", "created_at"],
    "One user's reaction to a message (docs/api.md#reaction).",
)

MESSAGE = obj(
    {
        "id": uuid(),
        "conversation_id": uuid(),
        "channel_id": uuid("Same value as `conversation_id` (team-chat clients)."),
        "sender_id": uuid(),
        "user_id": uuid("Same value as `sender_id` (team-chat clients)."),
        "user": {"$ref": "#/components/schemas/User", "description": "The sender; never null (email `\"\"`)."},
        "seq": {"type": "integer", "minimum": 1,
                "description": "Per-conversation sequence number: 1, 2, 3... in commit order, never reused."},
        "content": {"type": "string", **length("message_content")},
        "message_type": {"type": "string", "enum": ["text", "image", "file", "system"]},
        "media_url": nullable("string"),
        "parent_id": nullable("string", format="uuid", description="The message this replies to."),
        "reply_count": {"type": "integer", "minimum": 0},
        "is_edited": {"type": "boolean"},
        "is_deleted": {"type": "boolean"},
        "reactions": array(ref("Reaction"), "Current reactions, oldest first."),
        "mentions": array(uuid(), "Ids of the mentioned users."),
        "created_at": ts(),
        "updated_at": ts(),
    },
    ["id", "conversation_id", "channel_id", "sender_id", "user_id", "user", "seq", "content", "message_type",
     "media_url", "parent_id", "reply_count", "is_edited", "is_deleted", "reactions", "mentions", "created_at",
     "updated_at"],
    "A message, always whole (docs/api.md#message).",
)

MESSAGE_PAGE = obj(
    {"items": array(ref("Message"), "Newest first; deleted messages left out."),
     "next_cursor": nullable("string", description="Opaque and URL-safe; `null` when no older message exists.")},
    ["items", "next_cursor"],
    "A cursor page of messages (`GET /conversations/{id}/messages`).",
)

ERROR = obj({"detail": {"type": "string", "description": "A human sentence."}}, ["detail"],
            "An error (docs/api.md#errors).")

VALIDATION_ERROR = obj(
    {
        "detail": {"type": "string", "description": "The first problem, one sentence a client can show as is."},
        "errors": array(
            obj({"loc": array({"type": ["string", "integer"]}, "Where, e.g. `[\"body\", \"content\"]`."),
                 "msg": {"type": "string"},
                 "type": {"type": "string", "description": "e.g. `missing`, `json_invalid`, `string_too_long`."}},
                ["loc", "msg", "type"]),
            "Every problem, the FastAPI way."),
    },
    ["detail", "errors"],
    "A 422 answer (docs/api.md#errors).",
)

SCHEMAS = {
    "User": USER,
    "AuthResponse": AUTH_RESPONSE,
    "Channel": CHANNEL,
    "ChannelWithMembers": CHANNEL_WITH_MEMBERS,
    "Conversation": CONVERSATION,
    "Participant": PARTICIPANT,
    "ConversationWithParticipants": CONVERSATION_WITH_PARTICIPANTS,
    "Message": MESSAGE,
    "Reaction": REACTION,
    "MessagePage": MESSAGE_PAGE,
    "Error": ERROR,
    "ValidationError": VALIDATION_ERROR,
    "MessageResponse": obj({"message": {"type": "string"}}, ["message"], "A confirmation sentence."),
    "StatusResponse": obj({"status": {"type": "string"}}, ["status"]),
    "ReactionToggle": obj(
        {"action": {"type": "string", "enum": ["add", "remove"]},
         "reaction": {"anyOf": [ref("Reaction"), {"type": "null"}], "description": "The new reaction; null on remove."}},
        ["action", "reaction"]),
    "ReactionRemoved": obj({"action": {"type": "string", "enum": ["remove"]}}, ["action"]),
    "Health": obj(
        {"status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"],
                    "description": "`unhealthy` (503): PostgreSQL or Redis does not answer. `degraded` (200): the API "
                    "works, but a worker or realtime daemon is missing or stale (see `workers`, `realtime`)."},
         "postgres": {"type": "string", "description": "`ok`, or what is wrong."},
         "redis": {"type": "string", "description": "`ok`, or what is wrong."},
         "workers": ref("HealthComponent"),
         "realtime": ref("HealthComponent")},
        ["status", "postgres", "redis"]),
    "HealthComponent": obj(
        {"status": {"type": "string", "enum": ["ok", "degraded", "unavailable"],
                    "description": "`ok`: live instances and no stale one; `degraded`: some instance stopped beating "
                    "(died or hangs); `unavailable`: none is alive."},
         "alive": {"type": "integer", "minimum": 0},
         "stale": {"type": "integer", "minimum": 0},
         "instances": array(obj({"id": {"type": "string", "description": "`<host>:<name or port>`."},
                                 "heartbeat_age_s": {"type": "number", "minimum": 0},
                                 "alive": {"type": "boolean", "description": "A heartbeat within 10 s."}},
                                ["id", "heartbeat_age_s", "alive"]))},
        ["status", "alive", "stale", "instances"],
        "The instances of one kind of program, by heartbeat (present when Redis answers)."),
    "Root": obj({"message": {"type": "string"}, "version": {"type": "string"}, "docs": {"type": "string"}},
                ["message", "version", "docs"]),
    # ---- request bodies
    "RegisterRequest": obj(
        {"email": {"type": "string", "format": "email", **max_length("email")},
         "username": USERNAME,
         "password": {"type": "string", **length("password")},
         "avatar": nullable("string", **max_length("avatar"))},
        ["email", "username", "password"]),
    "UserCreate": obj(
        {"email": {"type": "string", "format": "email", **max_length("email")},
         "username": USERNAME,
         "password": {"type": "string", **length("password")}},
        ["email", "username", "password"]),
    "LoginRequest": obj(
        {"username": {"type": "string", "minLength": 1, "description": "The username or the email."},
         "password": {"type": "string", "minLength": 1}},
        ["username", "password"]),
    "LoginForm": obj(
        {"username": {"type": "string", "minLength": 1, "description": "The username or the email."},
         "password": {"type": "string", "minLength": 1},
         "grant_type": {"type": "string", "enum": ["password"]}},
        ["username", "password"], "An OAuth2 password form."),
    "RefreshRequest": obj({"refresh_token": {"type": "string", "minLength": 1}}, ["refresh_token"]),
    "PasswordChange": obj(
        {"current_password": {"type": "string", "minLength": 1},
         "new_password": {"type": "string", **length("password")}},
        ["current_password", "new_password"]),
    "UserUpdate": obj(
        {"username": USERNAME,
         "email": {"type": "string", "format": "email", **max_length("email")},
         "avatar": nullable("string", **max_length("avatar"))},
        None, "Any of the fields; others (`role`, `status`, `is_active`, ...) are ignored."),
    "ChannelCreate": obj(
        {"name": {"type": "string", **length("channel_name"),
                  "description": "Unique case-insensitively among channels."},
         "description": nullable("string", **max_length("channel_description"),
                                 description="An empty description is stored as null."),
         "is_private": {"type": "boolean", "default": False}},
        ["name"]),
    "ChannelUpdate": obj(
        {"name": {"type": "string", **length("channel_name")},
         "description": nullable("string", **max_length("channel_description"),
                                 description="An empty description is stored as null.")}),
    "ChannelJoin": obj({"channel_id": uuid()}, ["channel_id"]),
    "ChannelAddUser": obj({"user_id": uuid()}, ["user_id"]),
    "MessageCreate": obj(
        {"channel_id": uuid(),
         "content": {"type": "string", **length("message_content"),
                     "description": f"Trimmed; {TEXT['message_content']['min']}-{TEXT['message_content']['max']} "
                                    "characters after trimming."},
         "parent_id": nullable("string", format="uuid"),
         "message_type": {"type": "string", "enum": ["text", "image", "file", "system"], "default": "text"},
         "media_url": nullable("string", **max_length("media_url")),
         "client_msg_id": {"type": "string", **length("idempotency_key"),
                           "description": "An idempotency key (same namespace as the `Idempotency-Key` header)."}},
        ["channel_id", "content"]),
    "ConversationMessageCreate": obj(
        {"content": {"type": "string", **length("message_content"),
                     "description": f"Trimmed; {TEXT['message_content']['min']}-{TEXT['message_content']['max']} "
                                    "characters after trimming."},
         "message_type": {"type": "string", "enum": ["text", "image", "file", "system"], "default": "text"},
         "media_url": nullable("string", **max_length("media_url")),
         "parent_id": nullable("string", format="uuid"),
         "client_msg_id": {"type": "string", **length("idempotency_key"),
                           "description": "An idempotency key (same namespace as the `Idempotency-Key` header)."}},
        ["content"]),
    "MessageEdit": obj({"content": {"type": "string", **length("message_content")}}, ["content"]),
    "ReactionRequest": obj(
        {"message_id": uuid(),
         "emoji": {"type": "string", "minLength": 1, "description": f"At most {EMOJI_BYTES} bytes (UTF-8)."}},
        ["message_id", "emoji"]),
    "ReadMarker": {
        **obj({"channel_id": uuid(), "seq": {"type": "integer", "minimum": 0}, "message_id": uuid()},
              ["channel_id"], "`{channel_id, seq}` or `{channel_id, message_id}`; the marker only moves forward."),
        "anyOf": [{"required": ["seq"]}, {"required": ["message_id"]}],
    },
    "ConversationCreate": obj(
        {"title": nullable("string", **max_length("conversation_title")),
         "is_group": {"type": "boolean", "default": False},
         "participant_ids": array(uuid(), "The other users (a direct conversation: exactly one).")},
        ["participant_ids"]),
    "ParticipantsAdd": obj({"participant_ids": array(uuid())}, ["participant_ids"]),
    "ConversationRead": obj({"last_seen_message_id": uuid()}, ["last_seen_message_id"]),
}


def err_resp(desc: str, schema: str = "Error", headers: dict | None = None) -> dict:
    r = {"description": desc, "content": {"application/json": {"schema": ref(schema)}}}
    if headers:
        r["headers"] = headers
    return r


HEADERS = {
    "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 0}},
    "Allow": {"description": "The methods of the path, e.g. `GET, PUT`.", "schema": {"type": "string"}},
}
# ------------------------------------------------------------------------------------------------
# WebSocket frames (docs/api.md#websocket): not operations of this document, but clients parse them as strictly as REST
# answers, so their shapes are schemas here too (tests/integration/test_types.py checks real frames against them).

STAMP = {"type": "string", "format": "date-time", "description": "When the server sent it."}
EVENT_ID = {"type": "string", "pattern": "^[0-9]+-[0-9]+$",
            "description": "Orders the stored events; resume with it as `last_event_id`."}


def ws_event(type_: str | list, props: dict, required: list, desc: str, stored: bool = False) -> dict:
    types = type_ if isinstance(type_, list) else [type_]
    p = {"type": {"type": "string", "enum": types}, **props, "timestamp": STAMP}
    if stored:
        p["event_id"] = EVENT_ID
    return obj(p, ["type", *required, "timestamp"] + (["event_id"] if stored else []), desc)


IN_CONVERSATION = {"channel_id": uuid(), "conversation_id": uuid()}
WS_SCHEMAS = {
    "WsConnectionEstablished": ws_event(
        "connection_established",
        {"user_id": uuid(), "username": {"type": "string"}, "session_id": uuid("The token's `sid`."),
         "last_event_id": {"type": "string", "pattern": "^([0-9]+-[0-9]+|0)$",
                           "description": "The newest event of the stream at connect time (`0` when none)."}},
        ["user_id", "username", "session_id", "last_event_id"], "The first frame of every socket."),
    "WsNewMessage": ws_event("new_message", {"data": ref("Message"), **IN_CONVERSATION},
                             ["data", "channel_id", "conversation_id"], "A message was sent.", stored=True),
    "WsMessageEdited": ws_event("message_edited", {"data": ref("Message")}, ["data"], "A message was edited.",
                                stored=True),
    "WsMessageDeleted": ws_event(
        "message_deleted", {"message_id": uuid(), **IN_CONVERSATION,
                            "deleted_by": {"type": "string", "description": "The username of who deleted it."}},
        ["message_id", "channel_id", "conversation_id", "deleted_by"], "A message was deleted.", stored=True),
    "WsMessageReaction": ws_event(
        "message_reaction",
        {"message_id": uuid(), **IN_CONVERSATION,
         "data": obj({"emoji": {"type": "string", "minLength": 1}, "user_id": uuid(), "username": {"type": "string"},
                      "action": {"type": "string", "enum": ["add", "remove"]}, "reaction_id": uuid()},
                     ["emoji", "user_id", "username", "action", "reaction_id"])},
        ["message_id", "channel_id", "conversation_id", "data"], "A reaction was added or removed.", stored=True),
    "WsMembership": ws_event(
        ["user_joined", "user_left"], {"user_id": uuid(), "username": {"type": "string"}, **IN_CONVERSATION},
        ["user_id", "username", "channel_id"], "A member joined or left (also sent to that user).", stored=True),
    "WsChannelCreated": ws_event("channel_created", {"data": ref("Channel")}, ["data"],
                                 "A channel was created.", stored=True),
    "WsConversationCreated": ws_event("conversation_created", {"data": ref("Conversation"), "conversation_id": uuid()},
                                      ["data"], "A direct or group conversation was created.", stored=True),
    "WsMentionNotification": ws_event(
        "mention_notification",
        {"data": obj({"message_id": uuid(), "channel_id": uuid(), "content": {"type": "string"},
                      "from_user_id": uuid(), "from_username": {"type": "string"}},
                     ["message_id", "channel_id", "content", "from_user_id", "from_username"]),
         "conversation_id": uuid()},
        ["data"], "The caller was mentioned (sent by the worker).", stored=True),
    "WsReadReceipt": ws_event("read_receipt", {"channel_id": uuid(), "seq": {"type": "integer", "minimum": 0}},
                              ["channel_id", "seq"], "The caller's read marker moved (its own sockets)."),
    "WsTypingIndicator": ws_event(
        "typing_indicator", {"user_id": uuid(), "username": {"type": "string"}, "channel_id": uuid(),
                             "is_typing": {"type": "boolean"}},
        ["user_id", "username", "channel_id", "is_typing"], "Someone else is typing, or stopped."),
    "WsUserStatus": ws_event(
        "user_status", {"user_id": uuid(), "status": {"type": "string", "enum": ["online", "offline"]},
                        "last_seen_at": nullable("string", format="date-time")},
        ["user_id", "status", "last_seen_at"], "A user sharing a conversation came online or went offline."),
    "WsForceDisconnect": ws_event("force_disconnect", {"reason": {"type": "string"}}, ["reason"],
                                  "The session ended (logout, ban, ...); close code 4003 follows."),
    "WsResyncRequired": ws_event("resync_required", {"reason": {"type": "string"}}, ["reason"],
                                 "`last_event_id` is outside the replay window: reload over REST."),
    "WsPong": ws_event("pong", {}, [], "The answer to `ping`."),
    "WsOnlineUsers": ws_event("online_users", {"channel_id": uuid(), "users": array(uuid())}, ["channel_id", "users"],
                              "The answer to `get_online_users`."),
    "WsChannelJoinedLeft": ws_event(["channel_joined", "channel_left"], {"channel_id": uuid()}, ["channel_id"],
                                    "The answer to `join_channel` / `leave_channel`."),
    "WsError": ws_event(
        "error", {"error_code": {"type": "string", "enum": ["invalid_json", "unknown_message_type",
                                                            "missing_channel_id", "access_denied"]},
                  "message": {"type": "string"}},
        ["error_code", "message"], "A frame the server could not act on; the socket stays open."),
}
SCHEMAS.update(WS_SCHEMAS)

# ---- moderation (docs/api.md#moderation)
SCHEMAS.update({
    "AdminUser": {
        "description": "A User as an admin's moderation answers show it: with how long a ban or suspension lasts.",
        "allOf": [ref("User"), obj({
            "status_until": nullable("string", format="date-time",
                                     description="When the ban or suspension ends by itself; `null`: until lifted, "
                                                 "or the user is active."),
            "status_reason": nullable("string")}, ["status_until", "status_reason"])],
    },
    "ModerationResult": obj({"message": {"type": "string"}, "user": ref("AdminUser")}, ["message", "user"]),
    "RestrictionRequest": obj(
        {"reason": nullable("string", **max_length("moderation_reason")),
         "duration_hours": nullable("number", exclusiveMinimum=0,
                                    description="Omitted: a ban lasts until lifted, a suspension 24 hours.")}),
    "ReasonRequest": obj({"reason": nullable("string", **max_length("moderation_reason"))}),
    "RoleRequest": obj({"role": {"type": "string", "enum": ["member", "moderator", "admin"]}}, ["role"]),
    "AuditEntry": obj(
        {"id": {"type": "integer", "minimum": 1, "description": "Increasing: the order of the log."},
         "actor_id": nullable("string", format="uuid", description="`null` for the operator's command."),
         "actor": {"type": "string", "description": "The actor's username at the time, or `system` (chat-admin)."},
         "action": {"type": "string"},
         "target_kind": {"type": ["string", "null"], "enum": ["user", "message", "conversation", None]},
         "target_id": nullable("string", format="uuid"),
         "reason": nullable("string"),
         "details": {"type": "object"},
         "created_at": ts()},
        ["id", "actor_id", "actor", "action", "target_kind", "target_id", "reason", "details", "created_at"],
        "One moderation action; the log is append-only (the application's database role may not change it)."),
})


HREF = {k: {"$ref": f"#/components/headers/{k}"} for k in HEADERS}

RESPONSES = {
    "Unauthorized": err_resp(
        "`Not authenticated` (no token) or `Could not validate credentials` (bad signature, wrong algorithm, "
        "expired, revoked, unknown user).", headers={"WWW-Authenticate": HREF["WWW-Authenticate"]}),
    "InactiveUser": err_resp("`Inactive user`: a valid token of a banned, suspended or deactivated user."),
    "NotFound": err_resp("`Not Found` for an unknown path; on a route, the named object is missing or not "
                         "visible to the caller (a malformed id is a 404 too)."),
    "MethodNotAllowed": err_resp("`Method Not Allowed`: the path exists, the method does not.",
                                 headers={"Allow": HREF["Allow"]}),
    "PayloadTooLarge": err_resp(f"`Request body too large`: a body over {BODY_LIMIT}."),
    "ValidationFailed": err_resp("Validation error (malformed JSON: `type: json_invalid`; malformed ids in "
                                 "bodies included).", "ValidationError"),
    "TooManyRequests": err_resp("`Too many requests`.", headers={"Retry-After": HREF["Retry-After"]}),
    "InternalError": err_resp("`Internal server error`."),
    "ServiceUnavailable": err_resp("`Service unavailable`: the database is down."),
}

# ------------------------------------------------------------------------------------------------
# operations

LIMIT_OFFSET = ("limit", "offset")


def qparam(name: str, schema: dict, desc: str | None = None, required: bool = False) -> dict:
    p = {"name": name, "in": "query", "required": required, "schema": schema}
    if desc:
        p["description"] = desc
    return p


def int_q(name: str, minimum: int | None = None, maximum: int | None = None, default: int | None = None,
          desc: str | None = None) -> dict:
    s: dict = {"type": "integer"}
    if minimum is not None:
        s["minimum"] = minimum
    if maximum is not None:
        s["maximum"] = maximum
    if default is not None:
        s["default"] = default
    return qparam(name, s, desc)


def page_q(name: str) -> dict:
    """The `limit` parameter of a page, with the range and default of its reader (core/limits.hpp)."""
    p = PAGES[name]
    return int_q("limit", p["min"], p["max"], p["default"])


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Per user across every send route, shared with `client_msg_id`: a key used within 24 h with "
                   "the same conversation and content returns the original message (200, no second event); "
                   "with another conversation or content it is a 409.",
    "schema": {"type": "string", **length("idempotency_key")},
}

OPS: list[dict] = []


def op(method: str, path: str, tag: str, summary: str, *, auth: bool = True, body: str | None = None,
       body_required: bool = True, form: bool = False, query: list | None = None, ok: tuple,
       more_ok: list | None = None, errors: dict | None = None, rate_limited: bool = False,
       idempotent: bool = False, desc: str | None = None, path_params: dict | None = None) -> None:
    OPS.append(dict(method=method, path=path, tag=tag, summary=summary, auth=auth, body=body,
                    body_required=body_required, form=form, query=query or [], ok=ok, more_ok=more_ok or [],
                    errors=errors or {}, rate_limited=rate_limited, idempotent=idempotent, desc=desc,
                    path_params=path_params or {}))


def ok_json(status: int, desc: str, schema: dict) -> tuple:
    return (status, {"description": desc, "content": {"application/json": {"schema": schema}}})


def no_content(desc: str) -> tuple:
    return (204, {"description": desc})


def arr(name: str) -> dict:
    return {"type": "array", "items": ref(name)}


V = "/api/v1"
SEND_ERRORS_COMMON = "409 `Idempotency key reused with a different request`"

# ---- §3 auth
op("POST", V + "/auth/register", "auth", "Register [web]", auth=False, body="RegisterRequest", rate_limited=True,
   desc="The very first user becomes `admin` and gets the default channels `general`, `random`, "
        "`announcements`; every later user joins `general`.",
   ok=ok_json(201, "The new user's session.", ref("AuthResponse")),
   errors={400: "`Email already registered` / `Username already taken`."})
op("POST", V + "/auth/login", "auth", "Log in [web]", auth=False, body="LoginRequest", form=True,
   rate_limited=True, desc="JSON `{username, password}` (username may be the email), or the same as an OAuth2 "
                           "password form.",
   ok=ok_json(200, "A new session.", ref("AuthResponse")),
   errors={401: err_resp("`Incorrect username or password`.", headers={"WWW-Authenticate": HREF["WWW-Authenticate"]}),
           403: "`Inactive user`: a banned or suspended user with the right password."})
op("POST", V + "/auth/login/access-token", "auth", "OAuth2 password login [headless]", auth=False, body="LoginForm",
   form=True, rate_limited=True,
   desc="OAuth2 password form (`username` = email or username, `password`, optional `grant_type=password`); "
        "JSON is accepted too. Answers `{access_token, token_type}` plus the other AuthResponse fields.",
   ok=ok_json(200, "A new session.", ref("AuthResponse")),
   errors={400: "`Incorrect email or password`; `Inactive user`."})
op("POST", V + "/auth/refresh", "auth", "Rotate the refresh token", auth=False, body="RefreshRequest",
   rate_limited=True,
   desc="A new access token and a new refresh token of the same session; the old refresh token stops working, "
        "and reusing it revokes the whole session.",
   ok=ok_json(200, "The rotated session.", ref("AuthResponse")),
   errors={401: err_resp("`Could not validate credentials`: unknown, used, expired or revoked refresh token.",
                         headers={"WWW-Authenticate": HREF["WWW-Authenticate"]}),
           403: "`Inactive user`."})
op("POST", V + "/auth/logout", "auth", "Log out",
   desc="The session's access and refresh tokens stop working at once; its WebSockets close within 1 s.",
   ok=no_content("Logged out."))
op("PUT", V + "/auth/password", "auth", "Change the password", body="PasswordChange",
   ok=no_content("Changed; every other session of the user is revoked."),
   errors={400: "`Incorrect password`: wrong current password."})
op("GET", V + "/auth/me", "auth", "The caller [web]", ok=ok_json(200, "The caller, email included.", ref("User")))

# ---- §3 users
op("POST", V + "/users", "users", "Register [headless]", auth=False, body="UserCreate", rate_limited=True,
   ok=ok_json(201, "The new user.", ref("User")),
   errors={400: "`The user with this email already exists in the system.` / "
                "`The user with this username already exists in the system.`"})
op("GET", V + "/users/me", "users", "The caller [headless]", ok=ok_json(200, "The caller, email included.", ref("User")))
op("GET", V + "/users", "users", "List users",
   query=[page_q("users"), int_q("offset", 0, None, 0)],
   ok=ok_json(200, "Users by username, case-insensitively.", arr("User")))
SEARCH_OK = ok_json(200, "Users whose username contains the query case-insensitively (prefix matches first, then "
                         "by username), or whose email equals it exactly (case-insensitive).", arr("User"))
op("GET", V + "/users/search", "users", "Search users (query parameter)",
   query=[qparam("q", {"type": "string", "minLength": 1}, "The search text.", required=True),
          page_q("user_search")],
   ok=SEARCH_OK, errors={422: "Empty query."})
op("GET", V + "/users/search/{query}", "users", "Search users (path)",
   path_params={"query": {"type": "string", "minLength": 1}},
   query=[page_q("user_search")], ok=SEARCH_OK, errors={422: "Empty query."})
op("GET", V + "/users/{id}", "users", "Get a user", ok=ok_json(200, "The user.", ref("User")),
   errors={404: "`User not found`."})
for m in ("PUT", "PATCH"):
    op(m, V + "/users/{id}", "users", f"Update a user ({m})", body="UserUpdate", body_required=False,
       ok=ok_json(200, "The updated user, email included.", ref("User")),
       errors={400: "Duplicate username or email.",
               403: "`Can only update your own profile` (admins may update anyone); `Inactive user`.",
               404: "`User not found`."})

# ---- §4 channels
op("GET", V + "/channels", "channels", "List channels [web]",
   query=[page_q("channels"), int_q("offset", 0, None, 0)],
   ok=ok_json(200, "Every public channel and the private ones the caller is in, by name (case-insensitive); "
                   "archived ones left out.", arr("Channel")))
op("GET", V + "/channels/my", "channels", "The caller's channels [web]",
   ok=ok_json(200, "The caller's channels (not archived) with members, by name.", arr("ChannelWithMembers")))
op("POST", V + "/channels", "channels", "Create a channel [web]", body="ChannelCreate",
   desc="The creator becomes `owner`; a `channel_created` event.",
   ok=ok_json(201, "The new channel.", ref("Channel")),
   errors={400: "`Channel name already exists` (case-insensitive)."})
op("GET", V + "/channels/{id}", "channels", "Get a channel [web]",
   ok=ok_json(200, "The channel with its members (archived ones too, `is_archived: true`).",
              ref("ChannelWithMembers")),
   errors={404: "`Channel not found`: missing, or private and the caller is not in it."})
for m in ("PUT", "PATCH"):
    op(m, V + "/channels/{id}", "channels", f"Update a channel ({m})", body="ChannelUpdate", body_required=False,
       ok=ok_json(200, "The updated channel.", ref("Channel")),
       errors={400: "`Channel name already exists`.",
               403: "Not owner/admin of the channel nor a global moderator/admin; `Channel is archived`; "
                    "`Inactive user`.",
               404: "`Channel not found`."})
op("DELETE", V + "/channels/{id}", "channels", "Archive a channel",
   desc="The channel is archived: left out of `/channels/` and `/channels/my`, still readable by members; "
        "sends, reactions, join and update are 403 `Channel is archived`; its name stays taken.",
   ok=no_content("Archived."),
   errors={403: "Not owner/admin of the channel nor a global moderator/admin; `Inactive user`.",
           404: "`Channel not found`."})
op("POST", V + "/channels/join", "channels", "Join a public channel [web]", body="ChannelJoin",
   desc="A `user_joined` event; the joiner's read marker starts at the newest message.",
   ok=ok_json(200, "`Successfully joined channel`.", ref("MessageResponse")),
   errors={400: "`Already a member of this channel`.", 403: "`Channel is archived`; `Inactive user`.",
           404: "`Channel not found`: missing or private."})
op("DELETE", V + "/channels/{id}/leave", "channels", "Leave a channel",
   ok=ok_json(200, "`Successfully left channel`; a `user_left` event.", ref("MessageResponse")),
   errors={400: "`Not a member of this channel`.", 404: "`Channel not found`."})
op("POST", V + "/channels/{id}/add-user", "channels", "Add a user to a channel [web]", body="ChannelAddUser",
   ok=ok_json(200, "`Successfully added <username> to channel`; a `user_joined` event.", ref("MessageResponse")),
   errors={400: "`Already a member of this channel`.",
           403: "The caller is not a member of the public channel, or not owner/admin of the private one; "
                "`Channel is archived`; `Inactive user`.",
           404: "`User not found`, or `Channel not found` (missing, or private and the caller not in it)."})
op("DELETE", V + "/channels/{id}/members/{user_id}", "channels", "Remove a member",
   ok=no_content("Removed; a `user_left` event."),
   errors={403: "Not owner/admin of the channel nor a global moderator/admin; `Inactive user`.",
           404: "Channel not found, or the user is not a member."})
op("GET", V + "/channels/users/available", "channels", "Users to add [web]",
   ok=ok_json(200, "Every active user except the caller, by username.", arr("User")))

# ---- §5 messages
ACCESS_403 = "`Access denied to channel`: a public channel the caller has not joined; `Inactive user`."
op("GET", V + "/messages/channel/{channel_id}", "messages", "Channel history [web]",
   query=[page_q("history"),
          int_q("offset", 0, None, 0, "0 is the newest page."),
          int_q("before_seq", 1, None, None, "The `limit` messages just before that seq."),
          int_q("after_seq", 0, None, None, "The `limit` messages just after that seq.")],
   desc="At most one of `offset`, `before_seq`, `after_seq` (two at once is a 422).",
   ok=ok_json(200, "Messages in chronological order (oldest first within the page); deleted ones left out.",
              arr("Message")),
   errors={403: ACCESS_403, 404: "`Channel not found`: missing or not visible.",
           422: "Bad limit or seq, or more than one of offset/before_seq/after_seq."})
op("POST", V + "/messages", "messages", "Send a message [web]", body="MessageCreate", rate_limited=True,
   idempotent=True, desc="A `new_message` event to everyone in the channel, the sender included.",
   ok=ok_json(201, "The new message.", ref("Message")),
   more_ok=[ok_json(200, "An idempotent retry: the original message (no second event).", ref("Message"))],
   errors={403: "`Access denied to channel` (not a member); `Channel is archived`; `Inactive user`.",
           404: "`Channel not found`; `Parent message not found`.",
           409: "`Idempotency key reused with a different request`.",
           422: "Empty (`Message content cannot be empty`) or too long (`Message content is too long`) content."})
op("GET", V + "/messages/{id}", "messages", "Get a message", ok=ok_json(200, "The message.", ref("Message")),
   errors={403: ACCESS_403, 404: "`Message not found`."})
op("PUT", V + "/messages/{id}", "messages", "Edit a message [web]", body="MessageEdit",
   desc="Mentions are recomputed; a `message_edited` event.",
   ok=ok_json(200, "The message with `is_edited: true`.", ref("Message")),
   errors={403: "`Can only edit your own messages`; `Access denied to channel`; `Inactive user`.",
           404: "`Message not found`."})
op("DELETE", V + "/messages/{id}", "messages", "Delete a message [web]",
   ok=ok_json(200, "`Message deleted successfully`; a `message_deleted` event.", ref("MessageResponse")),
   errors={403: "Not the author, a channel owner/admin or a global moderator/admin; `Inactive user`.",
           404: "`Message not found`."})
op("POST", V + "/messages/reactions", "messages", "Toggle a reaction [web]", body="ReactionRequest",
   ok=ok_json(200, "The caller's reaction was added or removed; a `message_reaction` event.", ref("ReactionToggle")),
   errors={403: "`Access denied to channel` (not a member of the public channel); `Channel is archived`; "
                "`Inactive user`.",
           404: "`Message not found`.", 422: f"Emoji empty or over {EMOJI_BYTES} bytes."})
op("DELETE", V + "/messages/reactions/{reaction_id}", "messages", "Remove a reaction [web]",
   ok=ok_json(200, "Removed; a `message_reaction` event.", ref("ReactionRemoved")),
   errors={403: "`Can only remove your own reactions`; `Inactive user`.", 404: "`Reaction not found`."})
op("GET", V + "/messages/mentions/my", "messages", "Messages mentioning the caller",
   query=[page_q("mentions"), int_q("offset", 0, None, 0)],
   ok=ok_json(200, "Messages that mention the caller, newest first.", arr("Message")))
op("GET", V + "/messages/{id}/replies", "messages", "Replies to a message",
   query=[page_q("replies"), int_q("after_seq", 0, None, 0)],
   ok=ok_json(200, "Messages whose `parent_id` is that message, oldest first.", arr("Message")),
   errors={403: ACCESS_403, 404: "`Message not found`."})
op("GET", V + "/messages/search", "messages", "Full-text search",
   query=[qparam("q", {"type": "string", "minLength": 1}, "The words to match.", required=True),
          qparam("channel_id", {"type": "string", "format": "uuid"}, "Only this conversation."),
          page_q("message_search")],
   ok=ok_json(200, "Messages from conversations the caller is a member of whose content matches the words of "
                   "`q`, best match first, then newest.", arr("Message")),
   errors={403: "`Access denied to channel` (`channel_id` the caller is not in); `Inactive user`.",
           404: "`Channel not found` (`channel_id`).", 422: "Empty `q`."})
op("POST", V + "/messages/read", "messages", "Move the read marker", body="ReadMarker",
   ok=no_content("Done (the marker only moves forward); a `read_receipt` event to the caller's sockets."),
   errors={403: "`Access denied to channel` (not a member); `Inactive user`.",
           404: "`Channel not found`; `Message not found`."})

# ---- §6 conversations
op("POST", V + "/conversations", "conversations", "Create a conversation [headless]", body="ConversationCreate",
   desc="Direct conversations have `title` null, `is_private` true and both users `member`; the creator of a "
        "group is its `owner`.",
   ok=ok_json(201, "The new conversation.", ref("Conversation")),
   more_ok=[ok_json(200, "The existing direct conversation with that user (a caller who had left it is back in).",
                    ref("Conversation"))],
   errors={400: "`Direct chats must have exactly 1 other participant`; `Cannot create direct chat with yourself`.",
           404: "`User not found`: an unknown participant id."})
op("GET", V + "/conversations", "conversations", "List conversations [headless]",
   query=[int_q("skip", 0, None, 0), page_q("conversations")],
   ok=ok_json(200, "Every conversation the caller is in (all kinds), most recent activity first.",
              arr("Conversation")))
op("GET", V + "/conversations/{id}", "conversations", "Get a conversation",
   ok=ok_json(200, "The conversation with its participants.", ref("ConversationWithParticipants")),
   errors={403: ACCESS_403, 404: "`Conversation not found`."})
op("POST", V + "/conversations/{id}/participants", "conversations", "Add participants [headless]",
   body="ParticipantsAdd",
   desc="A direct conversation becomes a group, and its creator its owner.",
   ok=ok_json(200, "`Participants added successfully`.", ref("MessageResponse")),
   errors={403: "`Only the creator can add participants` (or a conversation admin); `Inactive user`.",
           404: "`Conversation not found`; `User not found`."})
op("DELETE", V + "/conversations/{id}/participants/me", "conversations", "Leave a conversation",
   ok=no_content("Left: no more events or sends."), errors={404: "`Conversation not found`."})
op("POST", V + "/conversations/{id}/messages", "conversations", "Send a message [headless]",
   body="ConversationMessageCreate", rate_limited=True, idempotent=True,
   ok=ok_json(201, "The new message.", ref("Message")),
   more_ok=[ok_json(200, "An idempotent retry: the original message (no second event).", ref("Message"))],
   errors={403: "`Access denied to channel` (a public channel not joined); "
                "`Cannot send messages to an archived conversation`; `Inactive user`.",
           404: "`Conversation not found` (also when it is not visible); `Parent message not found`.",
           409: "`Idempotency key reused with a different request`.",
           422: "Empty or too long content."})
op("GET", V + "/conversations/{id}/messages", "conversations", "Message page [headless]",
   query=[qparam("cursor", {"type": "string"}, "Opaque, from `next_cursor`; stays valid while new messages arrive."),
          page_q("conversation_messages")],
   ok=ok_json(200, "Messages newest first; `next_cursor` null when no older message exists.", ref("MessagePage")),
   errors={403: ACCESS_403, 404: "`Conversation not found`.", 422: "Bad limit or cursor."})
op("PUT", V + "/conversations/{id}/messages/read", "conversations", "Move the read marker [headless]",
   body="ConversationRead",
   ok=ok_json(200, "`{\"status\": \"ok\"}`; the marker only moves forward.", ref("StatusResponse")),
   errors={403: "`Access denied to channel` (not a member); `Inactive user`.",
           404: "`Conversation not found`; `Message not found in this conversation`."})
op("DELETE", V + "/conversations/{id}/messages/{message_id}", "conversations", "Delete a message [headless]",
   ok=ok_json(200, "`{\"status\": \"deleted\"}`; a `message_deleted` event.", ref("StatusResponse")),
   errors={400: "`Message is already deleted`.",
           403: "`You can only delete your own messages` (unless conversation owner/admin or global "
                "moderator/admin); `Inactive user`.",
           404: "`Message not found in this conversation`; `Conversation not found`."})

# ---- §7 moderation
ADMIN_ONLY = "`Not enough permissions`: the caller is not a global admin (moderators included); `Inactive user`."
RULES = ("`You cannot moderate yourself`; `An admin cannot act on another admin`; " + ADMIN_ONLY)
op("POST", V + "/admin/users/{id}/ban", "admin", "Ban a user", body="RestrictionRequest", body_required=False,
   desc="From the next request on, every token of the user is refused (403 `Inactive user`), its login, refresh and "
        "WebSocket upgrades too, and each of its sockets on every realtime daemon gets `force_disconnect` and is "
        "closed within a second. Its sessions are revoked: after an unban it logs in again. Without "
        "`duration_hours` the ban lasts until lifted; with it, it ends by itself. Audited.",
   ok=ok_json(200, "The banned user as an admin sees it.", ref("ModerationResult")),
   errors={403: RULES, 404: "`User not found`."})
op("POST", V + "/admin/users/{id}/unban", "admin", "Lift a ban or a suspension", body="ReasonRequest",
   body_required=False, desc="The user may log in again; the sessions revoked by the ban stay revoked. Audited.",
   ok=ok_json(200, "The user, active again.", ref("ModerationResult")),
   errors={400: "`User is not banned or suspended`.", 403: RULES, 404: "`User not found`."})
op("POST", V + "/admin/users/{id}/suspend", "admin", "Suspend a user", body="RestrictionRequest",
   body_required=False,
   desc="As a ban, for `duration_hours` (default 24); it lifts by itself when it ends. Audited.",
   ok=ok_json(200, "The suspended user as an admin sees it.", ref("ModerationResult")),
   errors={403: RULES, 404: "`User not found`."})
op("PUT", V + "/admin/users/{id}/role", "admin", "Set a global role", body="RoleRequest",
   desc="A role is granted or removed only by someone above it, never by oneself: an admin makes members and "
        "moderators of non-admins; only the operator's `chat-admin` makes or unmakes an admin. Audited.",
   ok=ok_json(200, "The user with its new role.", ref("ModerationResult")),
   errors={403: "`You cannot change your own role`; `Only the operator's chat-admin can make an admin`; " + RULES,
           404: "`User not found`."})
op("GET", V + "/admin/audit-log", "admin", "Read the audit log",
   query=[page_q("audit_log"), int_q("offset", 0, None, 0),
          qparam("actor_id", {"type": "string", "format": "uuid"}, "Only this actor's actions."),
          qparam("target_id", {"type": "string", "format": "uuid"}, "Only actions on this user or message."),
          qparam("action", {"type": "string"}, "e.g. `user.ban`, `user.unban`, `user.suspend`, `user.role`, "
                                               "`message.delete`, `member.remove`, `user.create`, "
                                               "`user.password_reset`."),
          qparam("since", {"type": "string", "format": "date-time"}, "From this time on (RFC 3339)."),
          qparam("until", {"type": "string", "format": "date-time"}, "Before this time (RFC 3339).")],
   ok=ok_json(200, "Entries, newest first.", arr("AuditEntry")),
   errors={403: ADMIN_ONLY})

# ---- §8 operations
op("GET", "/health", "system", "Health", auth=False,
   ok=ok_json(200, "`{\"status\": \"healthy\", \"postgres\": \"ok\", \"redis\": \"ok\"}`.", ref("Health")),
   errors={503: {"description": "A part is failing, named in the body.",
                 "content": {"application/json": {"schema": ref("Health")}}}})
op("GET", "/", "system", "Root", auth=False, ok=ok_json(200, "Name, version and where the docs are.", ref("Root")))
op("GET", "/metrics", "system", "Prometheus metrics", auth=False,
   desc="Prometheus text format (requests, latencies, open sockets, events delivered, queue depth, job "
        "failures); reachable from localhost only (403 from elsewhere).",
   ok=(200, {"description": "The metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}),
   errors={403: "Not from localhost."})

GENERIC = {401: "Unauthorized", 403: "InactiveUser", 404: "NotFound", 413: "PayloadTooLarge",
           422: "ValidationFailed", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


def build_operation(o: dict) -> dict:
    params = []
    for name in re.findall(r"\{(\w+)\}", o["path"]):
        schema = o["path_params"].get(name, {"type": "string", "format": "uuid"})
        p = {"name": name, "in": "path", "required": True, "schema": schema}
        if schema.get("format") == "uuid":
            p["description"] = "A malformed id is a 404."
        params.append(p)
    params += o["query"]
    if o["idempotent"]:
        params.append(IDEMPOTENCY_KEY)

    statuses: dict[int, object] = {}
    status, resp = o["ok"]
    statuses[status] = resp
    for s, r in o["more_ok"]:
        statuses[s] = r
    if o["auth"]:
        statuses[401] = "Unauthorized"
        statuses[403] = "InactiveUser"
    if "{" in o["path"]:
        statuses[404] = "NotFound"
    if o["body"]:
        statuses[413] = "PayloadTooLarge"
    if o["body"] or o["query"] or o["idempotent"]:
        statuses[422] = "ValidationFailed"
    if o["rate_limited"]:
        statuses[429] = "TooManyRequests"
    statuses[500] = "InternalError"
    statuses[503] = "ServiceUnavailable"
    for s, e in o["errors"].items():
        if isinstance(e, dict):
            statuses[s] = e
        elif s == 422:
            statuses[s] = err_resp(e, "ValidationError")
        else:
            statuses[s] = err_resp(e)

    responses = {}
    for s in sorted(statuses):
        v = statuses[s]
        responses[str(s)] = rresp(v) if isinstance(v, str) else v

    out: dict = {
        "tags": [o["tag"]],
        "summary": o["summary"],
        "operationId": operation_id(o["method"], o["path"]),
    }
    if o["desc"]:
        out["description"] = o["desc"]
    out["security"] = TOKEN_SECURITY if o["auth"] else []
    if params:
        out["parameters"] = params
    if o["body"]:
        content = {"application/json": {"schema": ref(o["body"])}}
        if o["form"]:
            content = {"application/json": {"schema": ref("LoginRequest")},
                       "application/x-www-form-urlencoded": {"schema": ref("LoginForm")}}
            if o["body"] == "LoginForm":  # the OAuth2 form first where it is the primary way
                content = dict(reversed(list(content.items())))
        out["requestBody"] = {"required": o["body_required"], "content": content}
    out["responses"] = responses
    return out


# Either scheme carries the same access token (Authorization: Bearer); oauth2Password is the one Swagger UI's
# Authorize dialog can fetch itself, from a username and password, at the form login route.
TOKEN_URL = V + "/auth/login/access-token"
TOKEN_SECURITY = [{"bearerAuth": []}, {"oauth2Password": []}]


def operation_id(method: str, path: str) -> str:
    parts = [p for p in path.split("/") if p and p not in ("api", "v1")]
    words = []
    for p in parts:
        m = re.fullmatch(r"\{(\w+)\}", p)
        words.append("by_" + m.group(1) if m else re.sub(r"\W", "_", p))
    return method.lower() + "_" + ("_".join(words) or "root")


INFO_DESCRIPTION = """\
The wire contract of the chat backend (`docs/api.md`), for team-chat clients (**[web]**) and headless clients
(**[headless]**) alike. WebSocket `/ws` is described in `docs/api.md#websocket`.

* **Trailing slash**: optional on every route — `/api/v1/channels` and `/api/v1/channels/` are the same route
  (no redirect). Paths are written here without it.
* **Bodies**: UTF-8 JSON (`Content-Type: application/json`); the login routes also accept
  `application/x-www-form-urlencoded`. An empty body is no body. Bodies over """ + BODY_LIMIT + """ are a 413.
* **Field names**: snake_case everywhere. **Ids**: lowercase UUIDs; a malformed id in a path is a 404.
  **Timestamps**: RFC 3339 UTC with microseconds and `Z` (`2026-11-21T22:23:17.371927Z`).
* **Errors**: `{"detail": "<human sentence>"}` (`Error`); validation errors are 422 `ValidationError`
  (`detail` is a string, `errors` lists every problem). An unknown path is 404 `{"detail": "Not Found"}`
  (`components.responses.NotFound`), a wrong method 405 `{"detail": "Method Not Allowed"}` with `Allow`
  (`components.responses.MethodNotAllowed`). Server errors: 500 `Internal server error`, 503
  `Service unavailable`.
* **Auth**: `Authorization: Bearer <access token>`. Missing: 401 `Not authenticated`; invalid, expired or revoked:
  401 `Could not validate credentials` (both with `WWW-Authenticate: Bearer`); a banned, suspended or
  deactivated user: 403 `Inactive user`.
* **Order of checks**: unknown path 404, wrong method 405, body too large 413, authentication 401/403, rate limit
  429, validation 422, visibility 404, permission 403, domain rules 400/409. A conversation the caller may not see
  is a 404 whatever the operation.
* **Rate limits**: login, register and refresh share a bucket per client address; message sends one per user.
  Over the limit: 429 `Too many requests` with `Retry-After`.
* **Request id**: `X-Request-ID` is accepted or generated and echoed on every response.
* **CORS**: preflights from allowed origins get 204 with the allow headers; others 403.
"""


TAGS = [
    {"name": "auth", "description": "Register, log in, tokens (docs/api.md#accounts-and-users)."},
    {"name": "users", "description": "Users (docs/api.md#accounts-and-users)."},
    {"name": "channels", "description": "Channels: the channel-kind conversations (docs/api.md#channels)."},
    {"name": "messages", "description": "Messages, team-chat routes (docs/api.md#messages)."},
    {"name": "conversations", "description": "Conversations, headless routes (docs/api.md#conversations)."},
    {"name": "admin", "description": "Moderation: bans, suspensions, roles, the audit log (docs/api.md#moderation). "
                                     "Global admins only; operators also have the `chat-admin` command."},
    {"name": "system", "description": "Health and root (docs/api.md#operations)."},
]


def build(routes: dict[tuple[str, str], str]) -> dict:
    documented = {(o["method"], o["path"]) for o in OPS}
    missing = sorted(set(routes) - documented)
    if missing:
        fail(f"routes without an operation here: {missing}")
    # A tag is a handler group: the operations of a program are listed together.
    misplaced = [f"{o['method']} {o['path']} (tag {o['tag']}, served by chat-{routes[o['method'], o['path']]})"
                 for o in OPS if routes.get((o["method"], o["path"]), o["tag"]) != o["tag"]]
    if misplaced:
        fail(f"operations tagged with another group than the one serving them: {misplaced}")
    untagged = sorted(set(routes.values()) - {t["name"] for t in TAGS})
    if untagged:
        fail(f"handler groups without a tag here: {untagged}")
    paths: dict = {}
    for o in OPS:
        if (o["method"], o["path"]) not in routes:
            continue  # not implemented yet: documented once it is in a route table
        paths.setdefault(o["path"], {})[o["method"].lower()] = build_operation(o)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Chat API",
            "version": "0.1.0",
            "summary": "Team chat: auth, users, channels, messages, conversations.",
            "description": INFO_DESCRIPTION,
        },
        "servers": [{"url": "/", "description": "This server, through nginx."}],
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "headers": HEADERS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "An access token from `/api/v1/auth/login`, `/auth/register`, "
                                              "`/auth/refresh` or `/auth/login/access-token`."},
                "oauth2Password": {
                    "type": "oauth2",
                    "description": "OAuth2 password flow: `username` (a username or an email) and `password` "
                                   f"posted as a form to `{TOKEN_URL}`, whose `access_token` is then sent as "
                                   "the bearer token. Swagger UI's Authorize does this.",
                    "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
                },
            },
        },
    }


def render() -> str:
    return json.dumps(build(route_table(BUILD)), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT} is stale: run /usr/bin/python3 docs/gen_openapi.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
