// The chat-realtime daemon: owns its parts and wires them together — the loop, the connection table,
// the hub, the Redis bridge, the worker pools, presence — hands each socket's input to the stage it is
// in, and runs the start, the 1 s tick and the graceful stop. Loop thread only.
#pragma once

#include <string>

#include "core/config.hpp"
#include "realtime/client_frames.hpp"
#include "realtime/connection.hpp"
#include "realtime/connection_table.hpp"
#include "realtime/event_loop.hpp"
#include "realtime/hub.hpp"
#include "realtime/listener.hpp"
#include "realtime/metrics.hpp"
#include "realtime/presence.hpp"
#include "realtime/redis_bridge.hpp"
#include "realtime/revocation_watch.hpp"
#include "realtime/revocations.hpp"
#include "realtime/typing_relay.hpp"
#include "realtime/upgrader.hpp"
#include "realtime/worker_pool.hpp"

namespace chat::realtime {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;             // TCP: direct clients, /metrics, nginx on another host
  std::string unix_socket;  // optional: the local nginx's way in (chmod 0666)
  int backlog = 4096;
  int auth_threads = 2;
};

class Server {
 public:
  Server(const Config& config, ServerOptions options);
  ~Server();

  // Binds, reads the stream position, starts the threads, runs the loop until SIGTERM/SIGINT (then
  // closes every socket with 1001). Returns the exit status.
  int run();

 private:
  void on_accepted(UniqueFd fd, std::string peer_ip);
  void on_io(uint64_t id, uint32_t events);
  void on_readable(Connection& c);
  // A connection is finishing: an open socket leaves the hub (and maybe the user leaves this daemon).
  void on_finished(Connection& c, const std::string& label);
  void on_stream_events(RedisBridge::EventBatch batch);
  void on_pubsub(RedisBridge::MessageBatch batch);
  void on_stream_reopened(StreamCheck check);
  void tick();
  void beat();
  void begin_shutdown();

  // Declared in construction order: each part is built from the ones above it.
  const Config& config_;
  ServerOptions options_;
  EventLoop loop_;
  Metrics metrics_;
  EventRing ring_;
  Revocations revocations_;
  ConnectionTable table_;
  Hub hub_;
  WorkerPool auth_pool_;
  WorkerPool lane_;  // one thread: publishes and presence, in order
  Presence presence_;
  TypingRelay typing_;
  ClientFrames frames_;
  Upgrader upgrader_;
  RevocationWatch revocation_watch_;
  RedisBridge bridge_;
  Listener listener_;

  UniqueFd signal_fd_;
  bool shutting_down_ = false;
  std::string heartbeat_id_;  // "<host>:<port>" in chat:heartbeat:realtime
};

}  // namespace chat::realtime
