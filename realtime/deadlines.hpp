// How long each stage of a connection may last, and when an open socket is pinged
// (docs/api.md#liveness-and-close-codes, RFC 6455 §7.1.1's wait for the peer's close). A decision over the
// connection's times, so the timers are unit tested without waiting; the server's 1 s tick acts on it.
#pragma once

#include <cstdint>

#include "realtime/connection.hpp"

namespace chat::realtime {

inline constexpr int64_t kHandshakeTimeoutMs = 10'000;  // the request head
inline constexpr int64_t kAuthTimeoutMs = 30'000;       // from accept to the worker's answer
inline constexpr int64_t kPingEveryMs = 30'000;
inline constexpr int64_t kSilenceLimitMs = 75'000;  // a peer silent this long (no pong either) is gone
// Output waiting that the kernel has not taken a byte of for this long: the socket is not reading. It is
// closed with 1013 like one whose output passed 4 MiB (which, at a slow rate, could take minutes).
inline constexpr int64_t kOutputStallMs = 10'000;
inline constexpr int64_t kCloseWaitMs = 3'000;  // §7.1.1: for the peer's close frame, or its EOF

enum class Due : uint8_t {
  kNothing,
  kHandshakeTimeout,  // finish without a word: no request came
  kAuthTimeout,       // refuse the upgrade with 503
  kSilent,            // finish: a close frame would not be read
  kOutputStalled,     // close with 1013
  kPing,              // §5.5.2: the peer's pong counts as activity
  kCloseTimeout,      // finish: the peer did not answer the close or did not close TCP
};

// What is due for `c` at loop time `now_ms`.
Due due(const Connection& c, int64_t now_ms);

}  // namespace chat::realtime
