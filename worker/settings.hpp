// The worker's configuration: core's Config plus the WORKER_* settings, read once, all problems reported at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace chat::worker {

struct Settings {
  int concurrency = 4;                // WORKER_CONCURRENCY: jobs in flight per process (threads)
  int64_t job_timeout_ms = 30000;     // WORKER_JOB_TIMEOUT_MS: a job idle this long in a consumer is taken again
  int max_attempts = 5;               // WORKER_MAX_ATTEMPTS: then the dead-letter stream
  int64_t backoff_base_ms = 1000;     // WORKER_BACKOFF_BASE_MS: first retry within this
  int64_t backoff_cap_ms = 300000;    // WORKER_BACKOFF_CAP_MS: no retry waits longer
  bool test_jobs = false;             // CHAT_WORKER_TEST_JOBS=1: enables test_sleep and test_fail
};

struct WorkerConfig {
  Config core;
  Settings worker;
};

// Reads the WORKER_* variables; each problem is appended to `problems`.
Settings settings_from(const EnvMap& vars, std::vector<std::string>& problems);

// core's config_from plus settings_from over the same variables; throws ConfigError listing every problem.
WorkerConfig worker_config_from(const EnvMap& vars);

// The process environment over the file named by CHAT_ENV_FILE (default ./.env), as core's load_config.
WorkerConfig load_worker_config();

}  // namespace chat::worker
