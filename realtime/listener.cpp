// Listening sockets and accept4: the socket options every connection gets, and the reserve descriptor.
#include "realtime/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.hpp"

namespace chat::realtime {
namespace {

constexpr int kAcceptBatch = 128;  // then back to the loop
// The kernel send buffer of every socket (the kernel doubles it): fixed, because autotuning would let a
// stalled reader park megabytes there (and nginx's side of the socket as much again) before the daemon's
// own limits even count.
constexpr int kSocketSendBuffer = 64 * 1024;

}  // namespace

Listener::Listener(EventLoop& loop, Accepted on_accept) : loop_(loop), on_accept_(std::move(on_accept)) {}

bool Listener::open(const std::string& address, int port, const std::string& unix_path, int backlog) {
  tcp_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!tcp_fd_) return false;
  int one = 1;
  setsockopt(tcp_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) return false;
  if (::bind(tcp_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(tcp_fd_.get(), backlog) != 0) {
    log::error("listen_failed", {{"call", "bind/listen"}, {"port", std::to_string(port)},
                                 {"error", std::strerror(errno)}});
    return false;
  }
  tcp_id_ = loop_.add(tcp_fd_.get(), EPOLLIN, [this](uint64_t, uint32_t) { accept_batch(tcp_fd_.get()); });
  reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (tcp_id_ == 0) return false;
  return unix_path.empty() || open_unix(unix_path, backlog);
}

// The local nginx's way in. Over a unix socket the bytes a stalled client has not taken wait in this daemon's
// send buffer only (AF_UNIX charges them to the sender), where over TCP loopback nginx's receive buffer would
// hold as much again: one bounded buffer per hop.
bool Listener::open_unix(const std::string& path, int backlog) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    log::error("listen_failed", {{"call", "bind"}, {"socket", path}, {"error", "path too long"}});
    return false;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());  // left by a killed daemon
  unix_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!unix_fd_ || ::bind(unix_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), 0666) != 0 || ::listen(unix_fd_.get(), backlog) != 0) {
    log::error("listen_failed", {{"call", "bind/listen"}, {"socket", path}, {"error", std::strerror(errno)}});
    return false;
  }
  unix_path_ = path;
  unix_id_ = loop_.add(unix_fd_.get(), EPOLLIN, [this](uint64_t, uint32_t) { accept_batch(unix_fd_.get()); });
  return unix_id_ != 0;
}

void Listener::close() {
  if (tcp_id_) loop_.remove(tcp_id_);
  tcp_id_ = 0;
  tcp_fd_.reset();
  if (unix_id_) {
    loop_.remove(unix_id_);
    ::unlink(unix_path_.c_str());
  }
  unix_id_ = 0;
  unix_fd_.reset();
}

void Listener::accept_batch(int listen_fd) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && reserve_fd_) {
        // Out of descriptors: free the reserve to accept and close one, so the backlog does not spin the loop.
        reserve_fd_.reset();
        int victim = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (victim >= 0) ::close(victim);
        reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        log::warn("accept_out_of_fds");
      }
      return;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketSendBuffer, sizeof kSocketSendBuffer);
    char ip[INET_ADDRSTRLEN] = "unix";  // nginx's X-Real-IP names the client then
    if (peer.ss_family == AF_INET) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small frames go out at once
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, ip, sizeof ip);
    }
    on_accept_(UniqueFd(fd), ip);
  }
}

}  // namespace chat::realtime
