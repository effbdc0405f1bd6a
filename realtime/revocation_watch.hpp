// How a revoked session loses its sockets on this daemon (docs/api.md#liveness-and-close-codes): the
// chat:sessions:revoked message (a logout, a ban, a password reset), and every 15 s a sweep of PostgreSQL for
// what pub/sub missed while the subscription was reconnecting. Either closes the sockets with force_disconnect
// and 4003, and is remembered in Revocations for the upgrades still being checked. Loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "realtime/connection_table.hpp"
#include "realtime/event_loop.hpp"
#include "realtime/hub.hpp"
#include "realtime/metrics.hpp"
#include "realtime/revocations.hpp"
#include "realtime/worker_pool.hpp"

namespace chat::realtime {

class RevocationWatch {
 public:
  static constexpr int64_t kSweepEveryMs = 15'000;  // bounds a revocation missed by pub/sub

  RevocationWatch(EventLoop& loop, ConnectionTable& table, Hub& hub, Metrics& metrics, Revocations& revocations,
                  WorkerPool& pool);

  void start();  // the sweep timer
  // A message of chat:sessions:revoked (malformed ones are ignored).
  void on_message(const std::string& text);

 private:
  void sweep();
  void close_sockets(const std::vector<uint64_t>& ids, const std::string& reason);

  EventLoop& loop_;
  ConnectionTable& table_;
  Hub& hub_;
  Metrics& metrics_;
  Revocations& revocations_;
  WorkerPool& pool_;
};

}  // namespace chat::realtime
