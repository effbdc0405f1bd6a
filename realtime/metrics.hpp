// The daemon's own counters, rendered as Prometheus text on GET /metrics (loop thread only: no locks).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace chat::realtime {

struct Metrics {
  uint64_t tcp_connections = 0;      // gauge: accepted TCP connections still open
  uint64_t open_sockets = 0;         // gauge: upgraded WebSockets
  uint64_t local_users = 0;          // gauge: users with a socket here
  uint64_t descriptor_limit = 0;     // gauge: RLIMIT_NOFILE, which bounds the sockets (one descriptor each)
  uint64_t upgrades_accepted = 0;
  std::map<int, uint64_t> upgrades_refused;  // by HTTP status
  uint64_t stream_events_in = 0;
  uint64_t stream_duplicates = 0;
  uint64_t stream_reopens = 0;
  uint64_t ephemeral_in = 0;
  uint64_t frames_out = 0;
  uint64_t bytes_out = 0;
  uint64_t backpressure_drops = 0;   // sockets closed with 1013
  uint64_t pings_sent = 0;
  uint64_t client_messages = 0;
  uint64_t replayed_events = 0;
  uint64_t resyncs = 0;
  uint64_t revocations = 0;          // sockets closed by force_disconnect
  std::map<std::string, uint64_t> closes;  // by close code ("1000", "1001", ..., "timeout", "reset")
  uint64_t http_requests = 0;        // plain HTTP (metrics, 404s)

  std::string render(uint64_t ring_size, uint64_t pending_auth) const;
};

}  // namespace chat::realtime
