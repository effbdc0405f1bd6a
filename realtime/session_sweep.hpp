// The revocation sweep's question to PostgreSQL: which of the sessions holding sockets here may no longer
// hold one. It bounds how long a revocation published while this daemon's subscription was away goes
// unnoticed (pub/sub does not keep messages). Runs on a worker thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/context.hpp"

namespace chat::realtime {

// Of these session ids, the ones that are revoked or whose user is banned, suspended or deactivated
// (domain/principal's CHAT_USER_INACTIVE_SQL), each with the reason its force_disconnect carries.
// Throws DbError.
std::vector<std::pair<std::string, std::string>> refused_sessions(Context& ctx, const std::vector<std::string>& ids);

}  // namespace chat::realtime
