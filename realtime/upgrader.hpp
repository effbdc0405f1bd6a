// A connection's way from its first byte to an open WebSocket: acts on upgrade_stage's decisions (plain
// answers, refusals), authenticates on the worker pool, and opens the socket — the 101, registration in
// the hub, connection_established, the replay of a resume, and the frames that came before the 101.
// Loop thread only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "realtime/client_frames.hpp"
#include "realtime/connection.hpp"
#include "realtime/connection_table.hpp"
#include "realtime/event_loop.hpp"
#include "realtime/hub.hpp"
#include "realtime/metrics.hpp"
#include "realtime/presence.hpp"
#include "realtime/revocations.hpp"
#include "realtime/stream_event.hpp"
#include "realtime/upgrade_auth.hpp"
#include "realtime/worker_pool.hpp"
#include "realtime/ws_handshake.hpp"

namespace chat::realtime {

class Upgrader {
 public:
  Upgrader(const Config& config, EventLoop& loop, ConnectionTable& table, Hub& hub, EventRing& ring, Metrics& metrics,
           Revocations& revocations, WorkerPool& auth_pool, Presence& presence, ClientFrames& frames);

  // Bytes of a connection still reading its request head.
  void on_http_input(Connection& c, std::string_view data);
  // Bytes that came while the worker checks the token: frames for after the 101.
  void on_early_input(Connection& c, std::string_view data);
  // Refuses the upgrade (counted by status, logged) and closes once the answer is written.
  void refuse(Connection& c, int status, const std::string& detail, const ws::HeaderList& headers = {});
  // Shutting down: upgrades not yet open are refused with 503.
  void stop() { stopping_ = true; }

 private:
  void on_request(Connection& c, ws::ParseResult& parsed);
  void on_authenticated(AuthResult r);
  void open(Connection& c, const AuthResult& r);
  // connection_established's follow-up for a resume: resync_required, or the replay as the socket drains.
  void start_resume(Connection& c, const AuthResult& r, StreamId position, const std::string& ts);

  const Config& config_;
  EventLoop& loop_;
  ConnectionTable& table_;
  Hub& hub_;
  EventRing& ring_;
  Metrics& metrics_;
  Revocations& revocations_;
  WorkerPool& auth_pool_;
  Presence& presence_;
  ClientFrames& frames_;
  size_t pending_auth_ = 0;  // upgrades the workers are checking (/metrics)
  bool stopping_ = false;
};

}  // namespace chat::realtime
