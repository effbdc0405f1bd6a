// /api/v1/users: headless registration, list, me, get, update (PUT and PATCH), search.
#include "core/crypto.hpp"
#include "domain/accounts.hpp"
#include "domain/principal.hpp"
#include "domain/user_view.hpp"
#include "handlers/routes.hpp"

namespace chat::handlers {
using namespace chat::domain;  // the handlers are the HTTP face of the domain layer
namespace {

using http::Request;
using http::Response;

const DuplicateMessages kHeadlessDuplicates{"The user with this email already exists in the system.",
                                            "The user with this username already exists in the system."};

constexpr db::Statement kListUsers{
    "users_list",
    "SELECT " CHAT_USER_COLUMNS " FROM users u ORDER BY lower(u.username), u.username LIMIT $1 OFFSET $2"};

// Substring of the username (prefix matches first), or the whole email. `$2` is the LIKE pattern with
// the query's own % _ \ escaped, so input never acts as a wildcard.
constexpr db::Statement kSearchUsers{
    "users_search",
    "SELECT " CHAT_USER_COLUMNS " FROM users u "
    "WHERE lower(u.username) LIKE $2 OR lower(u.email) = lower($1) "
    "ORDER BY left(lower(u.username), length($1)) = lower($1) DESC, lower(u.username), u.username LIMIT $3"};

constexpr db::Statement kUserExists{"users_exists", "SELECT 1 FROM users WHERE id = $1"};

// $2/$4/$6 say whether the field was given; a given avatar may be null (cleared).
constexpr db::Statement kUpdateUser{
    "users_update",
    "UPDATE users SET "
    "username = CASE WHEN $2 THEN $3 ELSE username END, "
    "email = CASE WHEN $4 THEN $5 ELSE email END, "
    "avatar = CASE WHEN $6 THEN $7 ELSE avatar END, "
    "updated_at = now() WHERE id = $1"};

Response create_user(Context& ctx, Request& req) {
  NewAccount acc = read_new_account(req);
  std::string id = register_account(ctx, acc, kHeadlessDuplicates);
  return Response::json(201, load_user_json(ctx, id, true));
}

Response list_users(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  int64_t limit = q.page_limit(limits::kUsersPage);
  int64_t offset = q.integer("offset", {false, 0}).value_or(0);
  q.check();
  auto r = ctx.db.exec(kListUsers, {limit, offset});
  json::Value out = json::Value::array();
  // Addresses only for an admin; for anyone else the caller's own entry is a listed user like the others.
  for (int i = 0; i < r.rows(); ++i) out.push(user_json(r, i, me.is_admin()));
  return Response::json(200, out);
}

Response get_me(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  return Response::json(200, load_own_user_json(ctx, me.id));
}

Response get_user(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  const std::string& id = req.param("id");
  return Response::json(200, load_user_json(ctx, id, me.is_admin() || id == me.id));
}

std::string like_contains(const std::string& q) {
  std::string out = "%";
  for (char c : q) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  out.push_back('%');
  return out;
}

// `source` holds the query text: the query string's `q`, or the path's last segment.
Response search(Context& ctx, Request& req, http::Input source, const char* key) {
  CurrentUser me = require_user(ctx, req);
  http::Input q = http::Input::query(req);
  int64_t limit = q.page_limit(limits::kUserSearchPage);
  auto text = source.string(key, {true, 1, 254, true, "Search query"});
  q.check();
  source.check();
  auto r = ctx.db.exec(kSearchUsers, {*text, like_contains(*text), limit});
  json::Value out = json::Value::array();
  // An address only for an admin, and never the caller's own: a search result is not an answer about oneself.
  for (int i = 0; i < r.rows(); ++i) out.push(user_json(r, i, me.is_admin() && r.text(i, "id") != me.id));
  return Response::json(200, out);
}

Response search_by_query(Context& ctx, Request& req) { return search(ctx, req, http::Input::query(req), "q"); }

Response search_by_path(Context& ctx, Request& req) { return search(ctx, req, http::Input::path(req), "query"); }

Response update_user(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  // role, status, is_active and anything else in the body are ignored: those belong to moderation.
  auto username = read_username(in, false);
  auto email = read_email(in, false);
  auto avatar = read_avatar(in);
  in.check();  // validation (422) comes before visibility (404) and permission (403)
  const std::string& id = req.param("id");
  if (!crypto::is_uuid(id) || ctx.db.exec(kUserExists, {id}).empty()) http::not_found("User not found");
  if (id != me.id && !me.is_admin()) http::forbidden("Can only update your own profile");
  bool set_avatar = in.present("avatar");
  try {
    ctx.db.exec(kUpdateUser, {id, username.has_value(), username, email.has_value(), email, set_avatar, avatar});
  } catch (const db::DbError&) {
    rethrow_user_conflict(std::current_exception(), kTeamChatDuplicates);
  }
  if (username) publish_user_changed(ctx, id);
  return Response::json(200, load_user_json(ctx, id, true));
}

}  // namespace

std::vector<http::Route> users_routes() {
  return {
      {"POST", "/api/v1/users", create_user},
      {"GET", "/api/v1/users", list_users},
      {"GET", "/api/v1/users/me", get_me},
      {"GET", "/api/v1/users/search", search_by_query},
      {"GET", "/api/v1/users/search/:query", search_by_path},
      {"GET", "/api/v1/users/:id", get_user},
      {"PUT", "/api/v1/users/:id", update_user},
      {"PATCH", "/api/v1/users/:id", update_user},
  };
}

}  // namespace chat::handlers
