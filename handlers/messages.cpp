// /api/v1/messages: the team-chat message routes (history, send, edit, delete, reactions, mentions,
// replies, search, read markers).
#include "core/crypto.hpp"
#include "core/validate.hpp"
#include "domain/access.hpp"
#include "domain/outbox.hpp"
#include "domain/message_sql.hpp"
#include "domain/message_view.hpp"
#include "domain/messaging.hpp"
#include "handlers/routes.hpp"

namespace chat::handlers {
using namespace chat::domain;  // the handlers are the HTTP face of the domain layer
namespace {

using http::Request;
using http::Response;

// Pages are rows rendered by domain::MessageRows (CHAT_MESSAGE_ROWS), in chronological order within the page.
constexpr db::Statement kHistoryNewest{
    "msg_history_newest",
    CHAT_MESSAGE_ROWS("SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL "
                      "ORDER BY seq DESC LIMIT $2 OFFSET $3", "m.seq")};
constexpr db::Statement kHistoryBefore{
    "msg_history_before",
    CHAT_MESSAGE_ROWS("SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL AND seq < $3 "
                      "ORDER BY seq DESC LIMIT $2", "m.seq")};
constexpr db::Statement kHistoryAfter{
    "msg_history_after",
    CHAT_MESSAGE_ROWS("SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL AND seq > $3 "
                      "ORDER BY seq LIMIT $2", "m.seq")};
constexpr db::Statement kReplies{
    "msg_replies",
    CHAT_MESSAGE_ROWS("SELECT * FROM messages WHERE parent_id = $1 AND deleted_at IS NULL AND seq > $3 "
                      "ORDER BY seq LIMIT $2", "m.seq")};
// Mentions of the caller in conversations it is still in, newest first.
constexpr db::Statement kMyMentions{
    "msg_my_mentions",
    CHAT_MESSAGE_ROWS("SELECT msg.*, mn.created_at AS mentioned_at FROM mentions mn "
                      "JOIN messages msg ON msg.id = mn.message_id "
                      "JOIN conversation_members cm ON cm.conversation_id = msg.conversation_id AND cm.user_id = $1 "
                      "WHERE mn.user_id = $1 AND msg.deleted_at IS NULL "
                      "ORDER BY mn.created_at DESC, msg.id LIMIT $2 OFFSET $3",
                      "m.mentioned_at DESC, m.id")};
// Reading one's mentions clears the offline-mention counter (User.unread_mentions, set by chat-worker).
constexpr db::Statement kMentionsSeen{
    "msg_mentions_seen",
    "WITH seen AS (UPDATE notifications SET read_at = now() WHERE user_id = $1 AND kind = 'mention' "
    "AND read_at IS NULL) UPDATE users SET unread_mentions = 0 WHERE id = $1 AND unread_mentions <> 0"};
// Full-text search over the conversations the caller is a member of: best match first, then newest.
constexpr db::Statement kSearch{
    "msg_search",
    CHAT_MESSAGE_ROWS("SELECT msg.*, ts_rank(msg.search_vector, q) AS rank "
                      "FROM plainto_tsquery('simple', $2) q, messages msg "
                      "JOIN conversation_members cm ON cm.conversation_id = msg.conversation_id AND cm.user_id = $1 "
                      "WHERE msg.search_vector @@ q AND msg.deleted_at IS NULL "
                      "AND ($3::uuid IS NULL OR msg.conversation_id = $3) "
                      "ORDER BY rank DESC, msg.created_at DESC LIMIT $4",
                      "m.rank DESC, m.created_at DESC")};
constexpr db::Statement kMessageSeq{"msg_seq", "SELECT seq FROM messages WHERE id = $1 AND conversation_id = $2"};
// The marker only moves forward, and never past the newest message.
constexpr db::Statement kMarkRead{
    "msg_mark_read",
    "UPDATE conversation_members SET last_read_seq = greatest(last_read_seq, "
    "  least($3::bigint, (SELECT last_seq FROM conversations WHERE id = $1))) "
    "WHERE conversation_id = $1 AND user_id = $2 RETURNING last_read_seq"};
constexpr db::Statement kRemoveReaction{
    "msg_reaction_remove",
    "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3 RETURNING id"};
constexpr db::Statement kAddReaction{
    "msg_reaction_add",
    "INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
    "RETURNING id, reaction_json(reactions, $4::text) AS j"};
constexpr db::Statement kFindReaction{
    "msg_reaction_find", "SELECT id, message_id, user_id, emoji FROM reactions WHERE id = $1"};
constexpr db::Statement kDeleteReactionById{"msg_reaction_delete", "DELETE FROM reactions WHERE id = $1 RETURNING id"};

Response history(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  int64_t limit = q.page_limit(limits::kHistoryPage);
  auto offset = q.integer("offset", {false, 0});
  auto before = q.integer("before_seq", {false, 1});
  auto after = q.integer("after_seq", {false, 0});
  if (int(offset.has_value()) + int(before.has_value()) + int(after.has_value()) > 1) {
    q.add_error("offset", "Use at most one of offset, before_seq and after_seq", "value_error");
  }
  q.check();
  Conversation c = find_visible(ctx, me, req.param("channel_id"), "Channel not found");
  require_read(c, me);
  // The access check above ran on the primary (a removal takes effect at once); the page may come from the
  // replica (Context::reads).
  db::Connection& reads = ctx.reads();
  db::Result page = before  ? reads.exec(kHistoryBefore, {c.id, limit, *before})
                    : after ? reads.exec(kHistoryAfter, {c.id, limit, *after})
                            : reads.exec(kHistoryNewest, {c.id, limit, offset.value_or(0)});
  return Response::json(200, MessageRows(page).array());
}

Response send(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  take_send_token(ctx, me);
  return send_message(ctx, me, read_send_input(req, true), kChannelWording);
}

Response get(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c;
  MessageRef m = find_readable_message(ctx, me, req.param("id"), &c);
  return Response::json(200, message_json(ctx, m.id));
}

Response edit(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto content = read_content(in);
  in.check();
  return Response::json(200, edit_message(ctx, me, req.param("id"), *content));
}

Response remove(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c;
  MessageRef m = find_readable_message(ctx, me, req.param("id"), &c);
  delete_message(ctx, me, c, m, "Not allowed to delete this message");
  return Response::json_field(200, "message", "Message deleted successfully");
}

// The message a reaction is about: visible, not deleted, in a conversation the caller is in and
// that is not archived.
Conversation reaction_target(Context& ctx, const CurrentUser& me, const std::string& message_id) {
  Conversation c;
  find_readable_message(ctx, me, message_id, &c);
  require_member(c);
  require_not_archived(c);
  return c;
}

void reaction_event(Outbox& out, db::Transaction& tx, const Conversation& c, const CurrentUser& me,
                    const std::string& message_id, const std::string& emoji, const char* action,
                    const std::string& reaction_id) {
  json::Value data = json::Value::object();
  data.set("emoji", emoji).set("user_id", me.id).set("username", me.username).set("action", action);
  data.set("reaction_id", reaction_id);
  json::Value e = json::Value::object();
  e.set("message_id", message_id).set("channel_id", c.id).set("conversation_id", c.id).set("data", std::move(data));
  out.event(tx, Event{"message_reaction", c.id, Audience::kConversation, {}, std::move(e)});
}

Response toggle_reaction(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto message_id = in.uuid("message_id");
  auto emoji = in.string("emoji", {true, 1, limits::kEmojiMaxBytes, true, "Emoji"});
  if (emoji && emoji->size() > limits::kEmojiMaxBytes) {
    in.add_error("emoji", "Emoji must be at most " + std::to_string(limits::kEmojiMaxBytes) + " bytes",
                 "string_too_long");
  }
  in.check();
  Conversation c = reaction_target(ctx, me, *message_id);
  Outbox out;
  json::Value result = json::Value::object();
  {
    db::Transaction tx(ctx.db);
    auto removed = tx.exec(kRemoveReaction, {*message_id, me.id, *emoji});
    if (!removed.empty()) {
      reaction_event(out, tx, c, me, *message_id, *emoji, "remove", removed.str(0, "id"));
      result.set("action", "remove").set_null("reaction");
    } else {
      auto added = tx.exec(kAddReaction, {*message_id, me.id, *emoji, me.username});
      if (added.empty()) http::fail(409, "Reaction changed concurrently; try again");
      reaction_event(out, tx, c, me, *message_id, *emoji, "add", added.str(0, "id"));
      result.set("action", "add").set("reaction", json::Value::raw(added.str(0, "j")));
    }
    tx.commit();
  }
  out.relay(ctx);
  return Response::json(200, result);
}

Response delete_reaction(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  const std::string& id = req.param("reaction_id");
  if (!crypto::is_uuid(id)) http::not_found("Reaction not found");
  auto r = ctx.db.exec(kFindReaction, {id});
  if (r.empty()) http::not_found("Reaction not found");
  std::string message_id = r.str(0, "message_id");
  Conversation c = reaction_target(ctx, me, message_id);
  if (r.text(0, "user_id") != me.id) http::forbidden("Can only remove your own reactions");
  Outbox out;
  {
    db::Transaction tx(ctx.db);
    if (tx.exec(kDeleteReactionById, {id}).empty()) http::not_found("Reaction not found");
    reaction_event(out, tx, c, me, message_id, r.str(0, "emoji"), "remove", id);
    tx.commit();
  }
  out.relay(ctx);
  return Response::json_field(200, "action", "remove");
}

Response my_mentions(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  int64_t limit = q.page_limit(limits::kMentionsPage);
  int64_t offset = q.integer("offset", {false, 0}).value_or(0);
  q.check();
  std::string page = MessageRows(ctx.db.exec(kMyMentions, {me.id, limit, offset})).array();
  ctx.db.exec(kMentionsSeen, {me.id});
  return Response::json(200, page);
}

Response replies(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  int64_t limit = q.page_limit(limits::kRepliesPage);
  int64_t after = q.integer("after_seq", {false, 0}).value_or(0);
  q.check();
  Conversation c;
  MessageRef m = find_readable_message(ctx, me, req.param("id"), &c);
  return Response::json(200, MessageRows(ctx.reads().exec(kReplies, {m.id, limit, after})).array());
}

Response search(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  auto text = q.string("q", {true, 1, 500, true, "Search query"});
  auto channel_id = q.uuid("channel_id", false);
  int64_t limit = q.page_limit(limits::kMessageSearchPage);
  q.check();
  if (channel_id) {
    Conversation c = find_visible(ctx, me, *channel_id, "Channel not found");
    require_member(c);
  }
  // On the primary: the statement itself checks membership, and a replica's membership may lag a removal.
  return Response::json(200, MessageRows(ctx.db.exec(kSearch, {me.id, *text, channel_id, limit})).array());
}

Response mark_read(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto channel_id = in.uuid("channel_id");
  auto seq = in.integer("seq", {false, 0});
  auto message_id = in.uuid("message_id", false);
  if (!seq && !message_id && in.ok()) in.add_error("seq", "Seq or message id is required", "missing");
  in.check();
  Conversation c = find_visible(ctx, me, *channel_id, "Channel not found");
  require_member(c);
  int64_t target = seq.value_or(0);
  if (message_id) {
    auto r = ctx.db.exec(kMessageSeq, {*message_id, c.id});
    if (r.empty()) http::not_found("Message not found");
    target = r.int64(0, "seq");
  }
  auto r = ctx.db.exec(kMarkRead, {c.id, me.id, target});
  if (r.empty()) http::not_found("Channel not found");
  json::Value e = json::Value::object();
  e.set("channel_id", c.id).set("conversation_id", c.id).set("seq", r.int64(0, "last_read_seq"));
  publish_ephemeral(ctx, "read_receipt", {me.id}, c.id, std::move(e));
  return Response::no_content();
}

}  // namespace

std::vector<http::Route> messages_routes() {
  return {
      {"POST", "/api/v1/messages", send},
      {"GET", "/api/v1/messages/channel/:channel_id", history},
      {"GET", "/api/v1/messages/search", search},
      {"POST", "/api/v1/messages/reactions", toggle_reaction},
      {"DELETE", "/api/v1/messages/reactions/:reaction_id", delete_reaction},
      {"POST", "/api/v1/messages/read", mark_read},
      {"GET", "/api/v1/messages/mentions/my", my_mentions},
      {"GET", "/api/v1/messages/:id", get},
      {"PUT", "/api/v1/messages/:id", edit},
      {"DELETE", "/api/v1/messages/:id", remove},
      {"GET", "/api/v1/messages/:id/replies", replies},
  };
}

}  // namespace chat::handlers
