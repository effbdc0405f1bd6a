// One statement per thousand sessions: revoked ones keep their revoke_reason, the others are user_inactive.
#include "realtime/session_sweep.hpp"

#include <algorithm>

#include "domain/principal.hpp"  // CHAT_USER_INACTIVE_SQL: one definition of "inactive"

namespace chat::realtime {
namespace {

constexpr db::Statement kRefused{
    "rt_refused_sessions",
    "SELECT s.id, CASE WHEN s.revoked_at IS NOT NULL THEN coalesce(s.revoke_reason, 'session_revoked') "
    "ELSE 'user_inactive' END AS reason FROM sessions s JOIN users u ON u.id = s.user_id "
    "WHERE s.id = ANY($1::uuid[]) AND (s.revoked_at IS NOT NULL OR " CHAT_USER_INACTIVE_SQL ")"};
constexpr size_t kChunk = 1000;

}  // namespace

std::vector<std::pair<std::string, std::string>> refused_sessions(Context& ctx, const std::vector<std::string>& ids) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < ids.size(); i += kChunk) {
    std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                   ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + kChunk)));
    auto r = ctx.db.exec(kRefused, {db::text_array(chunk)});
    for (int k = 0; k < r.rows(); ++k) out.emplace_back(r.str(k, "id"), r.str(k, "reason"));
  }
  return out;
}

}  // namespace chat::realtime
