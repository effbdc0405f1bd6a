// The User object (docs/api.md#user), built from one row of a query that selects CHAT_USER_COLUMNS.
#pragma once

#include "core/db.hpp"
#include "core/json.hpp"

// The status in effect: a ban or suspension whose `status_until` has passed is over by itself (no job runs
// for that), so the user reads as active again.
#define CHAT_USER_STATUS_SQL "(CASE WHEN u.status <> 'active' AND u.status_until <= now() THEN 'active' ELSE u.status END)"

// Spliced into SQL constants (literal concatenation), always with the alias `u` for users.
#define CHAT_USER_COLUMNS                                                                                          \
  "u.id, u.username, u.email, u.avatar, u.role, " CHAT_USER_STATUS_SQL " AS status, u.is_active, u.is_online, " \
  "u.last_seen_at, u.created_at, u.updated_at"

namespace chat::domain {

// `with_email` is true only for answers about the caller itself or to a global admin: registration
// must not be a way to harvest addresses.
json::Value user_json(const db::Result& r, int row, bool with_email);

}  // namespace chat::domain
