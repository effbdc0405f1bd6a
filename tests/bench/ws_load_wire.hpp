// The load generator's pure pieces (tests/bench/ws_load.cpp): the client's opening handshake and the
// check of the daemon's answer (RFC 6455 §4.1), the bench's send time read out of a delivered payload, and
// the percentiles it reports. No I/O, so tests/unit/bench/ws_load_wire_test.cpp covers them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::bench {

// The key every generator socket sends (§4.1 asks for a random nonce; the daemon only checks its form, and a
// fixed one lets the expected Sec-WebSocket-Accept be computed once).
inline constexpr std::string_view kClientKey = "dGhlIHNhbXBsZSBub25jZQ==";

// GET `target` (e.g. "/ws?token=...") with the upgrade headers and `kClientKey`.
std::string upgrade_request(std::string_view target, std::string_view host);

struct UpgradeAnswer {
  enum class Status { kNeedMore, kOpen, kRefused };
  Status status = Status::kNeedMore;
  size_t head_size = 0;  // kOpen: bytes of the head (frames follow)
  std::string why;       // kRefused: the status line, or what was wrong with a 101
};
// Reads the daemon's answer at the start of `bytes`: kOpen for a 101 with the upgrade headers and the
// Sec-WebSocket-Accept of `kClientKey`; kRefused for any other status or a bad 101.
UpgradeAnswer read_upgrade_answer(std::string_view bytes);

// The send time a bench message carries: its content is "<phase> <CLOCK_MONOTONIC seconds>" after
// `prefix`, e.g. prefix "bench " and content "bench raw 12345.678901" give {"raw", 12345.678901}.
struct Mark {
  std::string_view phase;
  double sent_s = 0;
};
// Finds "\"" + prefix in a delivered JSON payload; nullopt when the payload is not a bench message.
std::optional<Mark> find_mark(std::string_view payload, std::string_view prefix);

// The p-th percentile (0-100) of `sorted` by the nearest-rank rule; 0 for an empty set.
double percentile(const std::vector<double>& sorted, double p);

}  // namespace chat::bench
