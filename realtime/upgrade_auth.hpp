// The worker-thread half of an upgrade: who the token names (domain/principal's rules, the same 401/403
// as the REST handlers), the user's conversations (domain/membership), and for a resume the ring cannot
// serve, the missed events. The loop thread gets the result as a value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "realtime/resume.hpp"

namespace chat::realtime {

struct AuthRequest {
  uint64_t conn = 0;
  std::string token;
  ResumePlan plan;  // kFetch: read the missed entries from Redis
};

struct AuthResult {
  uint64_t conn = 0;
  int status = 0;  // 0: authenticated; else the HTTP status to refuse with (401, 403, 503)
  std::string detail;
  std::string user_id;
  std::string username;
  std::string session_id;
  int64_t session_created_ms = 0;  // wall clock: a revocation of every session spares those made after it
  std::vector<std::string> conversations;
  std::optional<FetchedRange> fetched;
};

// Never throws: a database that does not answer is a 503, a replay that cannot be read a resync.
AuthResult authenticate(Context& ctx, const AuthRequest& req);

}  // namespace chat::realtime
