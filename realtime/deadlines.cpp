// One rule per stage; an open socket is checked for silence, then stalled output, then a ping.
#include "realtime/deadlines.hpp"

namespace chat::realtime {

Due due(const Connection& c, int64_t now_ms) {
  switch (c.state()) {
    case Connection::State::kHttp:
      return now_ms - c.created_ms > kHandshakeTimeoutMs ? Due::kHandshakeTimeout : Due::kNothing;
    case Connection::State::kAuthenticating:
      return now_ms - c.created_ms > kAuthTimeoutMs ? Due::kAuthTimeout : Due::kNothing;
    case Connection::State::kOpen:
      if (now_ms - c.last_read_ms > kSilenceLimitMs) return Due::kSilent;
      if (c.stalled_since_ms != 0 && now_ms - c.stalled_since_ms > kOutputStallMs) return Due::kOutputStalled;
      if (now_ms - c.last_ping_ms >= kPingEveryMs) return Due::kPing;
      return Due::kNothing;
    case Connection::State::kClosing:
    case Connection::State::kDone:
      return now_ms > c.close_deadline_ms ? Due::kCloseTimeout : Due::kNothing;
  }
  return Due::kNothing;
}

}  // namespace chat::realtime
