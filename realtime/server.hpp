// The chat-realtime daemon: listening socket, connections through their HTTP and WebSocket stages, and
// the glue between the loop, the hub, the Redis bridge, the worker pools and presence. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "realtime/connection.hpp"
#include "realtime/event_loop.hpp"
#include "realtime/hub.hpp"
#include "realtime/metrics.hpp"
#include "realtime/presence.hpp"
#include "realtime/redis_bridge.hpp"
#include "realtime/typing.hpp"
#include "realtime/upgrade_auth.hpp"
#include "realtime/worker_pool.hpp"

namespace chat::realtime {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;             // TCP: direct clients, /metrics, nginx on another host
  std::string unix_socket;  // optional: the local nginx's way in (chmod 0666)
  int backlog = 4096;
  int auth_threads = 2;
};

class Server : public Sink {
 public:
  Server(const Config& config, ServerOptions options);
  ~Server() override;

  // Binds, reads the stream position, starts the threads, runs the loop until SIGTERM/SIGINT (then
  // closes every socket with 1001). Returns the exit status.
  int run();

  // Sink: queue a frame on an open socket (never re-enters the hub).
  void send(uint64_t conn_id, const Frame& frame) override;

 private:
  // ---- server.cpp: sockets, the HTTP stage, closing, timers
  bool listen_socket();
  bool listen_unix_socket();
  void on_accept(int listen_fd);
  void on_io(uint64_t id, uint32_t events);
  void on_readable(Connection& c);
  void on_http_request(Connection& c, ws::ParseResult& parsed);
  void respond_http(Connection& c, int status, const std::string& body, const ws::HeaderList& headers = {},
                    const char* content_type = nullptr);
  void refuse_upgrade(Connection& c, int status, const std::string& detail, const ws::HeaderList& headers = {});
  void start_close(Connection& c, uint16_t code, std::string_view reason, int64_t wait_ms);
  void close_not_reading(Connection& c, const char* reason);
  void finish(Connection& c, const std::string& label);
  void mark_dirty(Connection& c);
  void flush_dirty();
  void free_closed();
  void tick();
  void beat();
  void begin_shutdown();
  Connection* find(uint64_t id);

  // ---- server_events.cpp: the WebSocket stage and what comes from Redis and the workers
  void on_auth_done(AuthResult r);
  void process_frames(Connection& c);
  void on_client_message(Connection& c, const std::string& text, bool binary);
  void on_stream_events(RedisBridge::EventBatch batch);
  void on_pubsub(RedisBridge::MessageBatch batch);
  void on_revoked(const std::string& text);
  // Closes these sockets with force_disconnect and 4003 (API.md §9.2).
  void revoke_sockets(const std::vector<uint64_t>& ids, const std::string& reason);
  // Every 15 s: asks PostgreSQL which local sessions are revoked or whose user is inactive, so a
  // revocation published while this daemon's subscription was reconnecting still closes its sockets.
  void sweep_revocations();
  void send_json(Connection& c, const std::string& json_text);
  void publish_typing(const std::string& user_id, const std::string& username, const std::string& conversation_id,
                      bool is_typing);
  void on_user_gone(const std::string& user_id);
  // Ends the user's typing held on this daemon, telling the others in the conversations.
  void end_typing_of(const std::string& user_id);
  // chat:ephemeral signal between daemons: the user's last socket anywhere closed (its typing ends).
  static constexpr const char* kUserGoneSignal = "user_gone";
  // When a session (or "*:<user>") was revoked, if that was within the last minute: an upgrade whose check
  // raced the revocation is refused.
  std::optional<int64_t> recently_revoked(const std::string& key);

  const Config& config_;
  ServerOptions options_;
  EventLoop loop_;
  Hub hub_;
  Metrics metrics_;
  EventRing ring_;
  TypingTracker typing_;
  WorkerPool auth_pool_;
  WorkerPool lane_;  // one thread: publishes and presence, in order
  std::unique_ptr<Presence> presence_;
  std::unique_ptr<RedisBridge> bridge_;

  UniqueFd listen_fd_;
  UniqueFd reserve_fd_;  // given up to accept-and-close when the process runs out of descriptors
  UniqueFd signal_fd_;
  uint64_t listen_id_ = 0;
  UniqueFd unix_fd_;
  uint64_t unix_id_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::vector<uint64_t> dirty_;
  std::vector<std::unique_ptr<Connection>> closed_;  // freed after dispatch
  // Session id or "*:<user>" (every session of the user) → when it was revoked, wall-clock ms: comparable
  // with a session's creation time in PostgreSQL.
  std::unordered_map<std::string, int64_t> revoked_;
  size_t pending_auth_ = 0;
  bool shutting_down_ = false;
  std::string heartbeat_id_;  // "<host>:<port>" in chat:heartbeat:realtime
  int64_t shutdown_deadline_ms_ = 0;
};

}  // namespace chat::realtime
