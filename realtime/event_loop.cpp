// epoll loop: level-triggered watchers dispatched by id, a min-heap of timers, eventfd for posted tasks.
#include "realtime/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "core/log.hpp"

namespace chat::realtime {

int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

EventLoop::EventLoop() : epoll_(epoll_create1(EPOLL_CLOEXEC)), wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!epoll_ || !wake_) throw std::runtime_error(std::string("epoll/eventfd: ") + std::strerror(errno));
  now_ms_ = monotonic_ms();
  wake_id_ = add(wake_.get(), EPOLLIN, [this](uint64_t, uint32_t) {
    uint64_t n;
    while (::read(wake_.get(), &n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
    }
    run_posted();
  });
  if (wake_id_ == 0) throw std::runtime_error("epoll_ctl on the eventfd failed");
}

uint64_t EventLoop::add(int fd, uint32_t events, IoCallback cb) {
  uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    log::error("epoll_add_failed", {{"call", "epoll_ctl"}, {"error", std::strerror(errno)}});
    return 0;
  }
  watchers_.emplace(id, std::make_unique<Watcher>(Watcher{fd, std::move(cb)}));
  return id;
}

bool EventLoop::modify(uint64_t id, uint32_t events) {
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return false;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  return epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, it->second->fd, &ev) == 0;
}

void EventLoop::remove(uint64_t id) {
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->fd, nullptr);
  graveyard_.push_back(std::move(it->second));
  watchers_.erase(it);
}

uint64_t EventLoop::add_timer(int64_t delay_ms, Callback cb) {
  uint64_t id = next_id_++;
  timers_.emplace(id, std::move(cb));
  timer_heap_.push(TimerEntry{monotonic_ms() + (delay_ms < 0 ? 0 : delay_ms), id});
  return id;
}

void EventLoop::every(int64_t interval_ms, Callback cb) {
  schedule_every(interval_ms, std::make_shared<Callback>(std::move(cb)));
}

void EventLoop::schedule_every(int64_t interval_ms, std::shared_ptr<Callback> cb) {
  add_timer(interval_ms, [this, interval_ms, cb]() {
    (*cb)();
    schedule_every(interval_ms, cb);  // re-armed after the run: a slow tick never piles up
  });
}

void EventLoop::cancel_timer(uint64_t id) { timers_.erase(id); }

void EventLoop::post(Callback task) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_.get(), &one, sizeof one);  // EAGAIN only when the counter is huge: still awake
  (void)ignored;
}

void EventLoop::run_posted() {
  std::vector<Callback> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t();
}

void EventLoop::run_timers() {
  while (!timer_heap_.empty() && timer_heap_.top().deadline <= now_ms_) {
    TimerEntry t = timer_heap_.top();
    timer_heap_.pop();
    auto it = timers_.find(t.id);
    if (it == timers_.end()) continue;  // cancelled
    Callback cb = std::move(it->second);
    timers_.erase(it);
    cb();
  }
}

int EventLoop::next_timeout() const {
  if (stopping_) return 0;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    if (!posted_.empty()) return 0;
  }
  if (timer_heap_.empty()) return 1000;
  int64_t wait = timer_heap_.top().deadline - monotonic_ms();
  if (wait < 0) return 0;
  return static_cast<int>(wait > 1000 ? 1000 : wait);
}

void EventLoop::run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  stopping_ = false;
  while (!stopping_) {
    now_ms_ = monotonic_ms();
    run_timers();
    run_posted();
    if (before_wait_) before_wait_();
    int n = epoll_wait(epoll_.get(), events, kMaxEvents, next_timeout());
    if (n < 0 && errno != EINTR) {
      log::error("epoll_wait_failed", {{"call", "epoll_wait"}, {"error", std::strerror(errno)}});
      break;
    }
    now_ms_ = monotonic_ms();
    for (int i = 0; i < n; ++i) {
      auto it = watchers_.find(events[i].data.u64);
      if (it == watchers_.end()) continue;  // stale: removed earlier in this batch
      Watcher* w = it->second.get();  // stays alive until graveyard_ is cleared, even if removed
      w->cb(events[i].data.u64, events[i].events);
    }
    if (after_dispatch_) after_dispatch_();
    graveyard_.clear();
  }
}

}  // namespace chat::realtime
