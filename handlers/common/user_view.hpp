// The User object of API.md §2, built from one row of a query that selects CHAT_USER_COLUMNS.
#pragma once

#include "core/db.hpp"
#include "core/json.hpp"

// Spliced into SQL constants (literal concatenation), always with the alias `u` for users.
#define CHAT_USER_COLUMNS                                                                                   \
  "u.id, u.username, u.email, u.avatar, u.role, u.status, u.is_active, u.is_online, u.last_seen_at, " \
  "u.created_at, u.updated_at"

namespace chat::handlers {

// `with_email` is true only for answers about the caller itself or to a global admin: registration
// must not be a way to harvest addresses.
json::Value user_json(const db::Result& r, int row, bool with_email);

}  // namespace chat::handlers
