// Message writes. A send is one statement in one round trip (BEGIN, the statement and COMMIT pipelined,
// and the outbox relay's first flight behind them): it claims the idempotency key, takes the next seq under
// the conversation's row lock, inserts the message and its mentions, writes the event (and the mention job)
// to the outbox and returns the Message; the relay then appends the outbox rows to Redis and commits.
#include "domain/messaging.hpp"

#include <algorithm>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "core/rate_limit.hpp"
#include "core/validate.hpp"
#include "domain/outbox.hpp"
#include "domain/mentions.hpp"
#include "domain/message_sql.hpp"
#include "domain/message_view.hpp"
#include "domain/moderation.hpp"

namespace chat::domain {

const SendWording kChannelWording{"Channel not found", "Channel is archived"};
const SendWording kConversationWording{"Conversation not found", "Cannot send messages to an archived conversation"};

namespace {


constexpr db::Statement kIdemFind{
    "msg_idem_find",
    "SELECT request_hash, message_id FROM idempotency_keys "
    "WHERE user_id = $1 AND key = $2 AND created_at > now() - interval '24 hours'"};
constexpr db::Statement kDropReply{"msg_drop_reply",
                                   "UPDATE messages SET reply_count = greatest(reply_count - 1, 0) WHERE id = $1"};
// Mentioned names that are members of the conversation (only they may see the message).
constexpr db::Statement kResolveMentions{
    "msg_resolve_mentions",
    "SELECT u.id FROM users u JOIN conversation_members cm ON cm.user_id = u.id AND cm.conversation_id = $1 "
    "WHERE lower(u.username) IN (SELECT lower(x) FROM unnest($2::text[]) x)"};
constexpr db::Statement kInsertMentions{
    "msg_insert_mentions",
    "INSERT INTO mentions (message_id, user_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING "
    "RETURNING user_id"};
constexpr db::Statement kDropOtherMentions{
    "msg_drop_other_mentions", "DELETE FROM mentions WHERE message_id = $1 AND user_id <> ALL($2::uuid[])"};
// The whole send. It reads the conversation and the sender's membership first (`conv`, the row find_visible
// reads, returned for the same checks); everything it writes hangs off `go` (a member of a conversation not
// archived, parent valid, key claimed or none) and `seq` (the conversation's row lock, taken after every
// read, held only until the COMMIT that travels with this statement). When the conversation was archived
// while the statement waited for that lock, the key claim or the reply count it already wrote must not
// commit: chat_abort() fails the statement (CH001).
// The inserted rows are not visible to the statement's own reads, so the Message's mentions come from
// `men` and its reactions are none; the event and the job are built here, compact, as Outbox::event
// would build them, and reach Redis through the relay that follows in the same flight. The SELECT reads
// `ev` before `job` so that they run, and take their outbox ids, in that order (a data-modifying CTE that
// nothing reads runs at the end, in no promised order).
// $1 conversation, $2 sender, $3 content, $4 type, $5 media_url, $6 parent_id, $7 idempotency key,
// $8 request hash, $9 mentioned names.
constexpr db::Statement kSend{
    "msg_send",
    "WITH conv AS ("
    "  SELECT " CHAT_CONVERSATION_ACCESS " FROM conversations c"
    "  LEFT JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $2::uuid WHERE c.id = $1::uuid),"
    " parent AS ("
    "  SELECT EXISTS (SELECT 1 FROM conv WHERE member_role IS NOT NULL AND NOT is_archived) AS allowed,"
    "   $6::uuid IS NULL OR EXISTS (SELECT 1 FROM messages WHERE id = $6::uuid AND conversation_id = $1::uuid"
    "    AND deleted_at IS NULL) AS ok),"
    " new_id AS (SELECT gen_random_uuid() AS id),"
    " claim AS ("
    "  INSERT INTO idempotency_keys (user_id, key, request_hash, message_id)"
    "  SELECT $2::uuid, $7::text, $8::text, new_id.id FROM new_id, parent"
    "  WHERE $7::text IS NOT NULL AND parent.allowed AND parent.ok"
    "  ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,"
    "    message_id = EXCLUDED.message_id, created_at = now()"
    "    WHERE idempotency_keys.created_at <= now() - interval '24 hours'"
    "  RETURNING 1),"
    " go AS (SELECT parent.allowed AND parent.ok AND ($7::text IS NULL OR EXISTS (SELECT 1 FROM claim)) AS ok"
    "  FROM parent),"
    " bump AS ("
    "  UPDATE messages SET reply_count = reply_count + 1 WHERE id = $6::uuid AND (SELECT ok FROM go) RETURNING 1),"
    " seq AS ("
    "  UPDATE conversations SET last_seq = last_seq + 1, last_message_at = now()"
    "  WHERE id = $1::uuid AND NOT is_archived AND (SELECT ok FROM go) RETURNING last_seq),"
    " m AS ("
    "  INSERT INTO messages (id, conversation_id, seq, sender_id, content, message_type, media_url, parent_id)"
    "  SELECT new_id.id, $1::uuid, seq.last_seq, $2::uuid, $3::text, $4::text, $5::text, $6::uuid FROM new_id, seq"
    "  RETURNING *),"
    " men AS ("
    "  INSERT INTO mentions (message_id, user_id)"
    "  SELECT m.id, u.id FROM m, users u JOIN conversation_members cm ON cm.user_id = u.id AND cm.conversation_id = $1::uuid"
    "  WHERE lower(u.username) IN (SELECT lower(x) FROM unnest($9::text[]) x)"
    "  ON CONFLICT DO NOTHING RETURNING user_id, created_at),"
    " msg AS ("
    "  SELECT " CHAT_MESSAGE_JSON "::text AS j FROM m"
    "  CROSS JOIN (SELECT NULL::json AS list) rx"
    "  CROSS JOIN (SELECT json_agg(men.user_id ORDER BY men.created_at, men.user_id) AS list FROM men) mx),"
    " ev AS ("
    "  INSERT INTO outbox (stream, conversation_id, event_type, audience, user_ids, payload)"
    "  SELECT 'events', $1::uuid, 'new_message', 'conversation', '',"
    "    '{\"type\":\"new_message\",\"data\":' || msg.j || ',\"channel_id\":\"' || $1::uuid::text ||"
    "    '\",\"conversation_id\":\"' || $1::uuid::text || '\",\"timestamp\":\"' || rfc3339(now()) || '\"}'"
    "  FROM msg RETURNING id),"
    " job AS ("
    "  INSERT INTO outbox (stream, conversation_id, event_type, audience, user_ids, payload)"
    "  SELECT 'jobs', $1::uuid, 'mention_notification', 'users', '',"
    "    '{\"message_id\":\"' || m.id::text || '\",\"conversation_id\":\"' || $1::uuid::text ||"
    "    '\",\"sender_id\":\"' || $2::uuid::text || '\",\"user_ids\":[' ||"
    "    (SELECT string_agg('\"' || men.user_id::text || '\"', ',' ORDER BY men.user_id) FROM men) || ']}'"
    "  FROM m WHERE EXISTS (SELECT 1 FROM men) RETURNING id)"
    " SELECT conv.*, (SELECT ok FROM parent) AS parent_ok,"
    "  $7::text IS NULL OR EXISTS (SELECT 1 FROM claim) AS claimed,"
    "  (SELECT j FROM msg) AS j, (SELECT id FROM ev) AS event_id, (SELECT id FROM job) AS job_id,"
    "  CASE WHEN NOT EXISTS (SELECT 1 FROM m) AND (EXISTS (SELECT 1 FROM claim) OR EXISTS (SELECT 1 FROM bump))"
    "   THEN chat_abort('conversation archived during the send') END AS aborted"
    " FROM (SELECT 1) one LEFT JOIN conv ON true"};
// SQLSTATE of chat_abort() (sql/007).
constexpr const char* kAborted = "CH001";
constexpr db::Statement kMessageJson{"msg_json",
                                     CHAT_MESSAGE_ROWS("SELECT * FROM messages WHERE id = $1", "m.id")};
constexpr db::Statement kFindMessage{
    "msg_find",
    "SELECT id, conversation_id, sender_id, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = $1"};
constexpr db::Statement kUpdateContent{
    "msg_update_content",
    "UPDATE messages SET content = $2, is_edited = true, updated_at = now() WHERE id = $1 AND deleted_at IS NULL"};
constexpr db::Statement kSoftDelete{
    "msg_soft_delete",
    "UPDATE messages SET deleted_at = now(), deleted_by = $2, updated_at = now() "
    "WHERE id = $1 AND deleted_at IS NULL RETURNING parent_id"};

const char* const kMessageTypes[] = {"text", "image", "file", "system"};

std::string request_hash(const SendInput& in) {
  return crypto::sha256_hex(in.conversation_id + '\n' + in.content);
}

// Resolves and stores the mentions of a message; returns the user ids newly mentioned.
std::vector<std::string> store_mentions(db::Transaction& tx, const std::string& message_id,
                                        const std::string& conversation_id, const std::string& content,
                                        bool replace) {
  std::vector<std::string> names = parse_mentions(content);
  std::vector<std::string> ids;
  if (!names.empty()) {
    auto r = tx.exec(kResolveMentions, {conversation_id, db::text_array(names)});
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.str(i, "id"));
  }
  if (replace) tx.exec(kDropOtherMentions, {message_id, db::text_array(ids)});
  std::vector<std::string> added;
  if (ids.empty()) return added;
  auto r = tx.exec(kInsertMentions, {message_id, db::text_array(ids)});
  for (int i = 0; i < r.rows(); ++i) added.push_back(r.str(i, "user_id"));
  return added;
}

void enqueue_mention_job(Outbox& out, db::Transaction& tx, const std::string& message_id,
                         const std::string& conversation_id, const std::string& sender_id,
                         const std::vector<std::string>& user_ids) {
  if (user_ids.empty()) return;
  json::Value ids = json::Value::array();
  for (const auto& u : user_ids) ids.push(u);
  json::Value job = json::Value::object();
  job.set("message_id", message_id)
      .set("conversation_id", conversation_id)
      .set("sender_id", sender_id)
      .set("user_ids", std::move(ids));
  out.job(tx, "mention_notification", conversation_id, std::move(job));
}

json::Value message_event(const std::string& conversation_id, const std::string& message) {
  json::Value e = json::Value::object();
  e.set("data", json::Value::raw(message)).set("channel_id", conversation_id).set("conversation_id", conversation_id);
  return e;
}

// The first message sent under this key, if the key is live: 200 with it, or 409 for another request.
std::optional<http::Response> replay_idempotent(Context& ctx, const CurrentUser& me, const SendInput& in) {
  auto r = ctx.db.exec(kIdemFind, {me.id, *in.idempotency_key});
  if (r.empty()) return std::nullopt;
  if (r.text(0, "request_hash") != request_hash(in)) {
    http::fail(409, "Idempotency key reused with a different request");
  }
  if (r.is_null(0, "message_id")) return std::nullopt;
  return http::Response::json(200, message_json(ctx, r.str(0, "message_id")));
}

}  // namespace

std::optional<std::string> read_content(http::Input& in) {
  auto content = in.string("content", {true, 0, std::numeric_limits<size_t>::max(), true, "Message content"});
  if (!content) return std::nullopt;
  if (content->empty()) {
    in.add_error("content", "Message content cannot be empty", "string_too_short");
    return std::nullopt;
  }
  if (http::utf8_length(*content) > limits::kMessageContent.max) {
    in.add_error("content", "Message content is too long", "string_too_long");
    return std::nullopt;
  }
  return content;
}

SendInput read_send_input(const http::Request& req, bool id_from_body, const std::string& path_id) {
  http::Input in = http::Input::body(req);
  SendInput s;
  std::optional<std::string> conv = id_from_body ? in.uuid("channel_id") : std::optional<std::string>(path_id);
  auto content = read_content(in);
  auto type = in.string("message_type", {false, 1, 16, true, "Message type"});
  if (type && std::find(std::begin(kMessageTypes), std::end(kMessageTypes), *type) == std::end(kMessageTypes)) {
    in.add_error("message_type", "Message type must be one of text, image, file, system", "enum");
  }
  auto media = in.string("media_url", {false, limits::kMediaUrl.min, limits::kMediaUrl.max, true, "Media URL"});
  auto parent = in.uuid("parent_id", false);
  auto client_id = in.string(
      "client_msg_id", {false, limits::kIdempotencyKey.min, limits::kIdempotencyKey.max, true, "Client message id"});
  auto header = in.header(req, "idempotency-key", limits::kIdempotencyKey.max);
  in.check();
  s.conversation_id = *conv;
  s.content = *content;
  if (type) s.message_type = *type;
  if (media && !media->empty()) s.media_url = media;
  s.parent_id = parent;
  if (header) s.idempotency_key = *header;
  else if (client_id) s.idempotency_key = *client_id;
  return s;
}

void take_send_token(Context& ctx, const CurrentUser& me) {
  if (auto wait = take_token(ctx.redis, stream::send_rate_key(me.id), ctx.config.rate_limit_send,
                             ctx.config.rate_limit_send_burst)) {
    throw http::HttpError(429, "Too many requests").with_header("Retry-After", std::to_string(*wait));
  }
}

http::Response send_message(Context& ctx, const CurrentUser& me, SendInput in, const SendWording& w) {
  if (!crypto::is_uuid(in.conversation_id)) http::not_found(w.not_found);
  std::vector<std::string> names = parse_mentions(in.content);
  auto sent = [&] {
    try {
      return ctx.db.exec_committed_then(kSend,
                                        {in.conversation_id, me.id, in.content, in.message_type, in.media_url,
                                         in.parent_id, in.idempotency_key, request_hash(in), db::text_array(names)},
                                        relay_flight(ctx, in.conversation_id));
    } catch (const db::DbError& e) {
      if (e.sqlstate() == kAborted) http::forbidden(w.archived);
      throw;
    }
  }();
  // Whatever the statement said, its transaction has ended and the relay's is open: finish the relay first.
  relay_after_commit(ctx, in.conversation_id, sent);
  const db::Result& r = sent.first;
  try {
    Conversation conv = visible_from(r, me, w.not_found);
    require_member(conv);
    require_not_archived(conv, w.archived);
  } catch (const http::HttpError&) {
    // Nothing was written. A retry of a send that succeeded answers like the first time even if the
    // conversation has changed since (archived, or the sender removed): the key is looked at before the refusal.
    if (in.idempotency_key) {
      if (auto first = replay_idempotent(ctx, me, in)) return std::move(*first);
    }
    throw;
  }
  if (!r.boolean(0, "parent_ok")) http::not_found("Parent message not found");
  if (!r.boolean(0, "claimed")) {
    // The key is live: a retry (200 with the first message) or another request under it (409).
    if (auto first = replay_idempotent(ctx, me, in)) return std::move(*first);
    http::fail(409, "Idempotency key reused with a different request");
  }
  if (r.is_null(0, "j")) http::forbidden(w.archived);  // archived while the send waited for its lock
  return http::Response::json(201, r.str(0, "j"));
}

std::optional<MessageRef> find_message(Context& ctx, const std::string& id) {
  if (!crypto::is_uuid(id)) return std::nullopt;
  auto r = ctx.db.exec(kFindMessage, {id});
  if (r.empty()) return std::nullopt;
  return MessageRef{r.str(0, "id"), r.str(0, "conversation_id"), r.str(0, "sender_id"), r.boolean(0, "deleted")};
}

MessageRef find_readable_message(Context& ctx, const CurrentUser& me, const std::string& id, Conversation* conv) {
  auto m = find_message(ctx, id);
  if (!m || m->deleted) http::not_found("Message not found");
  *conv = find_visible(ctx, me, m->conversation_id, "Message not found");
  require_read(*conv, me);
  return *m;
}

std::string message_json(Context& ctx, const std::string& message_id) {
  auto r = ctx.db.exec(kMessageJson, {message_id});
  if (r.empty()) http::not_found("Message not found");
  return MessageRows(r).json(0);
}

void delete_message(Context& ctx, const CurrentUser& me, const Conversation& conv, const MessageRef& m,
                    const char* forbidden_detail) {
  if (m.sender_id != me.id && !can_moderate(conv, me)) http::forbidden(forbidden_detail);
  Outbox out;
  {
    db::Transaction tx(ctx.db);
    auto r = tx.exec(kSoftDelete, {m.id, me.id});
    if (r.empty()) http::not_found("Message not found");  // deleted concurrently
    if (auto parent = r.opt(0, "parent_id")) tx.exec(kDropReply, {*parent});
    json::Value e = json::Value::object();
    e.set("message_id", m.id)
        .set("channel_id", conv.id)
        .set("conversation_id", conv.id)
        .set("deleted_by", me.username);
    out.event(tx, Event{"message_deleted", conv.id, Audience::kConversation, {}, std::move(e)});
    if (m.sender_id != me.id) {  // moderation: someone else's message (docs/api.md#moderation: audited)
      json::Value details = json::Value::object();
      details.set("conversation_id", conv.id).set("sender_id", m.sender_id);
      audit(tx, Actor::of(me), "message.delete", "message", m.id, std::nullopt, details);
    }
    tx.commit();
  }
  out.relay(ctx);
}

std::string edit_message(Context& ctx, const CurrentUser& me, const std::string& message_id,
                         const std::string& content) {
  Conversation conv;
  MessageRef m = find_readable_message(ctx, me, message_id, &conv);
  if (m.sender_id != me.id) http::forbidden("Can only edit your own messages");
  require_not_archived(conv);
  Outbox out;
  std::string message;
  {
    db::Transaction tx(ctx.db);
    tx.exec(kUpdateContent, {m.id, content});
    std::vector<std::string> added = store_mentions(tx, m.id, conv.id, content, true);
    message = MessageRows(tx.exec(kMessageJson, {m.id})).json(0);
    out.event(tx, Event{"message_edited", conv.id, Audience::kConversation, {}, message_event(conv.id, message)});
    enqueue_mention_job(out, tx, m.id, conv.id, me.id, added);
    tx.commit();
  }
  out.relay(ctx);
  return message;
}

}  // namespace chat::domain
