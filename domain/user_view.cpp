// User JSON view.
#include "domain/user_view.hpp"

#include "core/timefmt.hpp"

namespace chat::domain {

UserColumns::UserColumns(const db::Result& r, const std::string& prefix) {
  auto col = [&](const char* name) { return r.column((prefix + name).c_str()); };
  id = col("id");
  username = col("username");
  email = col("email");
  avatar = col("avatar");
  role = col("role");
  status = col("status");
  is_active = col("is_active");
  is_online = col("is_online");
  last_seen_at = col("last_seen_at");
  created_at = col("created_at");
  updated_at = col("updated_at");
}

json::Value user_json(const db::Result& r, int row, bool with_email) {
  return user_json(r, row, UserColumns(r), with_email);
}

json::Value user_json(const db::Result& r, int row, const UserColumns& c, bool with_email) {
  json::Value u = json::Value::object();
  u.set("id", r.text(row, c.id))
      .set("username", r.text(row, c.username));
  // Hidden is "", never null: clients call string methods on it (docs/api.md#user).
  u.set("email", with_email ? r.text(row, c.email) : std::string_view());
  if (r.is_null(row, c.avatar)) u.set_null("avatar");
  else u.set("avatar", r.text(row, c.avatar));
  u.set("role", r.text(row, c.role))
      .set("status", r.text(row, c.status))
      .set("is_active", r.text(row, c.is_active) == "t")
      .set("is_online", r.text(row, c.is_online) == "t");
  if (r.is_null(row, c.last_seen_at)) u.set_null("last_seen_at");
  else u.set("last_seen_at", pg_to_rfc3339(r.text(row, c.last_seen_at)));
  u.set("created_at", pg_to_rfc3339(r.text(row, c.created_at)))
      .set("updated_at", pg_to_rfc3339(r.text(row, c.updated_at)));
  return u;
}

}  // namespace chat::domain
