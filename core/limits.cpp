// The JSON form of core/limits.hpp, for `chat-<group> --schema`.
#include "core/limits.hpp"

#include "core/json.hpp"

namespace chat::limits {
namespace {

json::Value text(Text t) {
  json::Value v = json::Value::object();
  v.set("min", static_cast<int64_t>(t.min)).set("max", static_cast<int64_t>(t.max));
  return v;
}

json::Value page(Page p) {
  json::Value v = json::Value::object();
  v.set("min", p.min).set("max", p.max).set("default", p.fallback);
  return v;
}

}  // namespace

std::string limits_json() {
  json::Value texts = json::Value::object();
  texts.set("username", text(kUsername))
      .set("email", text(kEmail))
      .set("password", text(kPassword))
      .set("avatar", text(kAvatar))
      .set("channel_name", text(kChannelName))
      .set("channel_description", text(kChannelDescription))
      .set("message_content", text(kMessageContent))
      .set("media_url", text(kMediaUrl))
      .set("idempotency_key", text(kIdempotencyKey))
      .set("conversation_title", text(kConversationTitle))
      .set("moderation_reason", text(kModerationReason));
  json::Value pages = json::Value::object();
  pages.set("users", page(kUsersPage))
      .set("user_search", page(kUserSearchPage))
      .set("channels", page(kChannelsPage))
      .set("history", page(kHistoryPage))
      .set("mentions", page(kMentionsPage))
      .set("replies", page(kRepliesPage))
      .set("message_search", page(kMessageSearchPage))
      .set("conversations", page(kConversationsPage))
      .set("conversation_messages", page(kConversationMessagesPage))
      .set("audit_log", page(kAuditLogPage));
  json::Value out = json::Value::object();
  out.set("body_max_bytes", static_cast<int64_t>(kBodyMaxBytes))
      .set("text", std::move(texts))
      .set("emoji_max_bytes", static_cast<int64_t>(kEmojiMaxBytes))
      .set("pages", std::move(pages));
  return out.dump();
}

}  // namespace chat::limits
