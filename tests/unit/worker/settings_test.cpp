// Tests the worker's settings as core's one reader gives them (Config::worker): WORKER_* defaults, ranges, and
// problems reported together with every other setting's.
#include "core/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace chat {
namespace {

EnvMap minimal() { return {{"DATABASE_URL", "postgresql://chat@localhost/chat"}, {"REDIS_URL", "redis://localhost:6379/0"}}; }

std::vector<std::string> problems_of(const EnvMap& vars) {
  try {
    config_from(vars);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

bool mentions(const std::vector<std::string>& p, const char* word) {
  return std::any_of(p.begin(), p.end(), [&](const std::string& s) { return s.find(word) != std::string::npos; });
}

TEST(WorkerSettings, Defaults) {
  Config c = config_from(minimal());
  EXPECT_EQ(c.worker.concurrency, 4);
  EXPECT_EQ(c.worker.job_timeout_ms, 30000);
  EXPECT_EQ(c.worker.max_attempts, 5);
  EXPECT_EQ(c.worker.backoff_base_ms, 1000);
  EXPECT_EQ(c.worker.backoff_cap_ms, 300000);
  EXPECT_FALSE(c.worker.test_jobs);
  EXPECT_EQ(c.redis_url, "redis://localhost:6379/0");
  EXPECT_EQ(c.instance, "");
}

TEST(WorkerSettings, ReadsEverySetting) {
  EnvMap v = minimal();
  v["WORKER_CONCURRENCY"] = "8";
  v["WORKER_JOB_TIMEOUT_MS"] = "1500";
  v["WORKER_MAX_ATTEMPTS"] = "3";
  v["WORKER_BACKOFF_BASE_MS"] = "50";
  v["WORKER_BACKOFF_CAP_MS"] = "400";
  v["CHAT_WORKER_TEST_JOBS"] = "1";
  WorkerSettings s = config_from(v).worker;
  EXPECT_EQ(s.concurrency, 8);
  EXPECT_EQ(s.job_timeout_ms, 1500);
  EXPECT_EQ(s.max_attempts, 3);
  EXPECT_EQ(s.backoff_base_ms, 50);
  EXPECT_EQ(s.backoff_cap_ms, 400);
  EXPECT_TRUE(s.test_jobs);
  v["CHAT_WORKER_TEST_JOBS"] = "0";
  EXPECT_FALSE(config_from(v).worker.test_jobs);
}

TEST(WorkerSettings, MillisecondsBeyondInt32AreRead) {
  EnvMap v = minimal();
  v["WORKER_JOB_TIMEOUT_MS"] = "86400000";
  v["WORKER_BACKOFF_CAP_MS"] = "86400000";
  Config c = config_from(v);
  EXPECT_EQ(c.worker.job_timeout_ms, 86400000);
  EXPECT_EQ(c.worker.backoff_cap_ms, 86400000);
  v["WORKER_JOB_TIMEOUT_MS"] = "86400001";
  EXPECT_TRUE(mentions(problems_of(v), "WORKER_JOB_TIMEOUT_MS"));
}

TEST(WorkerSettings, BadNumbersNameTheVariable) {
  for (const char* bad : {"0", "-1", "4 ", " 4", "+4", "4x", "0x10", "", "65"}) {
    EnvMap v = minimal();
    v["WORKER_CONCURRENCY"] = bad;
    auto p = problems_of(v);
    if (std::string(bad).empty()) {
      EXPECT_TRUE(p.empty()) << "an empty value is an unset one";
      continue;
    }
    ASSERT_EQ(p.size(), 1u) << bad;
    EXPECT_NE(p[0].find("WORKER_CONCURRENCY must be an integer from 1 to 64"), std::string::npos) << p[0];
    EXPECT_NE(p[0].find(std::string("\"") + bad + "\""), std::string::npos) << p[0];
  }
}

TEST(WorkerSettings, EveryProblemIsReportedAtOnceWithCoreOnes) {
  EnvMap v;  // no DATABASE_URL nor REDIS_URL either
  v["WORKER_CONCURRENCY"] = "0";
  v["WORKER_JOB_TIMEOUT_MS"] = "fast";
  v["WORKER_BACKOFF_BASE_MS"] = "500";
  v["WORKER_BACKOFF_CAP_MS"] = "100";
  v["CHAT_WORKER_TEST_JOBS"] = "yes";
  v["REALTIME_AUTH_THREADS"] = "many";
  auto p = problems_of(v);
  EXPECT_EQ(p.size(), 7u);
  EXPECT_TRUE(mentions(p, "DATABASE_URL"));
  EXPECT_TRUE(mentions(p, "REDIS_URL"));
  EXPECT_TRUE(mentions(p, "WORKER_CONCURRENCY"));
  EXPECT_TRUE(mentions(p, "WORKER_JOB_TIMEOUT_MS"));
  EXPECT_TRUE(mentions(p, "WORKER_BACKOFF_CAP_MS"));
  EXPECT_TRUE(mentions(p, "CHAT_WORKER_TEST_JOBS"));
  EXPECT_TRUE(mentions(p, "REALTIME_AUTH_THREADS"));
}

TEST(WorkerSettings, InstanceNameFromTheSupervisor) {
  EnvMap v = minimal();
  v["SUPERVISOR_PROCESS_NAME"] = "chat-worker-2";
  EXPECT_EQ(config_from(v).instance, "chat-worker-2");
  v["CHAT_INSTANCE"] = "chat-worker-7";  // the systemd unit's name wins
  EXPECT_EQ(config_from(v).instance, "chat-worker-7");
}

}  // namespace
}  // namespace chat
