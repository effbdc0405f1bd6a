// /api/v1/auth: register, login (JSON, form and the headless OAuth2 form), refresh with rotation and
// reuse detection, logout, password change, me.
#include "core/crypto.hpp"
#include "core/log.hpp"
#include "core/password.hpp"
#include "core/timefmt.hpp"
#include "domain/accounts.hpp"
#include "domain/principal.hpp"
#include "handlers/routes.hpp"

namespace chat::handlers {
using namespace chat::domain;  // the handlers are the HTTP face of the domain layer
namespace {

using http::Request;
using http::Response;

// The refresh token row and its session, locked so two refreshes of one token cannot both win.
// `in_grace`: it was rotated less than $2 seconds ago.
constexpr db::Statement kFindRefresh{
    "auth_find_refresh",
    "SELECT rt.id, rt.session_id, s.user_id, rt.used_at IS NOT NULL AS used, rt.expires_at <= now() AS expired, "
    "s.revoked_at IS NOT NULL AS revoked, rt.replaced_jti, rt.replaced_iat, "
    "coalesce(rt.used_at > now() - make_interval(secs => $2::int), false) AS in_grace "
    "FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1 "
    "FOR UPDATE OF rt, s"};
// The rotation records the access token it issued, so that a repeat within the grace window can answer it again.
constexpr db::Statement kUseRefresh{
    "auth_use_refresh",
    "UPDATE refresh_tokens SET used_at = now(), replaced_jti = $2, replaced_iat = $3 WHERE id = $1"};
// Whether the token a rotation issued is still the session's current one (neither rotated nor expired).
constexpr db::Statement kRefreshCurrent{
    "auth_refresh_current",
    "SELECT 1 FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()"};
constexpr db::Statement kTouchSession{"auth_touch_session", "UPDATE sessions SET last_used_at = now() WHERE id = $1"};
constexpr db::Statement kRevokeSession{
    "auth_revoke_session",
    "UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE id = $1 AND revoked_at IS NULL"};
constexpr db::Statement kUserInactive{
    "auth_user_inactive", "SELECT " CHAT_USER_INACTIVE_SQL " AS inactive FROM users u WHERE u.id = $1"};
constexpr db::Statement kPasswordHash{"auth_password_hash", "SELECT hashed_password FROM users WHERE id = $1"};
constexpr db::Statement kSetPassword{"auth_set_password",
                                     "UPDATE users SET hashed_password = $2, updated_at = now() WHERE id = $1"};
constexpr db::Statement kRevokeOtherSessions{
    "auth_revoke_other_sessions",
    "UPDATE sessions SET revoked_at = now(), revoke_reason = 'password_changed' "
    "WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id"};

Response register_user(Context& ctx, Request& req) {
  NewAccount acc = read_new_account(req);
  std::string id = register_account(ctx, acc, kTeamChatDuplicates);
  return Response::json(201, open_session(ctx, id, req));
}

struct LoginForm {
  std::string login;
  std::string password;
};

LoginForm read_login(const Request& req) {
  http::Input in = http::Input::body(req, /*allow_form=*/true);
  auto login = in.string("username", {true, 1, 320, true, "Username"});
  auto password = in.string("password", {true, 1, 1024, false, "Password"});
  in.check();
  return {*login, *password};
}

Response login(Context& ctx, Request& req) {
  LoginForm f = read_login(req);
  bool inactive = false;
  auto id = check_credentials(ctx, f.login, f.password, &inactive);
  if (!id) handlers::unauthorized("Incorrect username or password");
  if (inactive) http::forbidden("Inactive user");
  return Response::json(200, open_session(ctx, *id, req));
}

// The headless family's OAuth2 password flow: the same login, with its own error wording.
Response login_access_token(Context& ctx, Request& req) {
  LoginForm f = read_login(req);
  bool inactive = false;
  auto id = check_credentials(ctx, f.login, f.password, &inactive);
  if (!id) http::bad_request("Incorrect email or password");
  if (inactive) http::bad_request("Inactive user");
  return Response::json(200, open_session(ctx, *id, req));
}

// The refresh token a rotation of `token` issues: derived, not random, so that a repeat of the same rotation
// (two tabs refreshing at once) can answer the same pair without the token ever being stored in clear.
// Knowing it needs the signing key, which forges access tokens anyway.
std::string rotated_refresh_token(const Context& ctx, const std::string& token) {
  return crypto::base64url_encode(crypto::hmac_sha256(ctx.config.jwt_secret, "chat refresh rotation\n" + token));
}

Response refresh(Context& ctx, Request& req) {
  http::Input in = http::Input::body(req);
  auto token = in.string("refresh_token", {true, 1, 512, true, "Refresh token"});
  in.check();
  const std::string next = rotated_refresh_token(ctx, *token);
  std::string user_id;
  std::string sid;
  std::string jti = crypto::uuid_v4();
  int64_t iat = unix_now();
  {
    db::Transaction tx(ctx.db);
    auto r = tx.exec(kFindRefresh, {crypto::sha256_hex(*token), ctx.config.refresh_reuse_grace_seconds});
    if (r.empty() || r.boolean(0, "revoked") || r.boolean(0, "expired")) {
      handlers::unauthorized("Could not validate credentials");
    }
    user_id = r.str(0, "user_id");
    sid = r.str(0, "session_id");
    bool repeat = false;
    if (r.boolean(0, "used")) {
      // The same token again right after its rotation, while the pair it got is still current: two tabs
      // refreshing at once, not a stolen copy. Anything else is reuse: someone holds a copy, and the whole
      // session goes (RFC 6819 §5.2.2.3).
      repeat = r.boolean(0, "in_grace") && !r.is_null(0, "replaced_jti") &&
               !tx.exec(kRefreshCurrent, {crypto::sha256_hex(next)}).empty();
      if (!repeat) {
        tx.exec(kRevokeSession, {sid, "refresh_token_reuse"});
        tx.commit();
        log::warn("refresh_token_reuse", {{"session_id", sid}, {"user_id", user_id}});
        publish_session_revoked(ctx, {sid}, user_id, "refresh_token_reuse");
        handlers::unauthorized("Could not validate credentials");
      }
      jti = r.str(0, "replaced_jti");
      iat = r.int64(0, "replaced_iat");
    }
    auto u = tx.exec(kUserInactive, {user_id});
    if (u.empty()) handlers::unauthorized("Could not validate credentials");
    if (u.boolean(0, "inactive")) http::forbidden("Inactive user");
    if (!repeat) {
      tx.exec(kUseRefresh, {r.str(0, "id"), jti, iat});
      store_refresh_token(ctx, tx, sid, next);
      tx.exec(kTouchSession, {sid});
    }
    tx.commit();
  }
  return Response::json(200, auth_response(ctx, user_id, sid, next, jti, iat));
}

Response logout(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  ctx.db.exec(kRevokeSession, {me.session_id, "logout"});
  publish_session_revoked(ctx, {me.session_id}, me.id, "logout");
  return Response::no_content();
}

Response change_password(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  http::Input in = http::Input::body(req);
  auto current = in.string("current_password", {true, 1, 1024, false, "Current password"});
  auto next = read_new_password(in, "new_password");
  in.check();
  auto r = ctx.db.exec(kPasswordHash, {me.id});
  if (r.empty() || !password::verify(r.str(0, "hashed_password"), *current)) http::bad_request("Incorrect password");
  const std::string hashed = password::hash(*next, ctx.config.argon2);
  std::vector<std::string> revoked;
  {
    db::Transaction tx(ctx.db);
    tx.exec(kSetPassword, {me.id, hashed});
    auto gone = tx.exec(kRevokeOtherSessions, {me.id, me.session_id});
    for (int i = 0; i < gone.rows(); ++i) revoked.push_back(gone.str(i, "id"));
    tx.commit();
  }
  publish_session_revoked(ctx, revoked, me.id, "password_changed");
  return Response::no_content();
}

Response me(Context& ctx, Request& req) {
  CurrentUser me = require_user(ctx, req);
  return Response::json(200, load_own_user_json(ctx, me.id));
}

}  // namespace

std::vector<http::Route> auth_routes() {
  return {
      {"POST", "/api/v1/auth/register", register_user},
      {"POST", "/api/v1/auth/login", login},
      {"POST", "/api/v1/auth/login/access-token", login_access_token},
      {"POST", "/api/v1/auth/refresh", refresh},
      {"POST", "/api/v1/auth/logout", logout},
      {"PUT", "/api/v1/auth/password", change_password},
      {"GET", "/api/v1/auth/me", me},
  };
}

}  // namespace chat::handlers
