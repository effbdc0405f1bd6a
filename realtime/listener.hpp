// The daemon's ways in: a TCP socket (direct clients, /metrics, an nginx on another host) and optionally a
// unix socket for the local nginx, accepted in bounded batches. Running out of descriptors sheds one
// connection instead of letting the backlog spin the loop. Loop thread only.
#pragma once

#include <functional>
#include <string>

#include "realtime/event_loop.hpp"

namespace chat::realtime {

class Listener {
 public:
  // A new non-blocking socket and its peer's address ("unix" over the unix socket).
  using Accepted = std::function<void(UniqueFd fd, std::string peer_ip)>;

  Listener(EventLoop& loop, Accepted on_accept);

  // Binds, listens and watches; false (logged) when a socket cannot be had. `unix_path` may be empty.
  bool open(const std::string& address, int port, const std::string& unix_path, int backlog);
  // Stops accepting (shutdown): the sockets close and the unix socket's path is removed.
  void close();

 private:
  bool open_unix(const std::string& path, int backlog);
  void accept_batch(int listen_fd);

  EventLoop& loop_;
  Accepted on_accept_;
  UniqueFd tcp_fd_;
  uint64_t tcp_id_ = 0;
  UniqueFd unix_fd_;
  uint64_t unix_id_ = 0;
  std::string unix_path_;
  UniqueFd reserve_fd_;  // given up to accept-and-close when the process runs out of descriptors
};

}  // namespace chat::realtime
