// One epoll event loop per process (after libuv's uv_run and Redis's ae.c): fd watchers keyed by a
// 64-bit id, a timer heap, and an eventfd through which other threads post tasks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/unique_fd.hpp"

namespace chat::realtime {

// Milliseconds of CLOCK_MONOTONIC (timers, timeouts, the ring's age bound).
int64_t monotonic_ms();

class EventLoop {
 public:
  using IoCallback = std::function<void(uint64_t id, uint32_t events)>;
  using Callback = std::function<void()>;

  EventLoop();  // throws std::runtime_error when epoll or eventfd cannot be created
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` (not owned) for `events` (EPOLLIN, EPOLLOUT...). Returns the watcher id, never reused:
  // epoll carries the id, not the fd, so an event for a watcher removed earlier in the same batch (its
  // fd closed and perhaps reused by a new connection) finds no watcher and is dropped. 0 on failure.
  uint64_t add(int fd, uint32_t events, IoCallback cb);
  bool modify(uint64_t id, uint32_t events);
  // Stops watching. Safe inside the watcher's own callback: the callback is destroyed after dispatch.
  void remove(uint64_t id);

  // Runs `cb` once, `delay_ms` from now; returns an id for cancel_timer.
  uint64_t add_timer(int64_t delay_ms, Callback cb);
  // Runs `cb` every `interval_ms` until the loop stops.
  void every(int64_t interval_ms, Callback cb);
  void cancel_timer(uint64_t id);

  // Thread-safe: runs `task` on the loop thread soon (mutex queue + eventfd wake-up).
  void post(Callback task);

  // Hooks of the loop body: before_wait flushes writes, after_dispatch frees closed connections.
  void set_before_wait(Callback cb) { before_wait_ = std::move(cb); }
  void set_after_dispatch(Callback cb) { after_dispatch_ = std::move(cb); }

  // The loop body, top to bottom: run due timers, run posted tasks, before_wait, epoll_wait until the
  // next timer, dispatch, after_dispatch. Returns after stop().
  void run();
  void stop() { stopping_ = true; }  // loop thread only; other threads post([&]{ loop.stop(); })

  int64_t now_ms() const { return now_ms_; }  // cached at the start of the iteration and after the wait

 private:
  struct Watcher {
    int fd;
    IoCallback cb;
  };
  struct TimerEntry {
    int64_t deadline;
    uint64_t id;
    bool operator>(const TimerEntry& o) const { return deadline != o.deadline ? deadline > o.deadline : id > o.id; }
  };

  void run_timers();
  void run_posted();
  void schedule_every(int64_t interval_ms, std::shared_ptr<Callback> cb);
  int next_timeout() const;

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd
  uint64_t wake_id_ = 0;
  uint64_t next_id_ = 1;
  // Heap-allocated so a callback that removes its own watcher keeps running on a live object.
  std::unordered_map<uint64_t, std::unique_ptr<Watcher>> watchers_;
  std::vector<std::unique_ptr<Watcher>> graveyard_;  // removed watchers, destroyed after dispatch

  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timer_heap_;
  std::unordered_map<uint64_t, Callback> timers_;  // cancelled timers are absent (lazy heap deletion)

  mutable std::mutex posted_mu_;
  std::vector<Callback> posted_;

  Callback before_wait_;
  Callback after_dispatch_;
  int64_t now_ms_ = 0;
  bool stopping_ = false;
};

}  // namespace chat::realtime
