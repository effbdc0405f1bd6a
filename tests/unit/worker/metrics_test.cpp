// Tests worker/metrics.hpp: every outcome of every job type, the queue-wait and duration histograms, the periodic
// runs and the relay's counters on the worker's page.
#include "worker/metrics.hpp"

#include <gtest/gtest.h>

namespace chat::worker {
namespace {

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(WorkerMetrics, AnIdleWorkerNamesEveryFamily) {
  const std::string text = Metrics().render(0);
  for (const char* family : {"chat_worker_jobs_total counter", "chat_worker_job_queue_wait_seconds histogram",
                             "chat_worker_job_duration_seconds histogram", "chat_worker_jobs_in_flight gauge",
                             "chat_worker_periodic_runs_total counter", "chat_worker_relay_batches_total counter",
                             "chat_worker_relay_entries_total counter"}) {
    EXPECT_TRUE(has(text, std::string("# TYPE ") + family)) << text;
  }
  EXPECT_TRUE(has(text, "chat_worker_jobs_in_flight 0")) << text;
  EXPECT_TRUE(has(text, "chat_worker_relay_batches_total 0")) << text;
}

TEST(WorkerMetrics, JobsByTypeAndOutcome) {
  Metrics m;
  m.job("mention_notification", Metrics::Outcome::kDone, 3, 2000);           // waited 3 ms, ran 2 ms
  m.job("mention_notification", Metrics::Outcome::kDone, 2500, 40'000'000);  // 2.5 s, 40 s
  m.job("mention_notification", Metrics::Outcome::kRetried, 0, 10);
  m.job("test_fail", Metrics::Outcome::kDeadLettered, 0, 0);
  m.periodic("outbox_relay", true);
  m.periodic("outbox_relay", false);
  m.periodic("outbox_relay", true);
  m.relayed(3);
  m.relayed(500);
  const std::string text = m.render(2);
  EXPECT_TRUE(has(text, "chat_worker_jobs_total{type=\"mention_notification\",outcome=\"done\"} 2")) << text;
  EXPECT_TRUE(has(text, "chat_worker_jobs_total{type=\"mention_notification\",outcome=\"retried\"} 1")) << text;
  EXPECT_TRUE(has(text, "chat_worker_jobs_total{type=\"mention_notification\",outcome=\"dead_lettered\"} 0")) << text;
  EXPECT_TRUE(has(text, "chat_worker_jobs_total{type=\"test_fail\",outcome=\"dead_lettered\"} 1")) << text;
  EXPECT_TRUE(has(text, "chat_worker_job_queue_wait_seconds_bucket{type=\"mention_notification\",le=\"0.005\"} 2"))
      << text;
  EXPECT_TRUE(has(text, "chat_worker_job_queue_wait_seconds_bucket{type=\"mention_notification\",le=\"1\"} 2")) << text;
  EXPECT_TRUE(has(text, "chat_worker_job_queue_wait_seconds_bucket{type=\"mention_notification\",le=\"5\"} 3")) << text;
  EXPECT_TRUE(has(text, "chat_worker_job_queue_wait_seconds_sum{type=\"mention_notification\"} 2.503")) << text;
  EXPECT_TRUE(has(text, "chat_worker_job_duration_seconds_bucket{type=\"mention_notification\",le=\"30\"} 2")) << text;
  EXPECT_TRUE(has(text, "chat_worker_job_duration_seconds_bucket{type=\"mention_notification\",le=\"60\"} 3")) << text;
  EXPECT_TRUE(has(text, "chat_worker_job_duration_seconds_count{type=\"mention_notification\"} 3")) << text;
  EXPECT_TRUE(has(text, "chat_worker_periodic_runs_total{type=\"outbox_relay\",result=\"ok\"} 2")) << text;
  EXPECT_TRUE(has(text, "chat_worker_periodic_runs_total{type=\"outbox_relay\",result=\"failed\"} 1")) << text;
  EXPECT_TRUE(has(text, "chat_worker_relay_batches_total 2")) << text;
  EXPECT_TRUE(has(text, "chat_worker_relay_entries_total 503")) << text;
  EXPECT_TRUE(has(text, "chat_worker_jobs_in_flight 2")) << text;
}

}  // namespace
}  // namespace chat::worker
