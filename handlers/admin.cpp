// /api/v1/admin: bans, suspensions, roles and the audit log (API.md §7). Every route is for global admins:
// anyone else gets 403 `Not enough permissions`, before the body is even read.
#include <algorithm>

#include "core/crypto.hpp"
#include "core/timefmt.hpp"
#include "core/validate.hpp"
#include "handlers/common/auth_guard.hpp"
#include "handlers/common/moderation.hpp"
#include "handlers/routes.hpp"

namespace chat::handlers {
namespace {

using http::Request;
using http::Response;

constexpr double kMaxHours = 24.0 * 365 * 100;  // a century: "until lifted" is no duration at all
constexpr double kDefaultSuspensionHours = 24;
const char* const kRoles[] = {"member", "moderator", "admin"};

// Newest first, every filter optional; $6/$7 page it.
constexpr db::Statement kAuditLog{
    "admin_audit_log",
    "SELECT coalesce(json_agg(json_build_object('id', a.id, 'actor_id', a.actor_id, 'actor', a.actor, "
    "'action', a.action, 'target_kind', a.target_kind, 'target_id', a.target_id, 'reason', a.reason, "
    "'details', a.details, 'created_at', rfc3339(a.created_at)) ORDER BY a.id DESC), '[]') AS j "
    "FROM (SELECT * FROM audit_log WHERE ($1::uuid IS NULL OR actor_id = $1) AND ($2::uuid IS NULL OR target_id = $2) "
    "AND ($3::text IS NULL OR action = $3) AND ($4::timestamptz IS NULL OR created_at >= $4) "
    "AND ($5::timestamptz IS NULL OR created_at < $5) ORDER BY id DESC LIMIT $6 OFFSET $7) a"};

CurrentUser require_admin(Context& ctx, const Request& req) {
  CurrentUser me = require_user(ctx, req);
  if (!me.is_admin()) http::forbidden("Not enough permissions");
  return me;
}

std::optional<std::string> read_reason(http::Input& in) {
  auto r = in.string("reason", {false, 0, 500, true, "Reason"});
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
  int64_t limit = q.integer("limit", {false, 1, 100}).value_or(50);
  int64_t offset = q.integer("offset", {false, 0}).value_or(0);
  auto actor = q.uuid("actor_id", false);
  auto target = q.uuid("target_id", false);
  auto action = q.string("action", {false, 1, 64, true, "Action"});
  std::optional<std::string> range[2];
  const char* keys[] = {"since", "until"};
  for (int i = 0; i < 2; ++i) {
    range[i] = q.string(keys[i], {false, 1, 64, true, nullptr});
    if (range[i] && !is_rfc3339(*range[i])) {
      q.add_error(keys[i], http::label_of(keys[i]) + " must be an RFC 3339 date-time such as 2026-11-21T22:23:17Z",
                  "datetime_parsing");
      range[i].reset();
    }
  }
  q.check();
  auto r = ctx.db.exec(kAuditLog, {actor, target, action, range[0], range[1], limit, offset});
  return Response::json(200, r.str(0, "j"));
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
