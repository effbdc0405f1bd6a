// The output side of the daemon's connections: queues, writes, replay refills, closes and freeing.
#include "realtime/connection_table.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include "core/log.hpp"
#include "realtime/deadlines.hpp"

namespace chat::realtime {
namespace {

constexpr size_t kReplayChunk = 1024 * 1024;  // replay frames queued per drain
constexpr int kFlushRounds = 4;               // refills per socket per flush: the others get their turn

}  // namespace

ConnectionTable::ConnectionTable(EventLoop& loop, Metrics& metrics, Finished on_finished)
    : loop_(loop), metrics_(metrics), on_finished_(std::move(on_finished)) {}

bool ConnectionTable::adopt(UniqueFd fd, std::string peer_ip, EventLoop::IoCallback on_io) {
  uint64_t id = loop_.add(fd.get(), EPOLLIN, std::move(on_io));
  if (id == 0) return false;
  auto c = std::make_unique<Connection>(std::move(fd), id, std::move(peer_ip), loop_.now_ms());
  c->epoll_events = EPOLLIN;
  conns_.emplace(id, std::move(c));
  ++metrics_.tcp_connections;
  return true;
}

Connection* ConnectionTable::find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

std::vector<uint64_t> ConnectionTable::ids() const {
  std::vector<uint64_t> out;
  out.reserve(conns_.size());
  for (const auto& [id, c] : conns_) out.push_back(id);
  return out;
}

void ConnectionTable::send(uint64_t conn_id, const Frame& frame) {
  Connection* c = find(conn_id);
  if (!c || c->state() != Connection::State::kOpen) return;
  if (c->replaying) {
    c->held.push_back(frame);
    c->held_bytes += frame->size();
    if (c->held_bytes <= Connection::kMaxPendingOutput) return;
  } else if (c->queue(frame)) {
    ++metrics_.frames_out;
    mark_dirty(*c);
    return;
  }
  close_not_reading(*c, "output buffer full");
}

void ConnectionTable::send_json(Connection& c, const std::string& json_text) {
  send(c.id(), make_text_frame(json_text));
}

void ConnectionTable::ping(Connection& c) {
  c.queue_raw(ws::encode_ping());
  c.last_ping_ms = loop_.now_ms();
  ++metrics_.pings_sent;
  mark_dirty(c);
}

void ConnectionTable::mark_dirty(Connection& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(c.id());
}

void ConnectionTable::respond_http(Connection& c, int status, const std::string& body, const ws::HeaderList& headers,
                                   const char* content_type) {
  if (status == 200) {
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: ";
    out.append(content_type ? content_type : "application/json").append("\r\nContent-Length: ");
    out.append(std::to_string(body.size())).append("\r\nConnection: close\r\n\r\n").append(body);
    c.queue_raw(std::move(out));
  } else {
    c.queue_raw(ws::build_http_error(status, body, headers));
  }
  c.set_state(Connection::State::kDone);
  c.close_deadline_ms = loop_.now_ms() + kCloseWaitMs;
  mark_dirty(c);
}

void ConnectionTable::drop_replay(Connection& c) {
  c.replaying = false;
  std::vector<EventPtr>().swap(c.replay);  // swaps, not clear(): a socket keeps no replay-sized buffer
  std::vector<Frame>().swap(c.held);
  c.held_bytes = 0;
}

void ConnectionTable::start_close(Connection& c, uint16_t code, std::string_view reason, int64_t wait_ms) {
  if (c.state() != Connection::State::kOpen) return;
  drop_replay(c);  // nothing but the close goes out any more
  c.queue_raw(ws::encode_close(code, reason));
  c.set_state(Connection::State::kClosing);
  c.close_label = std::to_string(code);
  c.close_deadline_ms = loop_.now_ms() + wait_ms;
  mark_dirty(c);
}

void ConnectionTable::close_not_reading(Connection& c, const char* reason) {
  ++metrics_.backpressure_drops;
  log::info("ws_backpressure_close", {{"request_id", c.request_id}, {"user_id", c.user_id}, {"reason", reason}});
  c.drop_queue();
  // The close frame waits behind what the kernel holds for the socket; a client that reads again within
  // 20 s still gets it (and resumes with last_event_id) rather than a bare TCP close.
  start_close(c, ws::kCloseTryAgainLater, reason, 20'000);
}

void ConnectionTable::finish(Connection& c, const std::string& label) {
  const uint64_t id = c.id();
  on_finished_(c, label);
  loop_.remove(id);
  --metrics_.tcp_connections;
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  closed_.push_back(std::move(it->second));  // freed after dispatch: callers up the stack may hold `c`
  conns_.erase(it);
}

// Before epoll_wait: write what was queued this iteration, refill replays, and watch EPOLLOUT only for
// sockets the kernel would not take everything from.
void ConnectionTable::flush() {
  // Two lists that trade places keep their capacity: a fan-out to 10 000 sockets does not grow one anew.
  flushing_.clear();
  flushing_.swap(dirty_);
  for (uint64_t id : flushing_) {
    Connection* c = find(id);
    if (!c) continue;
    c->dirty = false;
    if (!flush_one(*c)) continue;
    if (c->state() == Connection::State::kDone && c->pending_bytes() == 0) {
      if (!c->write_shut) {
        // Everything is written: shut the write side and read until the peer's EOF (the reader finishes
        // it then) or the close deadline (the timer tick finishes it then).
        c->write_shut = true;
        if (::shutdown(c->fd(), SHUT_WR) != 0) {
          finish(*c, c->close_label.empty() ? "http" : c->close_label);
          continue;
        }
      }
      if (c->epoll_events != EPOLLIN) {
        loop_.modify(id, EPOLLIN);
        c->epoll_events = EPOLLIN;
      }
      continue;
    }
    uint32_t want = EPOLLIN | (c->pending_bytes() > 0 ? EPOLLOUT : 0u);
    if (want != c->epoll_events) {
      loop_.modify(id, want);
      c->epoll_events = want;
    }
  }
}

bool ConnectionTable::flush_one(Connection& c) {
  for (int round = 0; round < kFlushRounds; ++round) {
    uint64_t written = 0;
    if (c.flush(&written) != Connection::IoStatus::kOk) {
      finish(c, c.close_label.empty() ? "reset" : c.close_label);
      return false;
    }
    metrics_.bytes_out += written;
    // The stall clock runs while output waits and the kernel takes none of it.
    if (c.pending_bytes() == 0) c.stalled_since_ms = 0;
    else if (written > 0 || c.stalled_since_ms == 0) c.stalled_since_ms = loop_.now_ms();
    if (!c.replaying || c.pending_bytes() > 0) break;
    // The socket took everything: queue the next slice of the replay, or end it with the held frames.
    size_t budget = 0;
    while (c.replay_pos < c.replay.size() && budget < kReplayChunk) {
      const Frame& f = c.replay[c.replay_pos++]->frame;
      budget += f->size();
      if (c.queue(f)) ++metrics_.frames_out;
    }
    if (c.replay_pos >= c.replay.size()) {
      for (auto& f : c.held) {
        if (c.queue(f)) ++metrics_.frames_out;
      }
      drop_replay(c);
    }
  }
  return true;
}

}  // namespace chat::realtime
