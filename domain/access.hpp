// Visibility before permission (docs/api.md#visibility-and-permission): who may see, read, write and moderate a
// conversation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/context.hpp"
#include "core/db.hpp"
#include "domain/principal.hpp"

namespace chat::domain {

struct Conversation {
  std::string id;
  std::string kind;  // channel | direct | group
  std::optional<std::string> name;
  bool is_private = false;
  bool is_archived = false;
  std::optional<std::string> creator_id;
  int64_t last_seq = 0;
  bool is_member = false;
  std::string member_role;  // owner | admin | member, "" for a non-member
  int64_t last_read_seq = 0;

  bool is_channel() const { return kind == "channel"; }
  bool is_public_channel() const { return kind == "channel" && !is_private; }
};

// The conversation as `me` may know it, or 404 `not_found_detail` when it is missing, the id is
// malformed, or `me` may not see it: a private channel, direct or group conversation `me` is not
// in. Global moderators and admins see every channel (never others' direct or group conversations).
Conversation find_visible(Context& ctx, const CurrentUser& me, const std::string& id, const char* not_found_detail);
// The same rule over a row that another statement read (the send's): the columns of CHAT_CONVERSATION_ACCESS,
// with `kind` NULL when there is no such conversation.
Conversation visible_from(const db::Result& r, const CurrentUser& me, const char* not_found_detail);

// The columns find_visible reads, over `conversations c LEFT JOIN conversation_members cm` (cm: `me`'s row).
#define CHAT_CONVERSATION_ACCESS                                                                             \
  "c.id, c.kind, c.name, c.is_private, c.is_archived, c.creator_id, c.last_seq, cm.role AS member_role, " \
  "coalesce(cm.last_read_seq, 0) AS last_read_seq"

// Reading messages: members; global moderators/admins for channels. Else 403 `Access denied to channel`.
void require_read(const Conversation& c, const CurrentUser& me);
// Sending, reacting, marking read: members only. Else 403 `Access denied to channel`.
void require_member(const Conversation& c);
// 403 `detail` when archived.
void require_not_archived(const Conversation& c, const char* detail = "Channel is archived");
// Owner/admin of the conversation, or a global moderator/admin.
bool can_moderate(const Conversation& c, const CurrentUser& me);

}  // namespace chat::domain
