// Client → server frames (docs/api.md#client-frames): parse, check against the hub, and say what to answer and
// what to do next. No I/O, so every reply and error is unit tested without sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "realtime/hub.hpp"

namespace chat::realtime {

struct ClientOutcome {
  std::vector<std::string> replies;  // JSON texts for the sender, in order
  bool text_pong = false;            // the literal text "pong" (answer to the text "ping")
  struct Typing {
    std::string conversation_id;
    bool is_typing = false;
  };
  std::optional<Typing> typing;                  // relay through chat:ephemeral
  std::optional<std::string> online_users_for;   // a conversation id: the loop asks who is online
};

// Handles one complete message of socket `conn` (registered in `hub`). `binary` is true for a binary
// message; `now` is the RFC 3339 timestamp the replies carry.
ClientOutcome handle_client_message(Hub& hub, uint64_t conn, std::string_view text, bool binary,
                                    const std::string& now);

// Server → client JSON texts built here and by the loop.
std::string error_event(std::string_view code, std::string_view message, const std::string& now);
std::string typing_event(const std::string& user_id, const std::string& username,
                         const std::string& conversation_id, bool is_typing, const std::string& now);
// The chat:ephemeral message relaying a typing_indicator to the conversation's members but the typist.
std::string typing_ephemeral(const std::string& user_id, const std::string& username,
                             const std::string& conversation_id, bool is_typing, const std::string& now);
std::string online_users_event(const std::string& conversation_id, const std::vector<std::string>& users,
                               const std::string& now);
std::string connection_established_event(const std::string& user_id, const std::string& username,
                                          const std::string& session_id, const std::string& last_event_id,
                                          const std::string& now);
std::string resync_required_event(std::string_view reason, const std::string& now);
std::string force_disconnect_event(std::string_view reason, const std::string& now);

}  // namespace chat::realtime
