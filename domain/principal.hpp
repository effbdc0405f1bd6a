// Authentication of a request: Bearer JWT (HS256, exp, algorithm pinned) + a session not revoked +
// an active user. Every protected route calls require_user first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/http.hpp"
#include "core/jwt.hpp"

namespace chat::domain {

struct CurrentUser {
  std::string id;
  std::string username;
  std::string role;        // member | moderator | admin
  std::string session_id;  // the token's sid

  bool is_admin() const { return role == "admin"; }
  bool is_moderator() const { return role == "admin" || role == "moderator"; }
};

// 401 `Not authenticated` without a Bearer token; 401 `Could not validate credentials` for a bad,
// expired, wrong-algorithm or revoked token or an unknown user (both with WWW-Authenticate: Bearer);
// 403 `Inactive user` for a banned, suspended or deactivated user (before the revocation check: a ban revokes
// the user's sessions, and its tokens still say why they are refused while it lasts).
CurrentUser require_user(Context& ctx, const http::Request& req);

// What a bearer token proves, as a value: the same rules as require_user for a caller that answers
// without exceptions (the realtime daemon refuses an upgrade with the status this maps to).
struct TokenCheck {
  enum class Outcome {
    kOk,
    kInvalid,   // bad, expired or wrong-algorithm token, or an unknown user or session: 401
    kInactive,  // banned, suspended or deactivated (checked before kRevoked, as require_user does): 403
    kRevoked,   // the session was revoked: 401
  };
  Outcome outcome = Outcome::kInvalid;
  jwt::Error jwt_error = jwt::Error::kNone;  // why the JWT itself was refused, for the caller's log line
  CurrentUser user;                          // kOk
  int64_t session_created_ms = 0;            // kOk, wall clock: a later revoke-all spares only newer sessions
};

// JWT (HS256, exp), then one query for user + session together. Refusals are values; a database
// failure throws DbError.
TokenCheck check_token(Context& ctx, const std::string& token);

[[noreturn]] void unauthorized(const char* detail);

// SQL fragment: true while a ban or suspension is in effect, or the account is deactivated.
#define CHAT_USER_INACTIVE_SQL \
  "(NOT u.is_active OR (u.status <> 'active' AND (u.status_until IS NULL OR u.status_until > now())))"

// Tells the realtime daemons that these sessions are revoked (their sockets get force_disconnect).
// Best effort: the database is the truth, and every request checks it (or trusts a principal cache entry at
// most PRINCIPAL_CACHE_MS old, which the message would have dropped).
void publish_session_revoked(Context& ctx, const std::vector<std::string>& session_ids, const std::string& user_id,
                             const char* reason);
// Tells the handlers' principal caches that the user's role or username changed (after the COMMIT).
void publish_user_changed(Context& ctx, const std::string& user_id);

}  // namespace chat::domain
