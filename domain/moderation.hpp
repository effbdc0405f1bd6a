// Moderation (docs/api.md#moderation): bans, suspensions and roles, who may act on whom, and the audit log.
// Shared by the /admin handler group, the moderation done through other routes (a message deleted or a member
// removed by someone else) and chat-admin, the operator's command (actor "system").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/context.hpp"
#include "core/db.hpp"
#include "core/json.hpp"
#include "domain/principal.hpp"

namespace chat::domain {

// Who acts: a signed-in user with its global role, or the operator's command.
struct Actor {
  std::optional<std::string> user_id;  // nullopt for "system"
  std::string name;                    // the username, or "system"
  std::string role;                    // member | moderator | admin | system

  static Actor system() { return {std::nullopt, "system", "system"}; }
  static Actor of(const CurrentUser& u) { return {u.id, u.username, u.role}; }
  bool is_system() const { return role == "system"; }
};

// One row of the audit log, in the transaction of the action it records (written together or not at all).
// `target_kind`: "user", "message" or "conversation".
void audit(db::Transaction& tx, const Actor& actor, std::string_view action, const char* target_kind,
           const std::optional<std::string>& target_id, const std::optional<std::string>& reason,
           const json::Value& details);

enum class Restriction { kBan, kSuspend };

// Bans or suspends a user for `hours` (nullopt: until lifted; an hour is MODERATION_HOUR_SECONDS), revokes
// every session of it, audits, and tells the realtime daemons to close its sockets with force_disconnect.
// The rules (403): no acting on oneself, nor on an admin unless the actor is the system. 404 `User not
// found`. Returns the user as an admin sees it.
json::Value restrict_user(Context& ctx, const Actor& actor, const std::string& user_id, Restriction what,
                          const std::optional<std::string>& reason, std::optional<double> hours);

// Lifts a ban or a suspension (400 `User is not banned or suspended` otherwise); the sessions revoked by the
// ban stay revoked. Same rules as restrict_user.
json::Value lift_restriction(Context& ctx, const Actor& actor, const std::string& user_id,
                             const std::optional<std::string>& reason);

// Sets a global role. A role is granted or removed only by someone above it, never by oneself: an admin
// makes members and moderators of non-admins; only the system makes or unmakes an admin.
json::Value set_role(Context& ctx, const Actor& actor, const std::string& user_id, const std::string& role);

// Gives the user a new random password (returned, to be handed over once), revokes every session of it, and
// audits. For the operator: a sysadmin who lost the first admin's password recovers with it.
std::string reset_password(Context& ctx, const Actor& actor, const std::string& user_id);

// Registers a user as POST /auth/register does (the first becomes admin), then gives it `role`; audited.
std::string create_user(Context& ctx, const Actor& actor, const std::string& username, const std::string& email,
                        const std::string& password, const std::string& role);

// Which audit log entries: every given filter must hold. `actor` is the name as logged ("system" for chat-admin).
struct AuditFilter {
  std::optional<std::string> actor_id;
  std::optional<std::string> actor;
  std::optional<std::string> target_id;
  std::optional<std::string> action;
  std::optional<std::string> since;  // RFC 3339, inclusive
  std::optional<std::string> until;  // RFC 3339, exclusive
  int64_t limit = 50;
  int64_t offset = 0;
};
// The matching entries, newest first, as the JSON array of AuditEntry objects (/openapi.json).
std::string audit_log_json(Context& ctx, const AuditFilter& filter);

// The id of a user named by its id, username or email (chat-admin's arguments); nullopt when none.
std::optional<std::string> find_user_id(Context& ctx, const std::string& id_username_or_email);

}  // namespace chat::domain
