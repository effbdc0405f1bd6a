// This worker process's own counters, served as Prometheus text on WORKER_METRICS_PORT (core/metrics_server).
// The queue's shared figures (depth, oldest job, dead letters, the group's totals) are the handlers' /metrics,
// read from Redis; these are what only this process saw. Thread-safe: every consumer thread and the
// scheduler record here, a job at a time (milliseconds apart), so one mutex costs nothing that shows.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace chat::worker {

class Metrics {
 public:
  // What became of one run of a job.
  enum class Outcome { kDone, kRetried, kDeadLettered, kDeferred, kHandedBack };
  static constexpr std::array<const char*, 5> kOutcomes{"done", "retried", "dead_lettered", "deferred", "handed_back"};
  // Upper bounds of the duration and queue-wait histograms, in seconds.
  static constexpr std::array<double, 12> kBuckets{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};

  // A job's run: `wait_ms` from its entry's time (when it was queued, or re-queued for its retry) to when it was
  // taken, `run_us` its function's time (both 0 when it did not run: unknown type, too many deliveries).
  void job(const std::string& type, Outcome outcome, int64_t wait_ms, int64_t run_us);
  void periodic(const std::string& type, bool ok);
  // One relay of a conversation's outbox rows (a transaction and a Redis pipeline): `entries` rows moved.
  void relayed(int64_t entries);

  // `jobs_in_flight`: the consumer's (it keeps them for its heartbeat).
  std::string render(size_t jobs_in_flight) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size() + 1> counts{};
    double sum = 0;
    void observe(double seconds);
  };
  struct JobType {
    std::array<uint64_t, kOutcomes.size()> outcomes{};
    Histogram wait, run;
  };
  mutable std::mutex mu_;
  std::map<std::string, JobType> jobs_;
  std::map<std::string, std::array<uint64_t, 2>> periodic_;  // type -> ok, failed
  uint64_t relay_batches_ = 0, relay_entries_ = 0;
};

}  // namespace chat::worker
