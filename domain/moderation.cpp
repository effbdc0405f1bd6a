// Moderation: the rules of who may act on whom, the changes and their audit rows in one transaction each.
#include "domain/moderation.hpp"

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "core/password.hpp"
#include "core/timefmt.hpp"
#include "domain/accounts.hpp"
#include "domain/user_view.hpp"

namespace chat::domain {
namespace {

constexpr db::Statement kTarget{"mod_target", "SELECT id, username, role, " CHAT_USER_STATUS_SQL
                                              " AS status FROM users u WHERE id = $1 FOR UPDATE"};

// $4: seconds, or NULL for "until lifted".
constexpr db::Statement kRestrict{
    "mod_restrict",
    "UPDATE users SET status = $2, status_reason = $3, "
    "status_until = CASE WHEN $4::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $4::float8) END, "
    "updated_at = now() WHERE id = $1"};
constexpr db::Statement kRevokeSessions{
    "mod_revoke_sessions",
    "UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL"};
constexpr db::Statement kLift{
    "mod_lift",
    "UPDATE users SET status = 'active', status_reason = NULL, status_until = NULL, updated_at = now() WHERE id = $1"};
constexpr db::Statement kSetRole{"mod_set_role", "UPDATE users SET role = $2, updated_at = now() WHERE id = $1"};
constexpr db::Statement kSetPassword{"mod_set_password",
                                     "UPDATE users SET hashed_password = $2, updated_at = now() WHERE id = $1"};
constexpr db::Statement kAudit{
    "mod_audit",
    "INSERT INTO audit_log (actor_id, actor, action, target_kind, target_id, reason, details) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"};
// The user as an admin sees it: the User object, and how long a ban or suspension lasts.
constexpr db::Statement kAdminView{
    "mod_admin_view",
    "SELECT " CHAT_USER_COLUMNS ", u.status_until, u.status_reason FROM users u WHERE u.id = $1"};
// Newest first, every filter optional; $7/$8 page it.
constexpr db::Statement kAuditLog{
    "mod_audit_log",
    "SELECT coalesce(json_agg(json_build_object('id', a.id, 'actor_id', a.actor_id, 'actor', a.actor, "
    "'action', a.action, 'target_kind', a.target_kind, 'target_id', a.target_id, 'reason', a.reason, "
    "'details', a.details, 'created_at', rfc3339(a.created_at)) ORDER BY a.id DESC), '[]') AS j "
    "FROM (SELECT * FROM audit_log WHERE ($1::uuid IS NULL OR actor_id = $1) AND ($2::text IS NULL OR actor = $2) "
    "AND ($3::uuid IS NULL OR target_id = $3) AND ($4::text IS NULL OR action = $4) "
    "AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6) "
    "ORDER BY id DESC LIMIT $7 OFFSET $8) a"};
constexpr db::Statement kFindUser{
    "mod_find_user",
    "SELECT id FROM users WHERE id::text = lower($1) OR lower(username) = lower($1) OR lower(email) = lower($1) "
    "LIMIT 1"};

struct Target {
  std::string id;
  std::string username;
  std::string role;
  std::string status;
};

// Locks and loads the target, then applies the rules every action shares.
Target checked_target(db::Transaction& tx, const Actor& actor, const std::string& user_id) {
  if (!crypto::is_uuid(user_id)) http::not_found("User not found");
  auto r = tx.exec(kTarget, {user_id});
  if (r.empty()) http::not_found("User not found");
  Target t{r.str(0, "id"), r.str(0, "username"), r.str(0, "role"), r.str(0, "status")};
  if (actor.is_system()) return t;
  if (actor.user_id && *actor.user_id == t.id) http::forbidden("You cannot moderate yourself");
  if (t.role == "admin") http::forbidden("An admin cannot act on another admin");
  return t;
}

json::Value admin_view(Context& ctx, const std::string& user_id) {
  auto r = ctx.db.exec(kAdminView, {user_id});
  if (r.empty()) http::not_found("User not found");
  json::Value u = user_json(r, 0, true);
  if (auto until = r.opt(0, "status_until"); until && r.text(0, "status") != "active") {
    u.set("status_until", pg_to_rfc3339(*until));
  } else {
    u.set_null("status_until");
  }
  u.set("status_reason", r.text(0, "status") != "active" ? r.opt(0, "status_reason") : std::nullopt);
  return u;
}

}  // namespace

void audit(db::Transaction& tx, const Actor& actor, std::string_view action, const char* target_kind,
           const std::optional<std::string>& target_id, const std::optional<std::string>& reason,
           const json::Value& details) {
  tx.exec(kAudit, {actor.user_id, actor.name, std::string(action), target_kind, target_id, reason,
                   details ? details.dump() : std::string("{}")});
}

json::Value restrict_user(Context& ctx, const Actor& actor, const std::string& user_id, Restriction what,
                          const std::optional<std::string>& reason, std::optional<double> hours) {
  const char* status = what == Restriction::kBan ? "banned" : "suspended";
  std::optional<std::string> seconds;
  if (hours) seconds = std::to_string(*hours * ctx.config.moderation_hour_seconds);
  Target t;
  {
    db::Transaction tx(ctx.db);
    t = checked_target(tx, actor, user_id);
    tx.exec(kRestrict, {t.id, status, reason, seconds});
    tx.exec(kRevokeSessions, {t.id, status});
    json::Value details = json::Value::object();
    if (hours) details.set("duration_hours", *hours);
    else details.set_null("duration_hours");
    details.set("previous_status", t.status);
    audit(tx, actor, what == Restriction::kBan ? "user.ban" : "user.suspend", "user", t.id, reason, details);
    tx.commit();
  }
  // Every socket of the user on every daemon: force_disconnect and 4003 (docs/events.md §4).
  publish_session_revoked(ctx, {"*"}, t.id, status);
  log::info("user_restricted", {{"user_id", t.id}, {"status", status}, {"actor", actor.name}});
  return admin_view(ctx, t.id);
}

json::Value lift_restriction(Context& ctx, const Actor& actor, const std::string& user_id,
                             const std::optional<std::string>& reason) {
  {
    db::Transaction tx(ctx.db);
    Target t = checked_target(tx, actor, user_id);
    if (t.status == "active") http::bad_request("User is not banned or suspended");
    tx.exec(kLift, {t.id});
    json::Value details = json::Value::object();
    details.set("previous_status", t.status);
    audit(tx, actor, "user.unban", "user", t.id, reason, details);
    tx.commit();
  }
  log::info("user_restriction_lifted", {{"user_id", user_id}, {"actor", actor.name}});
  return admin_view(ctx, user_id);
}

json::Value set_role(Context& ctx, const Actor& actor, const std::string& user_id, const std::string& role) {
  {
    db::Transaction tx(ctx.db);
    if (!actor.is_system() && actor.user_id && *actor.user_id == user_id) {
      http::forbidden("You cannot change your own role");
    }
    Target t = checked_target(tx, actor, user_id);
    // Nobody is above an admin but the operator: an admin grants and removes moderator only.
    if (role == "admin" && !actor.is_system()) http::forbidden("Only the operator's chat-admin can make an admin");
    if (t.role != role) {
      tx.exec(kSetRole, {t.id, role});
      json::Value details = json::Value::object();
      details.set("from", t.role).set("to", role);
      audit(tx, actor, "user.role", "user", t.id, std::nullopt, details);
    }
    tx.commit();
  }
  publish_user_changed(ctx, user_id);
  return admin_view(ctx, user_id);
}

std::string reset_password(Context& ctx, const Actor& actor, const std::string& user_id) {
  const std::string password = crypto::random_token(15);  // 20 URL-safe characters, 120 bits
  const std::string hashed = password::hash(password, ctx.config.argon2);
  {
    db::Transaction tx(ctx.db);
    Target t = checked_target(tx, actor, user_id);
    tx.exec(kSetPassword, {t.id, hashed});
    tx.exec(kRevokeSessions, {t.id, "password_reset"});
    audit(tx, actor, "user.password_reset", "user", t.id, std::nullopt, json::Value::object());
    tx.commit();
  }
  publish_session_revoked(ctx, {"*"}, user_id, "password_reset");
  return password;
}

std::string create_user(Context& ctx, const Actor& actor, const std::string& username, const std::string& email,
                        const std::string& password, const std::string& role) {
  std::vector<http::FieldError> problems;
  auto normalized = normalize_email(email);
  if (!valid_username(username)) problems.push_back({{"username"}, "Username must be 3 to 32 letters, digits, _ . -", "value_error"});
  if (!normalized) problems.push_back({{"email"}, "Email must be a valid email address", "value_error"});
  if (http::utf8_length(password) < 8 || http::utf8_length(password) > 256) {
    problems.push_back({{"password"}, "Password must be 8 to 256 characters", "value_error"});
  }
  if (!problems.empty()) http::unprocessable(problems);
  std::string id = register_account(ctx, NewAccount{*normalized, username, password, std::nullopt}, kTeamChatDuplicates);
  {
    db::Transaction tx(ctx.db);
    json::Value details = json::Value::object();
    details.set("username", username);
    audit(tx, actor, "user.create", "user", id, std::nullopt, details);
    tx.commit();
  }
  if (role != "member") set_role(ctx, actor, id, role);
  return id;
}

std::string audit_log_json(Context& ctx, const AuditFilter& f) {
  return ctx.db.exec(kAuditLog, {f.actor_id, f.actor, f.target_id, f.action, f.since, f.until, f.limit, f.offset})
      .str(0, "j");
}

std::optional<std::string> find_user_id(Context& ctx, const std::string& id_username_or_email) {
  auto r = ctx.db.exec(kFindUser, {id_username_or_email});
  if (r.empty()) return std::nullopt;
  return r.str(0, "id");
}

}  // namespace chat::domain
