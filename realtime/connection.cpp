// Socket I/O of one connection: bounded reads, writev of queued shared frames, backpressure accounting.
#include "realtime/connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace chat::realtime {

Connection::Connection(UniqueFd fd, uint64_t id, std::string ip, int64_t now_ms)
    : peer_ip(std::move(ip)), created_ms(now_ms), last_read_ms(now_ms), last_ping_ms(now_ms),
      fd_(std::move(fd)), id_(id) {}

Connection::IoStatus Connection::read_some(std::string& into, size_t budget) {
  char buf[16384];
  size_t total = 0;
  while (total < budget) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < sizeof buf) break;  // drained for now (level-triggered: epoll says if more)
      continue;
    }
    if (n == 0) return IoStatus::kClosed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return IoStatus::kError;
  }
  return IoStatus::kOk;
}

bool Connection::queue(const Frame& frame) {
  if (state_ != State::kOpen || overflowed_) return false;
  if (pending_bytes_ + frame->size() > kMaxPendingOutput) {
    overflowed_ = true;
    return false;
  }
  pending_bytes_ += frame->size();
  out_.push_back(frame);
  return true;
}

void Connection::queue_raw(std::string bytes) {
  pending_bytes_ += bytes.size();
  out_.push_back(std::make_shared<const std::string>(std::move(bytes)));
}

void Connection::drop_queue() {
  while (out_.size() > (head_offset_ > 0 ? 1u : 0u)) {
    pending_bytes_ -= out_.back()->size();
    out_.pop_back();
  }
}

Connection::IoStatus Connection::flush(uint64_t* written) {
  constexpr int kMaxIov = 64;
  while (!out_.empty()) {
    iovec iov[kMaxIov];
    int n = 0;
    for (auto it = out_.begin(); it != out_.end() && n < kMaxIov; ++it, ++n) {
      const std::string& f = **it;
      size_t skip = n == 0 ? head_offset_ : 0;
      iov[n].iov_base = const_cast<char*>(f.data() + skip);
      iov[n].iov_len = f.size() - skip;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t w = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);  // no SIGPIPE for a peer that went away
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return IoStatus::kOk;
      return IoStatus::kError;
    }
    *written += static_cast<uint64_t>(w);
    size_t left = static_cast<size_t>(w);
    pending_bytes_ -= left;
    while (left > 0) {
      size_t rest = out_.front()->size() - head_offset_;
      if (left >= rest) {
        left -= rest;
        out_.pop_front();
        head_offset_ = 0;
      } else {
        head_offset_ += left;
        left = 0;
      }
    }
  }
  return IoStatus::kOk;
}

}  // namespace chat::realtime
