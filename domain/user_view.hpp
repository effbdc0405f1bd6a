// The User object (docs/api.md#user), built from one row of a query that selects CHAT_USER_COLUMNS.
#pragma once

#include <string>

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

// The column numbers of CHAT_USER_COLUMNS in a result, looked up once; `prefix` is what a query that also
// selects other objects' columns put before each name ("su_" gives su_id, su_username, ...).
struct UserColumns {
  UserColumns(const db::Result& r, const std::string& prefix = "");
  int id, username, email, avatar, role, status, is_active, is_online, last_seen_at, created_at, updated_at;
};

// `with_email` is true only for answers about the caller itself or to a global admin: registration
// must not be a way to harvest addresses.
json::Value user_json(const db::Result& r, int row, bool with_email);
json::Value user_json(const db::Result& r, int row, const UserColumns& c, bool with_email);

}  // namespace chat::domain
