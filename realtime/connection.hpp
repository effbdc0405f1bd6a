// One client TCP connection: non-blocking socket, HTTP head parser then WebSocket decoder, and an output
// queue of shared immutable frames (one encoded event is shared by all its recipients), plus its state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "realtime/event_loop.hpp"
#include "realtime/resume.hpp"
#include "realtime/stream_event.hpp"
#include "realtime/ws_codec.hpp"
#include "realtime/ws_handshake.hpp"

namespace chat::realtime {

class Connection {
 public:
  enum class State : uint8_t {
    kHttp,            // reading the request head
    kAuthenticating,  // upgrade valid so far, the auth worker is checking the token
    kOpen,            // WebSocket open (§4.2.2 sent)
    kClosing,         // close frame queued (§7.1.2): waiting for the peer's close or the deadline
    kDone,            // nothing more is sent; the socket closes once the queue is written
  };
  enum class IoStatus : uint8_t { kOk, kClosed, kError };

  // §10.4: messages larger than 64 KiB are refused with 1009.
  static constexpr size_t kMaxClientMessage = 64 * 1024;
  // Unsent output past this closes the socket with 1013: a slow reader never holds the loop or memory.
  static constexpr size_t kMaxPendingOutput = 4 * 1024 * 1024;

  Connection(UniqueFd fd, uint64_t id, std::string peer_ip, int64_t now_ms);

  uint64_t id() const { return id_; }
  int fd() const { return fd_.get(); }
  // Lingering close (RFC 6455 §7.1.1): after the last byte, the write side is shut and the socket
  // drained until the peer's EOF, so data still in flight does not make the kernel reset the
  // connection (a proxy such as nginx would then drop the close frame it had not yet passed on).
  bool write_shut = false;
  State state() const { return state_; }
  void set_state(State s) { state_ = s; }

  // Appends what the socket has to `into`, at most `budget` bytes (fairness between sockets).
  IoStatus read_some(std::string& into, size_t budget);
  // Queues a frame. False (nothing queued) when the connection is not open for frames; sets
  // overflowed() when the queue would pass kMaxPendingOutput.
  bool queue(const Frame& frame);
  // Queues bytes whatever the state (HTTP responses, close frames).
  void queue_raw(std::string bytes);
  // Backpressure: drops every queued frame except a partly written one (its remaining bytes must
  // still go out, or the peer would parse garbage).
  void drop_queue();
  // Writes what the kernel takes; adds the bytes written to *written.
  IoStatus flush(uint64_t* written);
  size_t pending_bytes() const { return pending_bytes_; }
  bool overflowed() const { return overflowed_; }

  // epoll bookkeeping of the server.
  uint32_t epoll_events = 0;
  bool dirty = false;  // has output queued since the last flush pass

  // Protocol state.
  ws::RequestParser http;
  ws::Decoder decoder{kMaxClientMessage};
  std::string early_input;  // frames that came behind the upgrade request, before the 101

  // Request facts (logged with every line about this connection).
  std::string peer_ip;
  std::string request_id;
  std::string accept_key;
  ResumePlan resume;
  StreamId position_at_request;  // the loop's stream position before membership was loaded

  // Identity once authenticated.
  std::string user_id;
  std::string username;
  std::string session_id;

  // A resume in progress: the missed events go out as the socket drains (a replay may be far larger
  // than the output limit); live frames wait in `held` meanwhile, so they follow the replay.
  bool replaying = false;
  std::vector<EventPtr> replay;
  size_t replay_pos = 0;
  std::vector<Frame> held;  // a vector, not a deque: an empty std::deque already holds a 512-byte block
  size_t held_bytes = 0;

  // Timing (loop milliseconds).
  int64_t created_ms = 0;
  int64_t last_read_ms = 0;
  int64_t last_ping_ms = 0;
  int64_t close_deadline_ms = 0;
  int64_t stalled_since_ms = 0;  // output waits and the kernel took none of it since (0: not stalled)
  bool registered = false;  // in the hub
  std::string close_label;  // the close code for metrics, set when the close starts

 private:
  UniqueFd fd_;
  uint64_t id_;
  State state_ = State::kHttp;
  // Drops the written frames in front of out_head_ (all of them once the queue is empty).
  void compact();

  // The output queue: out_[out_head_..] waits, out_[out_head_] partly written when head_offset_ > 0. A vector
  // with a moving head rather than a std::deque, whose empty self is a 512-byte block and a map: per idle
  // socket that was most of its memory.
  std::vector<Frame> out_;
  size_t out_head_ = 0;
  size_t head_offset_ = 0;  // bytes of out_[out_head_] already written
  size_t pending_bytes_ = 0;
  bool overflowed_ = false;
};

}  // namespace chat::realtime
