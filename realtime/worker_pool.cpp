// The pool's threads: each connects lazily, takes jobs in order, and logs a job that throws (the loop
// never hears of it, so a job reports its own failure to the loop when the loop must know).
#include "realtime/worker_pool.hpp"

#include "core/log.hpp"

namespace chat::realtime {

WorkerPool::WorkerPool(const Config& config, std::string name, int threads)
    : config_(config), name_(std::move(name)), threads_(threads < 1 ? 1 : threads) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { run(); });
}

void WorkerPool::submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void WorkerPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

size_t WorkerPool::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

void WorkerPool::run() {
  // Own connections per thread: libpq and hiredis handles are not thread-safe. Both connect lazily.
  db::Connection db(config_.database_url, name_);
  redis::Client redis(redis::target_of(config_));
  Context ctx{config_, db, redis};
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job(ctx);
    } catch (const std::exception& e) {
      log::error("worker_job_failed", {{"pool", name_}, {"error", e.what()}});
    }
  }
}

}  // namespace chat::realtime
