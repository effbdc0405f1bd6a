// Messages: send (with seq, idempotency, mentions, events), edit, delete and reactions, shared by the
// team-chat routes (/messages) and the headless ones (/conversations/{id}/messages).
#pragma once

#include <optional>
#include <string>

#include "core/context.hpp"
#include "core/http.hpp"
#include "core/validate.hpp"
#include "domain/access.hpp"
#include "domain/principal.hpp"

namespace chat::domain {

struct SendInput {
  std::string conversation_id;
  std::string content;  // trimmed, 1–4000 characters
  std::string message_type = "text";
  std::optional<std::string> media_url;
  std::optional<std::string> parent_id;
  std::optional<std::string> idempotency_key;  // Idempotency-Key header, else client_msg_id
};

// Wording of the two route families.
struct SendWording {
  const char* not_found;  // "Channel not found" / "Conversation not found"
  const char* archived;   // "Channel is archived" / "Cannot send messages to an archived conversation"
};
extern const SendWording kChannelWording;
extern const SendWording kConversationWording;

// Reads the send body. `conversation_id` comes from `channel_id` in the body when `id_from_body`.
SendInput read_send_input(const http::Request& req, bool id_from_body, const std::string& path_id = "");

// Takes one token of the sender's bucket (RATE_LIMIT_SEND per user): 429 with Retry-After when empty.
// Called right after authentication: the rate limit comes before validation (docs/api.md#order-of-checks).
void take_send_token(Context& ctx, const CurrentUser& me);

// 201 with the Message; 200 with the original for a repeated idempotency key; 409 for a key reused
// with another conversation or content.
http::Response send_message(Context& ctx, const CurrentUser& me, SendInput in, const SendWording& w);

struct MessageRef {
  std::string id;
  std::string conversation_id;
  std::string sender_id;
  bool deleted = false;
};
// The message row, or nullopt when missing or the id is malformed.
std::optional<MessageRef> find_message(Context& ctx, const std::string& id);
// A message the caller may see (deleted ones are 404) in a conversation it may read.
MessageRef find_readable_message(Context& ctx, const CurrentUser& me, const std::string& id, Conversation* conv);

// The Message JSON text of one message.
std::string message_json(Context& ctx, const std::string& message_id);

// Soft delete with its event; the caller has checked visibility. 403 `forbidden_detail` unless the
// author, a conversation owner/admin or a global moderator/admin.
void delete_message(Context& ctx, const CurrentUser& me, const Conversation& conv, const MessageRef& m,
                    const char* forbidden_detail);

// Edits content (author only), recomputes mentions, notifies the newly mentioned. Returns the Message.
std::string edit_message(Context& ctx, const CurrentUser& me, const std::string& message_id, const std::string& content);

// Reads `content` with the message rules (trimmed, 1–4000 characters).
std::optional<std::string> read_content(http::Input& in);

}  // namespace chat::domain
