// /api/v1/channels: the channel-kind conversations as team-chat clients see them.
#include "core/crypto.hpp"
#include "core/validate.hpp"
#include "domain/access.hpp"
#include "domain/conversation_sql.hpp"
#include "domain/outbox.hpp"
#include "domain/moderation.hpp"
#include "handlers/routes.hpp"

namespace chat::handlers {
using namespace chat::domain;  // the handlers are the HTTP face of the domain layer
namespace {

using http::Request;
using http::Response;

// Every public channel and the private ones the caller is in, by name; one statement per page.
constexpr db::Statement kListChannels{
    "ch_list",
    "SELECT coalesce(json_agg(" CHAT_CHANNEL_JSON " ORDER BY lower(c.name), c.id), '[]') AS j FROM ("
    "  SELECT * FROM conversations c WHERE c.kind = 'channel' AND NOT c.is_archived AND (NOT c.is_private OR "
    "  EXISTS (SELECT 1 FROM conversation_members p WHERE p.conversation_id = c.id AND p.user_id = $1)) "
    "  ORDER BY lower(c.name), c.id LIMIT $2 OFFSET $3) c" CHAT_CONVERSATION_JOINS("$1")};
constexpr db::Statement kMyChannels{
    "ch_my",
    "SELECT coalesce(json_agg(" CHAT_CHANNEL_FULL_JSON " ORDER BY lower(c.name), c.id), '[]') AS j FROM ("
    "  SELECT c.* FROM conversation_members p JOIN conversations c ON c.id = p.conversation_id "
    "  WHERE p.user_id = $1 AND c.kind = 'channel' AND NOT c.is_archived) c" CHAT_CONVERSATION_JOINS("$1")};
constexpr db::Statement kChannelJson{
    "ch_json",
    "SELECT " CHAT_CHANNEL_JSON " AS j FROM conversations c" CHAT_CONVERSATION_JOINS("$2") " WHERE c.id = $1"};
constexpr db::Statement kChannelFullJson{
    "ch_full_json",
    "SELECT " CHAT_CHANNEL_FULL_JSON " AS j FROM conversations c" CHAT_CONVERSATION_JOINS("$2") " WHERE c.id = $1"};
constexpr db::Statement kNameTaken{
    "ch_name_taken",
    "SELECT 1 FROM conversations WHERE kind = 'channel' AND lower(name) = lower($1) AND id IS DISTINCT FROM $2"};
constexpr db::Statement kCreateChannel{
    "ch_create",
    "INSERT INTO conversations (kind, name, description, is_private, creator_id) "
    "VALUES ('channel', $1, $2, $3, $4) RETURNING id"};
constexpr db::Statement kAddMember{
    "ch_add_member",
    "INSERT INTO conversation_members (conversation_id, user_id, role, last_read_seq) "
    "SELECT $1, $2, $3, c.last_seq FROM conversations c WHERE c.id = $1 "
    "ON CONFLICT DO NOTHING RETURNING user_id"};
constexpr db::Statement kRemoveMember{
    "ch_remove_member", "DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 RETURNING user_id"};
constexpr db::Statement kUpdateChannel{
    "ch_update",
    "UPDATE conversations SET name = CASE WHEN $2 THEN $3 ELSE name END, "
    "description = CASE WHEN $4 THEN $5 ELSE description END, updated_at = now() WHERE id = $1"};
constexpr db::Statement kArchive{"ch_archive",
                                 "UPDATE conversations SET is_archived = true, updated_at = now() WHERE id = $1"};
constexpr db::Statement kFindUser{"ch_find_user", "SELECT username FROM users WHERE id = $1"};
constexpr db::Statement kAvailableUsers{
    "ch_available_users",
    "SELECT coalesce(json_agg(user_public_json(u) ORDER BY lower(u.username)), '[]') AS j FROM users u "
    "WHERE u.id <> $1 AND NOT " CHAT_USER_INACTIVE_SQL};

std::string channel_json(Context& ctx, const std::string& id, const CurrentUser& me, bool full) {
  return ctx.db.exec(full ? kChannelFullJson : kChannelJson, {id, me.id}).str(0, "j");
}

// A channel by path id; other conversation kinds are not channels (404).
Conversation find_channel(Context& ctx, const CurrentUser& me, const std::string& id) {
  Conversation c = find_visible(ctx, me, id, "Channel not found");
  if (!c.is_channel()) http::not_found("Channel not found");
  return c;
}

json::Value membership_event(const Conversation& c, const std::string& user_id, const std::string& username) {
  json::Value e = json::Value::object();
  e.set("user_id", user_id).set("username", username).set("channel_id", c.id).set("conversation_id", c.id);
  return e;
}

// Adds `user_id` with a `user_joined` event; 400 when already a member.
void add_member(Context& ctx, const Conversation& c, const std::string& user_id, const std::string& username) {
  Outbox out;
  {
    db::Transaction tx(ctx.db);
    if (tx.exec(kAddMember, {c.id, user_id, "member"}).empty()) http::bad_request("Already a member of this channel");
    out.event(tx, Event{"user_joined", c.id, Audience::kConversation, {user_id}, membership_event(c, user_id, username)});
    tx.commit();
  }
  out.relay(ctx);
}

// Removes `user_id` with a `user_left` event (the user gets it too); false when not a member.
// `remover`: who removed the user, when it is not the user itself leaving (audited as moderation).
bool remove_member(Context& ctx, const Conversation& c, const std::string& user_id, const std::string& username,
                   const CurrentUser* remover = nullptr) {
  Outbox out;
  {
    db::Transaction tx(ctx.db);
    if (tx.exec(kRemoveMember, {c.id, user_id}).empty()) return false;
    out.event(tx, Event{"user_left", c.id, Audience::kConversation, {user_id}, membership_event(c, user_id, username)});
    if (remover && remover->id != user_id) {
      json::Value details = json::Value::object();
      details.set("conversation_id", c.id).set("username", username);
      audit(tx, Actor::of(*remover), "member.remove", "user", user_id, std::nullopt, details);
    }
    tx.commit();
  }
  out.relay(ctx);
  return true;
}

Response list(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  int64_t limit = q.page_limit(limits::kChannelsPage);
  int64_t offset = q.integer("offset", {false, 0}).value_or(0);
  q.check();
  return Response::json(200, ctx.db.exec(kListChannels, {me.id, limit, offset}).str(0, "j"));
}

Response my(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  return Response::json(200, ctx.db.exec(kMyChannels, {me.id}).str(0, "j"));
}

std::optional<std::string> read_description(http::Input& in) {
  auto d = in.string("description",
                     {false, limits::kChannelDescription.min, limits::kChannelDescription.max, true, "Description"});
  if (d && d->empty()) return std::nullopt;  // an empty description is stored as null
  return d;
}

Response create(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto name = in.string("name", {true, limits::kChannelName.min, limits::kChannelName.max, true, "Channel name"});
  auto description = read_description(in);
  bool is_private = in.boolean("is_private").value_or(false);
  in.check();
  Outbox out;
  std::string id;
  {
    db::Transaction tx(ctx.db);
    if (!tx.exec(kNameTaken, {*name, std::nullopt}).empty()) http::bad_request("Channel name already exists");
    try {
      id = tx.exec(kCreateChannel, {*name, description, is_private, me.id}).str(0, "id");
    } catch (const db::DbError& e) {
      if (e.unique_violation()) http::bad_request("Channel name already exists");
      throw;
    }
    tx.exec(kAddMember, {id, me.id, "owner"});
    json::Value e = json::Value::object();
    e.set("data", json::Value::raw(channel_json(ctx, id, me, false)));
    out.event(tx, Event{"channel_created", id, is_private ? Audience::kConversation : Audience::kEveryone, {me.id},
                        std::move(e)});
    tx.commit();
  }
  out.relay(ctx);
  return Response::json(201, channel_json(ctx, id, me, false));
}

Response get(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c = find_channel(ctx, me, req.param("id"));
  return Response::json(200, channel_json(ctx, c.id, me, true));
}

Response update(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto name = in.string("name", {false, limits::kChannelName.min, limits::kChannelName.max, true, "Channel name"});
  bool set_description = in.present("description");
  auto description = read_description(in);
  in.check();
  Conversation c = find_channel(ctx, me, req.param("id"));
  if (!can_moderate(c, me)) http::forbidden("Only channel owners and admins can update the channel");
  require_not_archived(c);
  if (name && !ctx.db.exec(kNameTaken, {*name, c.id}).empty()) http::bad_request("Channel name already exists");
  try {
    ctx.db.exec(kUpdateChannel, {c.id, name.has_value(), name, set_description, description});
  } catch (const db::DbError& e) {
    if (e.unique_violation()) http::bad_request("Channel name already exists");
    throw;
  }
  return Response::json(200, channel_json(ctx, c.id, me, true));
}

Response archive(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c = find_channel(ctx, me, req.param("id"));
  if (!can_moderate(c, me)) http::forbidden("Only channel owners and admins can archive the channel");
  ctx.db.exec(kArchive, {c.id});
  return Response::no_content();
}

Response join(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto id = in.uuid("channel_id");
  in.check();
  Conversation c = find_channel(ctx, me, *id);
  // Joining is for public channels: a private one is invisible to outsiders, moderators included.
  if (c.is_private && !c.is_member) http::not_found("Channel not found");
  require_not_archived(c);
  if (c.is_member) http::bad_request("Already a member of this channel");
  add_member(ctx, c, me.id, me.username);
  return Response::json_field(200, "message", "Successfully joined channel");
}

Response leave(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c = find_channel(ctx, me, req.param("id"));
  if (!c.is_member || !remove_member(ctx, c, me.id, me.username)) http::bad_request("Not a member of this channel");
  return Response::json_field(200, "message", "Successfully left channel");
}

Response add_user(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto user_id = in.uuid("user_id");
  in.check();
  Conversation c = find_channel(ctx, me, req.param("id"));
  bool allowed = c.is_private ? (c.member_role == "owner" || c.member_role == "admin" || me.is_moderator())
                              : (c.is_member || me.is_moderator());
  if (!allowed) http::forbidden("Not allowed to add users to this channel");
  require_not_archived(c);
  auto u = ctx.db.exec(kFindUser, {*user_id});
  if (u.empty()) http::not_found("User not found");
  std::string username = u.str(0, "username");
  add_member(ctx, c, *user_id, username);
  return Response::json_field(200, "message", "Successfully added " + username + " to channel");
}

Response remove_user(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  Conversation c = find_channel(ctx, me, req.param("id"));
  if (!can_moderate(c, me)) http::forbidden("Only channel owners, admins and moderators can remove members");
  const std::string& user_id = req.param("user_id");
  if (!crypto::is_uuid(user_id)) http::not_found("User is not a member of this channel");
  auto u = ctx.db.exec(kFindUser, {user_id});
  if (u.empty() || !remove_member(ctx, c, user_id, u.str(0, "username"), &me)) {
    http::not_found("User is not a member of this channel");
  }
  return Response::no_content();
}

Response available_users(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  return Response::json(200, ctx.db.exec(kAvailableUsers, {me.id}).str(0, "j"));
}

}  // namespace

std::vector<http::Route> channels_routes() {
  return {
      {"GET", "/api/v1/channels", list},
      {"POST", "/api/v1/channels", create},
      {"GET", "/api/v1/channels/my", my},
      {"POST", "/api/v1/channels/join", join},
      {"GET", "/api/v1/channels/users/available", available_users},
      {"GET", "/api/v1/channels/:id", get},
      {"PUT", "/api/v1/channels/:id", update},
      {"PATCH", "/api/v1/channels/:id", update},
      {"DELETE", "/api/v1/channels/:id", archive},
      {"DELETE", "/api/v1/channels/:id/leave", leave},
      {"POST", "/api/v1/channels/:id/add-user", add_user},
      {"DELETE", "/api/v1/channels/:id/members/:user_id", remove_user},
  };
}

}  // namespace chat::handlers
