// Tests worker/settings.hpp: WORKER_* defaults, ranges, and problems reported together with core's.
#include "worker/settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace chat::worker {
namespace {

EnvMap minimal() { return {{"DATABASE_URL", "postgresql://chat@localhost/chat"}, {"REDIS_URL", "redis://localhost:6379/0"}}; }

TEST(WorkerSettings, Defaults) {
  WorkerConfig c = worker_config_from(minimal());
  EXPECT_EQ(c.worker.concurrency, 4);
  EXPECT_EQ(c.worker.job_timeout_ms, 30000);
  EXPECT_EQ(c.worker.max_attempts, 5);
  EXPECT_EQ(c.worker.backoff_base_ms, 1000);
  EXPECT_EQ(c.worker.backoff_cap_ms, 300000);
  EXPECT_FALSE(c.worker.test_jobs);
  EXPECT_EQ(c.core.redis_url, "redis://localhost:6379/0");
}

TEST(WorkerSettings, ReadsEverySetting) {
  EnvMap v = minimal();
  v["WORKER_CONCURRENCY"] = "8";
  v["WORKER_JOB_TIMEOUT_MS"] = "1500";
  v["WORKER_MAX_ATTEMPTS"] = "3";
  v["WORKER_BACKOFF_BASE_MS"] = "50";
  v["WORKER_BACKOFF_CAP_MS"] = "400";
  v["CHAT_WORKER_TEST_JOBS"] = "1";
  Settings s = worker_config_from(v).worker;
  EXPECT_EQ(s.concurrency, 8);
  EXPECT_EQ(s.job_timeout_ms, 1500);
  EXPECT_EQ(s.max_attempts, 3);
  EXPECT_EQ(s.backoff_base_ms, 50);
  EXPECT_EQ(s.backoff_cap_ms, 400);
  EXPECT_TRUE(s.test_jobs);
}

TEST(WorkerSettings, EveryProblemIsReportedAtOnceWithCoreOnes) {
  EnvMap v;  // no DATABASE_URL nor REDIS_URL either
  v["WORKER_CONCURRENCY"] = "0";
  v["WORKER_JOB_TIMEOUT_MS"] = "fast";
  v["WORKER_BACKOFF_BASE_MS"] = "500";
  v["WORKER_BACKOFF_CAP_MS"] = "100";
  v["CHAT_WORKER_TEST_JOBS"] = "yes";
  try {
    worker_config_from(v);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const auto& p = e.problems();
    auto has = [&](const char* word) {
      return std::any_of(p.begin(), p.end(), [&](const std::string& s) { return s.find(word) != std::string::npos; });
    };
    EXPECT_TRUE(has("DATABASE_URL"));
    EXPECT_TRUE(has("REDIS_URL"));
    EXPECT_TRUE(has("WORKER_CONCURRENCY"));
    EXPECT_TRUE(has("WORKER_JOB_TIMEOUT_MS"));
    EXPECT_TRUE(has("WORKER_BACKOFF_CAP_MS"));
    EXPECT_TRUE(has("CHAT_WORKER_TEST_JOBS"));
  }
}

}  // namespace
}  // namespace chat::worker
