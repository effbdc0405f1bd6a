// Consumer threads: reclaim what dead workers left (XAUTOCLAIM), else block briefly for a new job
// (XREADGROUP); a job is acked only after its function returned, i.e. after its transaction committed.
#include "worker/consumer.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>

#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"
#include "worker/jobs.hpp"

namespace chat::worker {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBlockMs = 500;  // below the Redis client's 1 s timeout; also how fast a stop is noticed

// How often a thread looks for jobs that dead workers left: a fraction of the timeout, so such a job
// waits at most about 1.25 timeouts.
std::chrono::milliseconds claim_interval(int64_t timeout_ms) {
  return std::chrono::milliseconds(std::clamp<int64_t>(timeout_ms / 4, 50, 5000));
}

// Milliseconds since a stream entry was added: its id is "<Redis ms>-<seq>" (chat:jobs and its re-queues).
int64_t queued_ms_ago(const std::string& entry_id) {
  const auto id = stream::StreamId::parse(entry_id);
  if (!id || id->ms == 0) return 0;
  return std::max<int64_t>(unix_now_ms() - static_cast<int64_t>(id->ms), 0);
}

// Keeps a job in the in-flight set while it runs.
class InFlight {
 public:
  InFlight(std::mutex& mu, std::multiset<std::string>& set, const std::string& id) : mu_(mu), set_(set) {
    std::lock_guard lock(mu_);
    it_ = set_.insert(id);
  }
  ~InFlight() {
    std::lock_guard lock(mu_);
    set_.erase(it_);
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::mutex& mu_;
  std::multiset<std::string>& set_;
  std::multiset<std::string>::iterator it_;
};

}  // namespace

std::vector<std::string> Consumer::in_flight() const {
  std::lock_guard lock(mu_);
  return {in_flight_.begin(), in_flight_.end()};
}

void Consumer::pause_ms(int64_t ms) const {
  auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (!stopping_.load() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void Consumer::run_thread(int index) {
  db::Connection db(config_.database_url, "chat-worker");
  redis::Client redis(redis::target_of(config_));
  Context ctx{config_, db, redis};
  Queue queue(redis, name_);
  std::mt19937_64 rng(std::random_device{}() + static_cast<uint64_t>(index));
  const auto interval = claim_interval(config_.worker.job_timeout_ms);
  auto next_claim = Clock::now();  // first look for what a worker that died left behind
  bool group_ready = false;
  while (!stopping_.load()) {
    try {
      if (!group_ready) {
        queue.ensure_group();
        group_ready = true;
      }
      std::optional<Job> job;
      if (Clock::now() >= next_claim) {
        bool scan_done = false;
        job = queue.autoclaim(config_.worker.job_timeout_ms, &scan_done);
        if (!job && scan_done) next_claim = Clock::now() + interval;
      }
      if (!job) job = queue.read(kBlockMs);
      if (job) process(ctx, queue, *job, rng);
    } catch (const redis::RedisError& e) {
      log::warn("queue_unavailable", {{"consumer", name_}, {"error", e.what()}});
      group_ready = false;
      pause_ms(1000);
    } catch (const std::exception& e) {
      log::error("consumer_error", {{"consumer", name_}, {"error", e.what()}});
      pause_ms(1000);
    }
  }
}

void Consumer::process(Context& ctx, Queue& queue, const Job& job, std::mt19937_64& rng) {
  const WorkerSettings& s = config_.worker;
  const int64_t wait_ms = queued_ms_ago(job.entry_id);
  if (job.attempt > s.max_attempts) {
    // Delivered again and again to workers that died (or were killed) before finishing it.
    std::string error = "abandoned: taken " + std::to_string(job.deliveries) + " times by workers that stopped";
    metrics_.job(job.type, fail(queue, job, error, true, rng), wait_ms, 0);
    return;
  }
  const JobSpec* spec = find_job(job.type, s.test_jobs);
  if (!spec) {
    metrics_.job(job.type, fail(queue, job, "unknown job type \"" + job.type + "\"", true, rng), wait_ms, 0);
    return;
  }
  InFlight guard(mu_, in_flight_, job.entry_id);
  auto started = Clock::now();
  std::exception_ptr failure;
  try {
    JobContext jc{ctx, job, s, name_, stopping_, &relayer_, &metrics_};
    spec->run(jc);
  } catch (...) {
    failure = std::current_exception();
  }
  // The function's own time, before a failure's Redis round trips and pause.
  const int64_t run_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
  Metrics::Outcome outcome = Metrics::Outcome::kDone;
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const HandedBack& e) {
      log::info("job_handed_back", {{"type", job.type}, {"job_id", job.job_id}, {"entry", job.entry_id}});
      outcome = Metrics::Outcome::kHandedBack;  // not acked: XAUTOCLAIM gives it to another worker after the timeout
    } catch (const PermanentError& e) {
      outcome = fail(queue, job, e.what(), true, rng);
    } catch (const db::DbError& e) {
      outcome = e.connection_lost() ? defer(queue, job, e.what(), rng) : fail(queue, job, e.what(), false, rng);
    } catch (const redis::RedisError& e) {
      outcome = defer(queue, job, e.what(), rng);
    } catch (const std::exception& e) {
      outcome = fail(queue, job, e.what(), false, rng);
    }
  } else {
    bool acked = queue.ack(job);
    log::debug("job_done", {{"type", job.type}, {"job_id", job.job_id}, {"attempt", std::to_string(job.attempt)},
                            {"ms", std::to_string(run_us / 1000)}, {"acked", acked ? "true" : "false"}});
  }
  metrics_.job(job.type, outcome, wait_ms, run_us);
}

Metrics::Outcome Consumer::fail(Queue& queue, const Job& job, const std::string& error, bool permanent,
                               std::mt19937_64& rng) {
  const WorkerSettings& s = config_.worker;
  const int attempts = std::min(job.attempt, s.max_attempts);
  if (permanent || job.attempt >= s.max_attempts) {
    bool moved = queue.dead_letter(job, error, attempts, rfc3339_now());
    log::error("job_dead_lettered", {{"type", job.type}, {"job_id", job.job_id}, {"entry", job.entry_id},
                                     {"attempts", std::to_string(attempts)}, {"error", error},
                                     {"moved", moved ? "true" : "false"}});
    return Metrics::Outcome::kDeadLettered;
  }
  int64_t delay = backoff_delay_ms(job.attempt, s.backoff_base_ms, s.backoff_cap_ms, rng);
  bool moved = queue.retry(job, job.attempt + 1, queue.server_time_ms() + delay);
  log::warn("job_retry", {{"type", job.type}, {"job_id", job.job_id}, {"attempt", std::to_string(job.attempt)},
                          {"delay_ms", std::to_string(delay)}, {"error", error}, {"moved", moved ? "true" : "false"}});
  return Metrics::Outcome::kRetried;
}

Metrics::Outcome Consumer::defer(Queue& queue, const Job& job, const std::string& error, std::mt19937_64& rng) {
  log::warn("job_deferred", {{"type", job.type}, {"job_id", job.job_id}, {"error", error}});
  try {
    int64_t delay = backoff_delay_ms(job.attempt, config_.worker.backoff_base_ms, config_.worker.backoff_cap_ms, rng);
    // The same attempt number again: an outage is not the job's fault.
    queue.retry(job, job.attempt, queue.server_time_ms() + delay);
  } catch (const redis::RedisError&) {
    // Redis itself is gone: the entry stays pending and is reclaimed once it is back.
  }
  pause_ms(1000);  // do not burn through the queue while a service is down
  return Metrics::Outcome::kDeferred;
}

}  // namespace chat::worker
