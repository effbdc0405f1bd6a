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
  while (out_.size() - out_head_ > (head_offset_ > 0 ? 1u : 0u)) {
    pending_bytes_ -= out_.back()->size();
    out_.pop_back();
  }
  compact();
}

void Connection::compact() {
  // A drained queue gives back all but a few slots (an idle socket keeps none to speak of); a reader that
  // never quite drains has the written front erased once it is half the vector, so the slots stay bounded.
  constexpr size_t kKeptSlots = 8;
  if (out_head_ == out_.size()) {
    if (out_.capacity() > kKeptSlots) std::vector<Frame>().swap(out_);
    else out_.clear();
    out_head_ = 0;
  } else if (out_head_ >= 64 && out_head_ * 2 >= out_.size()) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_head_));
    out_head_ = 0;
  }
}

Connection::IoStatus Connection::flush(uint64_t* written) {
  constexpr size_t kMaxIov = 64;
  while (out_head_ < out_.size()) {
    iovec iov[kMaxIov];
    size_t n = 0;
    for (size_t i = out_head_; i < out_.size() && n < kMaxIov; ++i, ++n) {
      const std::string& f = *out_[i];
      size_t skip = n == 0 ? head_offset_ : 0;
      iov[n].iov_base = const_cast<char*>(f.data() + skip);
      iov[n].iov_len = f.size() - skip;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t w = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);  // no SIGPIPE for a peer that went away
    if (w < 0) {
      if (errno == EINTR) continue;
      compact();
      if (errno == EAGAIN || errno == EWOULDBLOCK) return IoStatus::kOk;
      return IoStatus::kError;
    }
    *written += static_cast<uint64_t>(w);
    size_t left = static_cast<size_t>(w);
    pending_bytes_ -= left;
    while (left > 0) {
      size_t rest = out_[out_head_]->size() - head_offset_;
      if (left >= rest) {
        left -= rest;
        out_[out_head_++].reset();  // the frame's last reference may be this one
        head_offset_ = 0;
      } else {
        head_offset_ += left;
        left = 0;
      }
    }
  }
  compact();
  return IoStatus::kOk;
}

}  // namespace chat::realtime
