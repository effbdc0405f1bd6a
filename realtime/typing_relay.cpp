// The typing tracker's changes turned into chat:ephemeral messages, in order, on the lane.
#include "realtime/typing_relay.hpp"

#include "core/stream.hpp"
#include "core/timefmt.hpp"
#include "realtime/client_messages.hpp"

namespace chat::realtime {

TypingRelay::TypingRelay(EventLoop& loop, WorkerPool& lane, Presence& presence, Hub& hub)
    : loop_(loop), lane_(lane), presence_(presence), hub_(hub) {}

void TypingRelay::set(const std::string& user_id, const std::string& username, const std::string& conversation_id,
                      bool is_typing) {
  typing_.set(user_id, username, conversation_id, is_typing, loop_.now_ms());
  publish(user_id, username, conversation_id, is_typing);
}

void TypingRelay::expire(int64_t now_ms) {
  for (const auto& t : typing_.expire(now_ms)) publish(t.user_id, t.username, t.conversation_id, false);
}

void TypingRelay::end(const std::string& user_id, const std::string& conversation_id) {
  if (auto t = typing_.end(user_id, conversation_id)) publish(user_id, t->username, conversation_id, false);
}

void TypingRelay::last_local_socket_closed(const std::string& user_id) {
  presence_.held_elsewhere(user_id, [this, user_id](bool elsewhere) {
    if (elsewhere || !hub_.sockets_of_user(user_id).empty()) return;  // or it came back here meanwhile
    end_all_of(user_id);
    // The typing may have started on another daemon, whose tab closed earlier: tell every daemon.
    stream::Ephemeral gone;
    gone.type = stream::kUserGone;
    gone.user_ids = {user_id};
    lane_.submit([msg = stream::encode(gone)](Context& ctx) {
      ctx.redis.command({"PUBLISH", stream::kEphemeral, msg});
    });
  });
}

void TypingRelay::on_user_gone(const std::string& user_id) {
  if (hub_.sockets_of_user(user_id).empty()) end_all_of(user_id);
}

void TypingRelay::end_all_of(const std::string& user_id) {
  for (const auto& t : typing_.end_user(user_id)) publish(t.user_id, t.username, t.conversation_id, false);
}

void TypingRelay::publish(const std::string& user_id, const std::string& username,
                          const std::string& conversation_id, bool is_typing) {
  std::string msg = typing_ephemeral(user_id, username, conversation_id, is_typing, rfc3339_now());
  lane_.submit([msg = std::move(msg)](Context& ctx) { ctx.redis.command({"PUBLISH", stream::kEphemeral, msg}); });
}

}  // namespace chat::realtime
