// The two membership lists, each one index lookup on conversation_members.
#include "domain/membership.hpp"

namespace chat::domain {
namespace {

constexpr db::Statement kConversationsOf{
    "membership_conversations_of",
    "SELECT conversation_id::text AS id FROM conversation_members WHERE user_id = $1"};
constexpr db::Statement kMembersOf{
    "membership_members_of", "SELECT user_id::text AS id FROM conversation_members WHERE conversation_id = $1"};

std::vector<std::string> ids(const db::Result& rows) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) out.push_back(rows.str(i, "id"));
  return out;
}

}  // namespace

std::vector<std::string> conversation_ids_of(Context& ctx, const std::string& user_id) {
  return ids(ctx.db.exec(kConversationsOf, {user_id}));
}

std::vector<std::string> member_ids_of(Context& ctx, const std::string& conversation_id) {
  return ids(ctx.db.exec(kMembersOf, {conversation_id}));
}

}  // namespace chat::domain
