// The consumer loop: a pool of threads, each with its own connections, taking jobs from the queue and
// acking, retrying (exponential backoff, full jitter) or dead-lettering them.
#pragma once

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/context.hpp"
#include "worker/jobs.hpp"
#include "worker/metrics.hpp"
#include "worker/queue.hpp"

namespace chat::worker {

class Consumer {
 public:
  Consumer(const Config& config, std::string name, const std::atomic<bool>& stopping, Metrics& metrics)
      : config_(config), name_(std::move(name)), stopping_(stopping), metrics_(metrics) {}
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // One thread of the pool: takes jobs until the worker stops, then returns after its current job.
  void run_thread(int index);
  // The entries of the jobs running now (the scheduler's heartbeat keeps them claimed).
  std::vector<std::string> in_flight() const;
  const std::string& name() const { return name_; }
  Metrics& metrics() const { return metrics_; }

 private:
  void process(Context& ctx, Queue& queue, const Job& job, std::mt19937_64& rng);
  // A failed run: the next attempt after a backoff, or the dead-letter stream after the last one.
  Metrics::Outcome fail(Queue& queue, const Job& job, const std::string& error, bool permanent, std::mt19937_64& rng);
  // PostgreSQL or Redis unreachable: run the job again later without spending one of its attempts.
  Metrics::Outcome defer(Queue& queue, const Job& job, const std::string& error, std::mt19937_64& rng);
  void pause_ms(int64_t ms) const;

  const Config& config_;
  const std::string name_;
  const std::atomic<bool>& stopping_;
  Metrics& metrics_;
  mutable std::mutex mu_;
  std::multiset<std::string> in_flight_;
  Relayer relayer_;
};

}  // namespace chat::worker
