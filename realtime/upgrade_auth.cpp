// authenticate(): domain::check_token's verdict as the upgrade's HTTP status, then the membership the
// hub starts the user with, then the replay fetch. The SQL lives in domain/, shared with the handlers.
#include "realtime/upgrade_auth.hpp"

#include "core/jwt.hpp"
#include "core/log.hpp"
#include "domain/membership.hpp"
#include "domain/principal.hpp"
#include "realtime/replay_fetch.hpp"

namespace chat::realtime {
namespace {

AuthResult refuse(AuthResult r, int status, const char* detail) {
  r.status = status;
  r.detail = detail;
  return r;
}

}  // namespace

AuthResult authenticate(Context& ctx, const AuthRequest& req) {
  AuthResult r;
  r.conn = req.conn;
  try {
    domain::TokenCheck check = domain::check_token(ctx, req.token);
    switch (check.outcome) {
      case domain::TokenCheck::Outcome::kOk:
        break;
      case domain::TokenCheck::Outcome::kInactive:
        return refuse(std::move(r), 403, "Inactive user");
      case domain::TokenCheck::Outcome::kInvalid:
        if (check.jwt_error != jwt::Error::kNone) {
          log::info("ws_token_refused", {{"reason", jwt::error_name(check.jwt_error)}});
        }
        return refuse(std::move(r), 401, "Could not validate credentials");
      case domain::TokenCheck::Outcome::kRevoked:
        return refuse(std::move(r), 401, "Could not validate credentials");
    }
    r.user_id = check.user.id;
    r.username = check.user.username;
    r.session_id = check.user.session_id;
    r.session_created_ms = check.session_created_ms;
    r.conversations = domain::conversation_ids_of(ctx, r.user_id);
  } catch (const std::exception& e) {
    log::error("ws_auth_db_failed", {{"error", e.what()}});
    return refuse(std::move(r), 503, "Service unavailable");
  }
  if (req.plan.kind == ResumePlan::Kind::kFetch) {
    try {
      r.fetched = fetch_missed(ctx.redis, req.plan.after);
    } catch (const std::exception& e) {
      log::warn("ws_replay_fetch_failed", {{"error", e.what()}});
      r.fetched = FetchedRange{};
      r.fetched->resync_reason = "replay_unavailable";
    }
  }
  return r;
}

}  // namespace chat::realtime
