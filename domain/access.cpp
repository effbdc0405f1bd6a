// Conversation lookup with the caller's membership in one query.
#include "domain/access.hpp"

#include "core/crypto.hpp"
#include "core/http.hpp"

namespace chat::domain {
namespace {

constexpr db::Statement kFindConversation{
    "access_find_conversation",
    "SELECT " CHAT_CONVERSATION_ACCESS " "
    "FROM conversations c LEFT JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $2 "
    "WHERE c.id = $1"};

}  // namespace

Conversation find_visible(Context& ctx, const CurrentUser& me, const std::string& id, const char* not_found_detail) {
  if (!crypto::is_uuid(id)) http::not_found(not_found_detail);
  auto r = ctx.db.exec(kFindConversation, {id, me.id});
  if (r.empty()) http::not_found(not_found_detail);
  return visible_from(r, me, not_found_detail);
}

Conversation visible_from(const db::Result& r, const CurrentUser& me, const char* not_found_detail) {
  if (r.is_null(0, "kind")) http::not_found(not_found_detail);
  Conversation c;
  c.id = r.str(0, "id");
  c.kind = r.str(0, "kind");
  c.name = r.opt(0, "name");
  c.is_private = r.boolean(0, "is_private");
  c.is_archived = r.boolean(0, "is_archived");
  c.creator_id = r.opt(0, "creator_id");
  c.last_seq = r.int64(0, "last_seq");
  c.is_member = !r.is_null(0, "member_role");
  c.member_role = c.is_member ? r.str(0, "member_role") : "";
  c.last_read_seq = r.int64(0, "last_read_seq");
  bool visible = c.is_member || c.is_public_channel() || (c.is_channel() && me.is_moderator());
  if (!visible) http::not_found(not_found_detail);
  return c;
}

void require_read(const Conversation& c, const CurrentUser& me) {
  if (c.is_member || (c.is_channel() && me.is_moderator())) return;
  http::forbidden("Access denied to channel");
}

void require_member(const Conversation& c) {
  if (!c.is_member) http::forbidden("Access denied to channel");
}

void require_not_archived(const Conversation& c, const char* detail) {
  if (c.is_archived) http::forbidden(detail);
}

bool can_moderate(const Conversation& c, const CurrentUser& me) {
  return me.is_moderator() || c.member_role == "owner" || c.member_role == "admin";
}

}  // namespace chat::domain
