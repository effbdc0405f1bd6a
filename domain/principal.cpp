// require_user and check_token: one query checks user, session and status together, for the handlers
// and the realtime upgrade alike; the handlers remember its answer for a moment (principal_cache.hpp).
#include "domain/principal.hpp"


#include "core/crypto.hpp"
#include "core/jwt.hpp"
#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"
#include "domain/principal_cache.hpp"

namespace chat::domain {
namespace {

constexpr db::Statement kLoadPrincipal{
    "auth_load_principal",
    "SELECT u.id, u.username, u.role, " CHAT_USER_INACTIVE_SQL " AS inactive, s.revoked_at IS NOT NULL AS revoked, "
    "(extract(epoch FROM s.created_at) * 1000)::bigint AS session_created_ms "
    "FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = $1 AND s.id = $2"};

// The claims of a token whose signature, algorithm and expiry check out and that names a user and a session.
std::optional<jwt::Claims> verified_claims(Context& ctx, const std::string& token, jwt::Error* error) {
  auto claims = jwt::decode(ctx.config.jwt_secret, token, unix_now(), error);
  if (!claims || !crypto::is_uuid(claims->sub) || !crypto::is_uuid(claims->sid)) return std::nullopt;
  return claims;
}

// The user and session of verified claims, by the rules of check_token.
TokenCheck load_principal(Context& ctx, const jwt::Claims& claims);

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

  TokenCheck check;
  if (auto claims = verified_claims(ctx, token, &check.jwt_error)) {
    PrincipalCache* cache = principal_cache(ctx.config);
    PrincipalCache::Lookup seen;
    if (cache) {
      seen = cache->find(claims->sid, claims->sub);
      if (seen.user) {
        ++ctx.principal_cache_hits;
        ctx.caller_id = seen.user->id;
        return std::move(*seen.user);
      }
    }
    check = load_principal(ctx, *claims);
    if (cache && check.outcome == TokenCheck::Outcome::kOk) cache->remember(seen, check.user);
  }
  switch (check.outcome) {
    case TokenCheck::Outcome::kOk:
      ctx.caller_id = check.user.id;
      return std::move(check.user);
    case TokenCheck::Outcome::kInactive:
      http::forbidden("Inactive user");
    case TokenCheck::Outcome::kInvalid:
      if (check.jwt_error != jwt::Error::kNone) {
        log::info("token_refused", {{"reason", jwt::error_name(check.jwt_error)}});
      }
      break;
    case TokenCheck::Outcome::kRevoked:
      break;
  }
  unauthorized("Could not validate credentials");
}

TokenCheck check_token(Context& ctx, const std::string& token) {
  TokenCheck out;
  auto claims = verified_claims(ctx, token, &out.jwt_error);
  return claims ? load_principal(ctx, *claims) : out;
}

namespace {

TokenCheck load_principal(Context& ctx, const jwt::Claims& claims) {
  TokenCheck out;
  auto r = ctx.db.exec(kLoadPrincipal, {claims.sub, claims.sid});
  if (r.empty()) return out;
  // Inactive first: a ban revokes every session, and while it lasts each of its tokens says why
  // (docs/api.md#authentication).
  if (r.boolean(0, "inactive")) {
    out.outcome = TokenCheck::Outcome::kInactive;
    return out;
  }
  if (r.boolean(0, "revoked")) {
    out.outcome = TokenCheck::Outcome::kRevoked;
    return out;
  }
  out.outcome = TokenCheck::Outcome::kOk;
  out.user = CurrentUser{r.str(0, "id"), r.str(0, "username"), r.str(0, "role"), claims.sid};
  out.session_created_ms = r.int64(0, "session_created_ms");
  return out;
}

}  // namespace

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

void publish_user_changed(Context& ctx, const std::string& user_id) {
  try {
    ctx.redis.command({"PUBLISH", stream::kUserChanged, user_id});
  } catch (const std::exception& e) {
    log::warn("user_change_publish_failed", {{"user_id", user_id}, {"error", e.what()}});
  }
}

}  // namespace chat::domain
