// Client frames and the small server events the daemon builds itself (docs/api.md#client-frames, #server-frames).
#include "realtime/client_messages.hpp"

#include "core/json.hpp"
#include "core/stream.hpp"

namespace chat::realtime {
namespace {

json::Value event(const char* type) {
  json::Value v = json::Value::object();
  v.set("type", type);
  return v;
}

std::string stamped(json::Value& v, const std::string& now) { return v.set("timestamp", now).dump(); }

std::string channel_event(const char* type, const std::string& conversation_id, const std::string& now) {
  return stamped(event(type).set("channel_id", conversation_id), now);
}

}  // namespace

std::string error_event(std::string_view code, std::string_view message, const std::string& now) {
  return stamped(event("error").set("error_code", code).set("message", message), now);
}

std::string typing_event(const std::string& user_id, const std::string& username,
                         const std::string& conversation_id, bool is_typing, const std::string& now) {
  return stamped(event("typing_indicator")
                     .set("user_id", user_id)
                     .set("username", username)
                     .set("channel_id", conversation_id)
                     .set("is_typing", is_typing),
                 now);
}

std::string typing_ephemeral(const std::string& user_id, const std::string& username,
                             const std::string& conversation_id, bool is_typing, const std::string& now) {
  stream::Ephemeral msg;
  msg.type = "typing_indicator";
  msg.conversation_id = conversation_id;
  msg.except_user_id = user_id;
  msg.payload = typing_event(user_id, username, conversation_id, is_typing, now);
  return stream::encode(msg);
}

std::string online_users_event(const std::string& conversation_id, const std::vector<std::string>& users,
                               const std::string& now) {
  json::Value list = json::Value::array();
  for (const auto& u : users) list.push(u);
  return stamped(event("online_users").set("channel_id", conversation_id).set("users", std::move(list)), now);
}

std::string connection_established_event(const std::string& user_id, const std::string& username,
                                          const std::string& session_id, const std::string& last_event_id,
                                          const std::string& now) {
  return stamped(event("connection_established")
                     .set("user_id", user_id)
                     .set("username", username)
                     .set("session_id", session_id)
                     .set("last_event_id", last_event_id),
                 now);
}

std::string resync_required_event(std::string_view reason, const std::string& now) {
  return stamped(event("resync_required").set("reason", reason), now);
}

std::string force_disconnect_event(std::string_view reason, const std::string& now) {
  return stamped(event("force_disconnect").set("reason", reason), now);
}

ClientOutcome handle_client_message(Hub& hub, uint64_t conn, std::string_view text, bool binary,
                                    const std::string& now) {
  ClientOutcome out;
  const SocketInfo* me = hub.socket(conn);
  if (!me) return out;
  if (binary) {
    out.replies.push_back(error_event("invalid_json", "Binary frames are not supported: send JSON text", now));
    return out;
  }
  if (text == "ping") {  // keep-alive of clients that cannot send WebSocket pings (browsers)
    out.text_pong = true;
    return out;
  }
  auto msg = json::Value::parse(text);
  if (!msg || !json::is_object(msg->get())) {
    out.replies.push_back(error_event("invalid_json", "Message is not valid JSON", now));
    return out;
  }
  const std::string type = json::as_string(json::field(msg->get(), "type")).value_or("");
  if (type == "ping") {
    json::Value pong = event("pong");
    out.replies.push_back(stamped(pong, now));
    return out;
  }
  const bool needs_channel =
      type == "join_channel" || type == "leave_channel" || type == "typing_indicator" || type == "get_online_users";
  if (!needs_channel) {
    out.replies.push_back(error_event("unknown_message_type", "Unknown message type: " + type.substr(0, 64), now));
    return out;
  }
  // Team-chat clients say channel_id; headless ones may say conversation_id.
  std::string channel = json::as_string(json::field(msg->get(), "channel_id")).value_or("");
  if (channel.empty()) channel = json::as_string(json::field(msg->get(), "conversation_id")).value_or("");
  if (channel.empty()) {
    out.replies.push_back(error_event("missing_channel_id", "channel_id is required", now));
    return out;
  }
  if (!hub.is_member(me->user_id, channel)) {
    out.replies.push_back(error_event("access_denied", "Not a member of this channel", now));
    return out;
  }
  if (type == "join_channel") {
    hub.join(conn, channel);
    out.replies.push_back(channel_event("channel_joined", channel, now));
  } else if (type == "leave_channel") {
    hub.leave(conn, channel);
    out.replies.push_back(channel_event("channel_left", channel, now));
  } else if (type == "typing_indicator") {
    const cJSON* flag = json::field(msg->get(), "is_typing");
    out.typing = ClientOutcome::Typing{channel, json::as_bool(flag).value_or(flag == nullptr)};
  } else {
    out.online_users_for = channel;
  }
  return out;
}

}  // namespace chat::realtime
