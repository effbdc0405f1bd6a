// get_online_users (docs/api.md#client-frames): who of a conversation is online on any daemon. Runs on a worker thread;
// the loop adds the members connected to it, which the presence lane may not have written yet.
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"

namespace chat::realtime {

// Members of the conversation whose presence:online entry (see presence.hpp) has not expired. Throws.
std::vector<std::string> online_members(Context& ctx, const std::string& conversation_id);

}  // namespace chat::realtime
