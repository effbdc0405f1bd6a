// The daemon's blocking work, off the loop thread: a small pool of threads, each with its own PostgreSQL
// and Redis connection (libpq and hiredis handles are not thread-safe). Jobs report back to the loop
// with EventLoop::post.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "core/context.hpp"

namespace chat::realtime {

class WorkerPool {
 public:
  using Job = std::function<void(Context&)>;

  // `threads` threads named after `name` (the PostgreSQL application_name too).
  WorkerPool(const Config& config, std::string name, int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();
  // Thread-safe. Jobs run in submission order on a one-thread pool (the ordered publishing lane).
  void submit(Job job);
  // Runs what is queued, then joins the threads.
  void stop();
  size_t pending() const;

 private:
  void run();

  const Config& config_;
  std::string name_;
  int threads_;
  std::vector<std::thread> workers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
};

}  // namespace chat::realtime
