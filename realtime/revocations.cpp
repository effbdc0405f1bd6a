// The one-minute memory of revocations.
#include "realtime/revocations.hpp"

namespace chat::realtime {
namespace {

std::string user_key(const std::string& user_id) { return "*:" + user_id; }

}  // namespace

void Revocations::revoke_session(const std::string& session_id, int64_t wall_ms) { revoked_[session_id] = wall_ms; }

void Revocations::revoke_user(const std::string& user_id, int64_t wall_ms) { revoked_[user_key(user_id)] = wall_ms; }

void Revocations::record(const stream::Revocation& m, int64_t wall_ms) {
  if (m.every_session()) {
    revoke_user(m.user_id, wall_ms);
  } else {
    revoke_session(m.session_id, wall_ms);
  }
}

Revocations::Verdict Revocations::check(const std::string& session_id, const std::string& user_id,
                                        int64_t session_created_ms, int64_t wall_ms) {
  auto all_at = recent(user_key(user_id), wall_ms);
  if (recent(session_id, wall_ms)) return Verdict::kSessionRevoked;
  if (all_at && session_created_ms <= *all_at) return Verdict::kUserRevoked;
  return Verdict::kAllowed;
}

void Revocations::expire(int64_t wall_ms) {
  for (auto it = revoked_.begin(); it != revoked_.end();) {
    it = wall_ms - it->second > kRememberMs ? revoked_.erase(it) : std::next(it);
  }
}

std::optional<int64_t> Revocations::recent(const std::string& key, int64_t wall_ms) {
  auto it = revoked_.find(key);
  if (it == revoked_.end()) return std::nullopt;
  if (wall_ms - it->second > kRememberMs) {
    revoked_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

}  // namespace chat::realtime
