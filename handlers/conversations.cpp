// /api/v1/conversations: every conversation the caller is in (channels, direct and group), as
// headless clients see them, with cursor-paged history.
#include <algorithm>
#include <charconv>

#include "core/crypto.hpp"
#include "core/validate.hpp"
#include "domain/access.hpp"
#include "domain/conversation_sql.hpp"
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

constexpr int64_t kNoCursor = INT64_MAX;

// The caller's conversations of every kind, most recent activity first.
constexpr db::Statement kList{
    "conv_list",
    "SELECT coalesce(json_agg(" CHAT_CONVERSATION_JSON " ORDER BY c.at DESC, c.id), '[]') AS j FROM ("
    "  SELECT c.*, coalesce(c.last_message_at, c.created_at) AS at FROM conversation_members p "
    "  JOIN conversations c ON c.id = p.conversation_id WHERE p.user_id = $1 "
    "  ORDER BY at DESC, c.id LIMIT $2 OFFSET $3) c" CHAT_CONVERSATION_JOINS("$1")};
constexpr db::Statement kJson{
    "conv_json",
    "SELECT " CHAT_CONVERSATION_JSON " AS j FROM conversations c" CHAT_CONVERSATION_JOINS("$2") " WHERE c.id = $1"};
constexpr db::Statement kFullJson{
    "conv_full_json",
    "SELECT " CHAT_CONVERSATION_FULL_JSON " AS j FROM conversations c" CHAT_CONVERSATION_JOINS("$2")
    " WHERE c.id = $1"};
constexpr db::Statement kUsers{"conv_users", "SELECT id, username FROM users WHERE id = ANY($1::uuid[])"};
constexpr db::Statement kFindDirect{"conv_find_direct", "SELECT id FROM conversations WHERE direct_key = $1"};
constexpr db::Statement kCreate{
    "conv_create",
    "INSERT INTO conversations (kind, name, is_private, creator_id, direct_key) "
    "VALUES ($1, $2, true, $3, $4) RETURNING id"};
constexpr db::Statement kAddMember{
    "conv_add_member",
    "INSERT INTO conversation_members (conversation_id, user_id, role, last_read_seq) "
    "SELECT $1, $2, $3, c.last_seq FROM conversations c WHERE c.id = $1 ON CONFLICT DO NOTHING RETURNING user_id"};
constexpr db::Statement kRemoveMember{
    "conv_remove_member",
    "DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 RETURNING user_id"};
// Adding people to a direct conversation makes it a group owned by its creator.
constexpr db::Statement kMakeGroup{
    "conv_make_group",
    "WITH c AS (UPDATE conversations SET kind = 'group', direct_key = NULL, updated_at = now() "
    "           WHERE id = $1 AND kind = 'direct' RETURNING id, creator_id) "
    "UPDATE conversation_members cm SET role = 'owner' FROM c "
    "WHERE cm.conversation_id = c.id AND cm.user_id = c.creator_id"};
constexpr db::Statement kPage{
    "conv_page",
    CHAT_MESSAGE_ROWS("SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL AND seq < $2 "
                      "ORDER BY seq DESC LIMIT $3", "m.seq DESC")};
constexpr db::Statement kMessageSeq{"conv_message_seq",
                                    "SELECT seq FROM messages WHERE id = $1 AND conversation_id = $2"};
constexpr db::Statement kMarkRead{
    "conv_mark_read",
    "UPDATE conversation_members SET last_read_seq = greatest(last_read_seq, $3::bigint) "
    "WHERE conversation_id = $1 AND user_id = $2 RETURNING last_read_seq"};

// The opaque cursor: base64url of "s<seq>" (the seq of the last message of the previous page).
std::string encode_cursor(int64_t seq) { return crypto::base64url_encode("s" + std::to_string(seq)); }

std::optional<int64_t> decode_cursor(const std::string& cursor) {
  std::string raw;
  if (!crypto::base64url_decode(cursor, raw) || raw.size() < 2 || raw[0] != 's') return std::nullopt;
  int64_t seq = 0;
  auto [end, ec] = std::from_chars(raw.data() + 1, raw.data() + raw.size(), seq);
  if (ec != std::errc() || end != raw.data() + raw.size() || seq < 1) return std::nullopt;
  return seq;
}

Conversation find_conversation(Context& ctx, const CurrentUser& me, const std::string& id) {
  return find_visible(ctx, me, id, "Conversation not found");
}

// The usernames of `ids`; 404 `User not found` when any does not exist.
std::map<std::string, std::string> load_users(Context& ctx, const std::vector<std::string>& ids) {
  std::map<std::string, std::string> names;
  auto r = ctx.db.exec(kUsers, {db::text_array(ids)});
  for (int i = 0; i < r.rows(); ++i) names[r.str(i, "id")] = r.str(i, "username");
  for (const auto& id : ids) {
    if (!names.count(id)) http::not_found("User not found");
  }
  return names;
}

json::Value joined_event(const std::string& conversation_id, const std::string& user_id, const std::string& name) {
  json::Value e = json::Value::object();
  e.set("user_id", user_id).set("username", name).set("channel_id", conversation_id);
  e.set("conversation_id", conversation_id);
  return e;
}

// `members` ride along in user_ids so realtime daemons can subscribe their sockets without a query.
void created_event(Context& ctx, Outbox& out, db::Transaction& tx, const std::string& id, const CurrentUser& me,
                   std::vector<std::string> members) {
  json::Value e = json::Value::object();
  e.set("data", json::Value::raw(ctx.db.exec(kJson, {id, me.id}).str(0, "j")));
  out.event(tx, Event{"conversation_created", id, Audience::kConversation, std::move(members), std::move(e)});
}

Response create(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto title =
      in.string("title", {false, limits::kConversationTitle.min, limits::kConversationTitle.max, true, "Title"});
  bool is_group = in.boolean("is_group").value_or(false);
  auto ids = in.uuid_list("participant_ids");
  in.check();
  std::vector<std::string> others;
  for (const auto& id : *ids) {
    if (id != me.id && std::find(others.begin(), others.end(), id) == others.end()) others.push_back(id);
  }
  if (!is_group) {
    if (others.empty() && !ids->empty()) http::bad_request("Cannot create direct chat with yourself");
    if (others.size() != 1) http::bad_request("Direct chats must have exactly 1 other participant");
  }
  auto names = load_users(ctx, others);
  if (!is_group) {
    const std::string& other = others[0];
    std::string key = std::min(me.id, other) + ":" + std::max(me.id, other);
    Outbox out;
    int status = 200;
    std::string id;
    {
      db::Transaction tx(ctx.db);
      auto found = tx.exec(kFindDirect, {key});
      if (!found.empty()) {
        id = found.str(0, "id");
        if (!tx.exec(kAddMember, {id, me.id, "member"}).empty()) {  // a caller who had left is back in
          out.event(tx, Event{"user_joined", id, Audience::kConversation, {me.id}, joined_event(id, me.id, me.username)});
        }
      } else {
        try {
          id = tx.exec(kCreate, {"direct", std::nullopt, me.id, key}).str(0, "id");
        } catch (const db::DbError& e) {
          if (!e.unique_violation()) throw;
          http::fail(409, "Conversation created concurrently; try again");
        }
        tx.exec(kAddMember, {id, me.id, "member"});
        tx.exec(kAddMember, {id, other, "member"});
        created_event(ctx, out, tx, id, me, {me.id, other});
        status = 201;
      }
      tx.commit();
    }
    out.relay(ctx);
    return Response::json(status, ctx.db.exec(kJson, {id, me.id}).str(0, "j"));
  }
  Outbox out;
  std::string id;
  {
    db::Transaction tx(ctx.db);
    id = tx.exec(kCreate, {"group", title && !title->empty() ? title : std::nullopt, me.id, std::nullopt}).str(0, "id");
    tx.exec(kAddMember, {id, me.id, "owner"});
    for (const auto& other : others) tx.exec(kAddMember, {id, other, "member"});
    std::vector<std::string> members = others;
    members.push_back(me.id);
    created_event(ctx, out, tx, id, me, std::move(members));
    tx.commit();
  }
  out.relay(ctx);
  return Response::json(201, ctx.db.exec(kJson, {id, me.id}).str(0, "j"));
}

Response list(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  int64_t skip = q.integer("skip", {false, 0}).value_or(0);
  int64_t limit = q.page_limit(limits::kConversationsPage);
  q.check();
  return Response::json(200, ctx.db.exec(kList, {me.id, limit, skip}).str(0, "j"));
}

Response get(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c = find_conversation(ctx, me, req.param("id"));
  require_read(c, me);
  return Response::json(200, ctx.db.exec(kFullJson, {c.id, me.id}).str(0, "j"));
}

Response add_participants(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto ids = in.uuid_list("participant_ids");
  in.check();
  Conversation c = find_conversation(ctx, me, req.param("id"));
  bool allowed = (c.is_member && c.creator_id == me.id) || c.member_role == "owner" || c.member_role == "admin";
  if (!allowed) http::forbidden("Only the creator can add participants");
  require_not_archived(c, "Cannot add participants to an archived conversation");
  auto names = load_users(ctx, *ids);
  Outbox out;
  {
    db::Transaction tx(ctx.db);
    if (c.kind == "direct") tx.exec(kMakeGroup, {c.id});
    for (const auto& [id, name] : names) {
      if (tx.exec(kAddMember, {c.id, id, "member"}).empty()) continue;
      out.event(tx, Event{"user_joined", c.id, Audience::kConversation, {id}, joined_event(c.id, id, name)});
    }
    tx.commit();
  }
  out.relay(ctx);
  return Response::json_field(200, "message", "Participants added successfully");
}

Response leave(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c = find_conversation(ctx, me, req.param("id"));
  if (!c.is_member) http::not_found("Conversation not found");
  Outbox out;
  {
    db::Transaction tx(ctx.db);
    if (tx.exec(kRemoveMember, {c.id, me.id}).empty()) http::not_found("Conversation not found");
    out.event(tx, Event{"user_left", c.id, Audience::kConversation, {me.id}, joined_event(c.id, me.id, me.username)});
    tx.commit();
  }
  out.relay(ctx);
  return Response::no_content();
}

Response send(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  take_send_token(ctx, me);
  return send_message(ctx, me, read_send_input(req, false, req.param("id")), kConversationWording);
}

Response messages(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  int64_t limit = q.page_limit(limits::kConversationMessagesPage);
  int64_t before = kNoCursor;
  if (const std::string* cursor = req.query_param("cursor"); cursor && !cursor->empty()) {
    auto seq = decode_cursor(*cursor);
    if (!seq) q.add_error("cursor", "Cursor is not valid", "value_error");
    else before = *seq;
  }
  q.check();
  Conversation c = find_conversation(ctx, me, req.param("id"));
  require_read(c, me);
  // One row more than the page tells whether an older message exists.
  auto r = ctx.reads().exec(kPage, {c.id, before, limit + 1});
  int shown = std::min<int>(r.rows(), static_cast<int>(limit));
  json::Value out = json::Value::object();
  out.set("items", json::Value::raw(MessageRows(r).array(0, shown)));
  if (r.rows() > limit) out.set("next_cursor", encode_cursor(r.int64(shown - 1, "seq")));
  else out.set_null("next_cursor");
  return Response::json(200, out);
}

Response mark_read(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto message_id = in.uuid("last_seen_message_id");
  in.check();
  Conversation c = find_conversation(ctx, me, req.param("id"));
  require_member(c);
  auto m = ctx.db.exec(kMessageSeq, {*message_id, c.id});
  if (m.empty()) http::not_found("Message not found in this conversation");
  auto r = ctx.db.exec(kMarkRead, {c.id, me.id, m.int64(0, "seq")});
  if (r.empty()) http::not_found("Conversation not found");
  json::Value e = json::Value::object();
  e.set("channel_id", c.id).set("conversation_id", c.id).set("seq", r.int64(0, "last_read_seq"));
  publish_ephemeral(ctx, "read_receipt", {me.id}, c.id, std::move(e));
  return Response::json_field(200, "status", "ok");
}

Response delete_message_route(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c = find_conversation(ctx, me, req.param("id"));
  require_read(c, me);
  auto m = find_message(ctx, req.param("message_id"));
  if (!m || m->conversation_id != c.id) http::not_found("Message not found in this conversation");
  if (m->deleted) http::bad_request("Message is already deleted");
  delete_message(ctx, me, c, *m, "You can only delete your own messages");
  return Response::json_field(200, "status", "deleted");
}

}  // namespace

std::vector<http::Route> conversations_routes() {
  return {
      {"POST", "/api/v1/conversations", create},
      {"GET", "/api/v1/conversations", list},
      {"GET", "/api/v1/conversations/:id", get},
      {"POST", "/api/v1/conversations/:id/participants", add_participants},
      {"DELETE", "/api/v1/conversations/:id/participants/me", leave},
      {"POST", "/api/v1/conversations/:id/messages", send},
      {"GET", "/api/v1/conversations/:id/messages", messages},
      {"PUT", "/api/v1/conversations/:id/messages/read", mark_read},
      {"DELETE", "/api/v1/conversations/:id/messages/:message_id", delete_message_route},
  };
}

}  // namespace chat::handlers
