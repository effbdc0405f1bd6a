// require_user: one query checks user, session and status together.
#include "domain/principal.hpp"


#include "core/crypto.hpp"
#include "core/jwt.hpp"
#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"

namespace chat::domain {
namespace {

constexpr db::Statement kLoadPrincipal{
    "auth_load_principal",
    "SELECT u.id, u.username, u.role, " CHAT_USER_INACTIVE_SQL " AS inactive, s.revoked_at IS NOT NULL AS revoked "
    "FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = $1 AND s.id = $2"};

}  // namespace

void unauthorized(const char* detail) {
  throw http::HttpError(401, detail).with_header("WWW-Authenticate", "Bearer");
}

CurrentUser require_user(Context& ctx, const http::Request& req) {
  const std::string* auth = req.header("authorization");
  if (!auth) unauthorized("Not authenticated");
  std::string_view value(*auth);
  if (value.size() < 7 || !(value.substr(0, 7) == "Bearer " || value.substr(0, 7) == "bearer ")) {
    unauthorized("Not authenticated");
  }
  std::string token(value.substr(7));
  while (!token.empty() && token.front() == ' ') token.erase(token.begin());
  if (token.empty()) unauthorized("Not authenticated");

  jwt::Error why = jwt::Error::kNone;
  auto claims = jwt::decode(ctx.config.jwt_secret, token, unix_now(), &why);
  if (!claims) {
    log::info("token_refused", {{"reason", jwt::error_name(why)}});
    unauthorized("Could not validate credentials");
  }
  if (!crypto::is_uuid(claims->sub) || !crypto::is_uuid(claims->sid)) unauthorized("Could not validate credentials");

  auto r = ctx.db.exec(kLoadPrincipal, {claims->sub, claims->sid});
  if (r.empty()) unauthorized("Could not validate credentials");
  // Inactive first: a ban revokes every session, and while it lasts each of its tokens says why (API.md §1).
  if (r.boolean(0, "inactive")) http::forbidden("Inactive user");
  if (r.boolean(0, "revoked")) unauthorized("Could not validate credentials");
  return CurrentUser{r.str(0, "id"), r.str(0, "username"), r.str(0, "role"), claims->sid};
}

void publish_session_revoked(Context& ctx, const std::vector<std::string>& session_ids, const std::string& user_id,
                             const char* reason) {
  for (const auto& sid : session_ids) {
    try {
      ctx.redis.command({"PUBLISH", stream::kRevoked, stream::encode(stream::Revocation{sid, user_id, reason})});
    } catch (const std::exception& e) {
      log::warn("revocation_publish_failed", {{"session_id", sid}, {"error", e.what()}});
    }
  }
}

}  // namespace chat::domain
