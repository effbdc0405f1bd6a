// /api/v1/admin: bans, suspensions, roles and the audit log (docs/api.md#moderation). Every route is for global admins:
// anyone else gets 403 `Not enough permissions`, before the body is even read.
#include <algorithm>

#include "core/crypto.hpp"
#include "core/timefmt.hpp"
#include "core/validate.hpp"
#include "domain/principal.hpp"
#include "domain/moderation.hpp"
#include "handlers/routes.hpp"

namespace chat::handlers {
using namespace chat::domain;  // the handlers are the HTTP face of the domain layer
namespace {

using http::Request;
using http::Response;

constexpr double kMaxHours = 24.0 * 365 * 100;  // a century: "until lifted" is no duration at all
constexpr double kDefaultSuspensionHours = 24;
const char* const kRoles[] = {"member", "moderator", "admin"};

CurrentUser require_admin(Context& ctx, const Request& req) {
  CurrentUser me = require_user(ctx, req);
  if (!me.is_admin()) http::forbidden("Not enough permissions");
  return me;
}

std::optional<std::string> read_reason(http::Input& in) {
  auto r = in.string("reason", {false, limits::kModerationReason.min, limits::kModerationReason.max, true, "Reason"});
  if (r && r->empty()) return std::nullopt;
  return r;
}

Response restrict(Context& ctx, Request& req, Restriction what) {
  CurrentUser me = require_admin(ctx, req);
  http::Input in = http::Input::body(req);
  auto reason = read_reason(in);
  auto hours = in.number("duration_hours", 0.001, kMaxHours);
  in.check();
  if (!hours && what == Restriction::kSuspend) hours = kDefaultSuspensionHours;
  json::Value user = restrict_user(ctx, Actor::of(me), req.param("id"), what, reason, hours);
  json::Value out = json::Value::object();
  out.set("message", what == Restriction::kBan ? "User banned" : "User suspended").set("user", std::move(user));
  return Response::json(200, out);
}

Response ban(Context& ctx, Request& req) { return restrict(ctx, req, Restriction::kBan); }
Response suspend(Context& ctx, Request& req) { return restrict(ctx, req, Restriction::kSuspend); }

Response unban(Context& ctx, Request& req) {
  CurrentUser me = require_admin(ctx, req);
  http::Input in = http::Input::body(req);
  auto reason = read_reason(in);
  in.check();
  json::Value out = json::Value::object();
  out.set("message", "User unbanned").set("user", lift_restriction(ctx, Actor::of(me), req.param("id"), reason));
  return Response::json(200, out);
}

Response role(Context& ctx, Request& req) {
  CurrentUser me = require_admin(ctx, req);
  http::Input in = http::Input::body(req);
  auto r = in.string("role", {true, 1, 16, true, "Role"});
  if (r && std::find(std::begin(kRoles), std::end(kRoles), *r) == std::end(kRoles)) {
    in.add_error("role", "Role must be one of member, moderator, admin", "enum");
  }
  in.check();
  json::Value out = json::Value::object();
  out.set("message", "Role updated").set("user", set_role(ctx, Actor::of(me), req.param("id"), *r));
  return Response::json(200, out);
}

Response audit_log(Context& ctx, Request& req) {
  require_admin(ctx, req);
  http::Input q = http::Input::query(req);
  AuditFilter f;
  f.limit = q.page_limit(limits::kAuditLogPage);
  f.offset = q.integer("offset", {false, 0}).value_or(0);
  f.actor_id = q.uuid("actor_id", false);
  f.target_id = q.uuid("target_id", false);
  f.action = q.string("action", {false, 1, 64, true, "Action"});
  for (auto [key, value] : {std::pair{"since", &f.since}, std::pair{"until", &f.until}}) {
    *value = q.string(key, {false, 1, 64, true, nullptr});
    if (*value && !is_rfc3339(**value)) {
      q.add_error(key, http::label_of(key) + " must be an RFC 3339 date-time such as 2026-11-21T22:23:17Z",
                  "datetime_parsing");
      value->reset();
    }
  }
  q.check();
  return Response::json(200, audit_log_json(ctx, f));
}

}  // namespace

std::vector<http::Route> admin_routes() {
  return {
      {"POST", "/api/v1/admin/users/:id/ban", ban},
      {"POST", "/api/v1/admin/users/:id/unban", unban},
      {"POST", "/api/v1/admin/users/:id/suspend", suspend},
      {"PUT", "/api/v1/admin/users/:id/role", role},
      {"GET", "/api/v1/admin/audit-log", audit_log},
  };
}

}  // namespace chat::handlers
