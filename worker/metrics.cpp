#include "worker/metrics.hpp"

#include "core/prom_text.hpp"

namespace chat::worker {

void Metrics::Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  ++counts[i];
  sum += seconds;
}

void Metrics::job(const std::string& type, Outcome outcome, int64_t wait_ms, int64_t run_us) {
  std::lock_guard lock(mu_);
  JobType& t = jobs_[type];
  ++t.outcomes[static_cast<size_t>(outcome)];
  t.wait.observe(static_cast<double>(wait_ms) / 1e3);
  t.run.observe(static_cast<double>(run_us) / 1e6);
}

void Metrics::periodic(const std::string& type, bool ok) {
  std::lock_guard lock(mu_);
  ++periodic_[type][ok ? 0 : 1];
}

void Metrics::relayed(int64_t entries) {
  std::lock_guard lock(mu_);
  ++relay_batches_;
  relay_entries_ += static_cast<uint64_t>(entries);
}

std::string Metrics::render(size_t jobs_in_flight) const {
  std::lock_guard lock(mu_);
  prom::Page page;
  page.counter("chat_worker_jobs_total",
               "Jobs this worker took, by type and outcome (retried and dead_lettered: failed runs; deferred: "
               "PostgreSQL or Redis unreachable, run again without spending an attempt; handed_back: stopping).");
  for (const auto& [type, t] : jobs_) {
    for (size_t o = 0; o < kOutcomes.size(); ++o) {
      page.add(static_cast<double>(t.outcomes[o]), {{"type", type}, {"outcome", kOutcomes[o]}});
    }
  }
  page.histogram("chat_worker_job_queue_wait_seconds",
                 "From a job's queueing (or its retry's due time) to this worker taking it: the queue's lag.");
  for (const auto& [type, t] : jobs_) page.add_histogram(kBuckets, t.wait.counts, t.wait.sum, {{"type", type}});
  page.histogram("chat_worker_job_duration_seconds", "Time a job's function ran, by type.");
  for (const auto& [type, t] : jobs_) page.add_histogram(kBuckets, t.run.counts, t.run.sum, {{"type", type}});
  page.gauge("chat_worker_jobs_in_flight", "Jobs this worker is running now.").add(static_cast<double>(jobs_in_flight));
  page.counter("chat_worker_periodic_runs_total",
               "Periodic upkeep this worker ran (it won the period's claim), by type and result.");
  for (const auto& [type, r] : periodic_) {
    page.add(static_cast<double>(r[0]), {{"type", type}, {"result", "ok"}});
    page.add(static_cast<double>(r[1]), {{"type", type}, {"result", "failed"}});
  }
  page.counter("chat_worker_relay_batches_total",
               "Outbox relays of one conversation (a transaction and one Redis pipeline) this worker ran.")
      .add(static_cast<double>(relay_batches_));
  page.counter("chat_worker_relay_entries_total", "Outbox rows those relays moved to the events stream.")
      .add(static_cast<double>(relay_entries_));
  return page.text();
}

}  // namespace chat::worker
