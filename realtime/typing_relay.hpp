// Typing across daemons: the typists connected here (typing.hpp) relayed to the conversation through
// chat:ephemeral, ending on `false`, after 10 s, when the typist leaves the conversation, and when the
// typist's last socket anywhere closes — which may be on another daemon, hence the user_gone signal
// between daemons (stream::kUserGone, docs/events.md). Loop thread; the publishing runs on the ordered lane.
#pragma once

#include <cstdint>
#include <string>

#include "realtime/event_loop.hpp"
#include "realtime/hub.hpp"
#include "realtime/presence.hpp"
#include "realtime/typing.hpp"
#include "realtime/worker_pool.hpp"

namespace chat::realtime {

class TypingRelay {
 public:
  TypingRelay(EventLoop& loop, WorkerPool& lane, Presence& presence, Hub& hub);

  // A typing_indicator from a local socket.
  void set(const std::string& user_id, const std::string& username, const std::string& conversation_id,
           bool is_typing);
  // The 1 s tick: typing that ran out ends.
  void expire(int64_t now_ms);
  // The user's membership of the conversation ended here: so does the typing.
  void end(const std::string& user_id, const std::string& conversation_id);
  // The user's last socket on this daemon closed (docs/api.md#typing: typing ends with the typist's last socket
  // anywhere; while a tab lives on another daemon, the 10 s expiry ends it instead).
  void last_local_socket_closed(const std::string& user_id);
  // Another daemon's user_gone: ends the user's typing held here unless a socket of it came here meanwhile.
  void on_user_gone(const std::string& user_id);

 private:
  void end_all_of(const std::string& user_id);
  void publish(const std::string& user_id, const std::string& username, const std::string& conversation_id,
               bool is_typing);

  EventLoop& loop_;
  WorkerPool& lane_;
  Presence& presence_;
  Hub& hub_;
  TypingTracker typing_;
};

}  // namespace chat::realtime
