// Membership as id lists: the conversations a user is in, and the members of a conversation. One
// definition for every program that follows membership without the conversation rows (the realtime
// daemon subscribes sockets and announces presence by these).
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"

namespace chat::domain {

// Ids of the conversations `user_id` is a member of, of every kind. Throws DbError.
std::vector<std::string> conversation_ids_of(Context& ctx, const std::string& user_id);

// Ids of the members of `conversation_id`. Throws DbError.
std::vector<std::string> member_ids_of(Context& ctx, const std::string& conversation_id);

}  // namespace chat::domain
