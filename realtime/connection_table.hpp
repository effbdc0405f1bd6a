// Every connection of the daemon by id, and the way out of it: frames queued during an iteration are
// written before the next wait (many per syscall), a replay is refilled as its socket drains, a socket
// that stops reading is closed with 1013, a finished HTTP answer or close lingers until the peer's EOF,
// and a connection is freed only after dispatch (callers up the stack may still hold it). Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "realtime/connection.hpp"
#include "realtime/event_loop.hpp"
#include "realtime/hub.hpp"
#include "realtime/metrics.hpp"

namespace chat::realtime {

class ConnectionTable : public Sink {
 public:
  // Told once per connection as it finishes, before it is forgotten; `label` says how it ended.
  using Finished = std::function<void(Connection&, const std::string& label)>;

  ConnectionTable(EventLoop& loop, Metrics& metrics, Finished on_finished);

  // Takes an accepted socket, watched for reading with `on_io`; false when epoll refuses it.
  bool adopt(UniqueFd fd, std::string peer_ip, EventLoop::IoCallback on_io);
  Connection* find(uint64_t id);
  // A snapshot: the caller may finish connections while walking it.
  std::vector<uint64_t> ids() const;
  bool empty() const { return conns_.empty(); }

  // Sink: queues a frame on an open socket (never re-enters the hub). During a replay live frames are
  // held back until the replay is out.
  void send(uint64_t conn_id, const Frame& frame) override;
  void send_json(Connection& c, const std::string& json_text);
  void ping(Connection& c);
  // The socket has output for the next flush.
  void mark_dirty(Connection& c);

  // Answers plain HTTP (also an upgrade's refusal) and closes once it is written.
  void respond_http(Connection& c, int status, const std::string& body, const ws::HeaderList& headers = {},
                    const char* content_type = nullptr);
  // Nothing more of a replay goes out (a close or a force_disconnect must not wait behind it).
  void drop_replay(Connection& c);
  // §7.1.2: queues the close frame of an open socket and waits `wait_ms` for the peer's.
  void start_close(Connection& c, uint16_t code, std::string_view reason, int64_t wait_ms);
  // Backpressure: the socket is not reading. Drops what waits, tells it 1013, and moves on.
  void close_not_reading(Connection& c, const char* reason);
  // Forgets the connection now (its fd closes after dispatch).
  void finish(Connection& c, const std::string& label);

  // Loop hooks: write before epoll_wait; free what finished after dispatch.
  void flush();
  void free_closed() { closed_.clear(); }

 private:
  // One flush of one socket; false when it finished.
  bool flush_one(Connection& c);

  EventLoop& loop_;
  Metrics& metrics_;
  Finished on_finished_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::vector<uint64_t> dirty_;
  std::vector<uint64_t> flushing_;  // the dirty list being flushed (flush_one may mark sockets dirty again)
  std::vector<std::unique_ptr<Connection>> closed_;
};

}  // namespace chat::realtime
