// The revocations this daemon heard of in the last minute (chat:sessions:revoked, the sweep), kept so an
// upgrade whose check in PostgreSQL raced a revocation is refused rather than let through. Plain data:
// the wall clock is passed in, so the expiry rule is unit tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/stream.hpp"

namespace chat::realtime {

class Revocations {
 public:
  // Longer than any upgrade's check takes (its timeout is 30 s); past this PostgreSQL already knows.
  static constexpr int64_t kRememberMs = 60'000;

  enum class Verdict {
    kAllowed,
    kSessionRevoked,  // the session itself (a logout): 401
    kUserRevoked,     // every session of the user, and this one is not newer than that: 403
  };

  void revoke_session(const std::string& session_id, int64_t wall_ms);
  void revoke_user(const std::string& user_id, int64_t wall_ms);
  // A chat:sessions:revoked message (stream::parse_revocation): its session, or every session of its user.
  void record(const stream::Revocation& m, int64_t wall_ms);

  // For an upgrade just authenticated: a session opened after its user's revoke-all is spared (the user
  // logged in again, with the new password or after an unban).
  Verdict check(const std::string& session_id, const std::string& user_id, int64_t session_created_ms,
                int64_t wall_ms);
  // Forgets what is older than kRememberMs.
  void expire(int64_t wall_ms);
  size_t size() const { return revoked_.size(); }

 private:
  std::optional<int64_t> recent(const std::string& key, int64_t wall_ms);

  // Session id or "*:<user>" (session ids are UUIDs, so the two never meet) → when it was revoked, wall
  // clock ms: comparable with a session's creation time in PostgreSQL.
  std::unordered_map<std::string, int64_t> revoked_;
};

}  // namespace chat::realtime
