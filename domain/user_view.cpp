// User JSON view.
#include "domain/user_view.hpp"

#include "core/timefmt.hpp"

namespace chat::domain {

json::Value user_json(const db::Result& r, int row, bool with_email) {
  json::Value u = json::Value::object();
  u.set("id", r.text(row, "id"))
      .set("username", r.text(row, "username"));
  // Hidden is "", never null: clients call string methods on it (docs/api.md#user).
  u.set("email", with_email ? r.text(row, "email") : std::string_view());
  u.set("avatar", r.opt(row, "avatar"))
      .set("role", r.text(row, "role"))
      .set("status", r.text(row, "status"))
      .set("is_active", r.boolean(row, "is_active"))
      .set("is_online", r.boolean(row, "is_online"));
  if (auto seen = r.opt(row, "last_seen_at")) u.set("last_seen_at", pg_to_rfc3339(*seen));
  else u.set_null("last_seen_at");
  u.set("created_at", pg_to_rfc3339(r.text(row, "created_at")))
      .set("updated_at", pg_to_rfc3339(r.text(row, "updated_at")));
  return u;
}

}  // namespace chat::domain
