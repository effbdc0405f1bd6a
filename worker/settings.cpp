// WORKER_* settings: integers in a range, reported together with core's configuration problems.
#include "worker/settings.hpp"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

extern char** environ;

namespace chat::worker {
namespace {

template <typename T>
void read_int(const EnvMap& vars, const char* name, T lo, T hi, T& out, std::vector<std::string>& problems) {
  auto it = vars.find(name);
  if (it == vars.end() || it->second.empty()) return;
  const std::string& v = it->second;
  T value{};
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (ec != std::errc() || end != v.data() + v.size() || value < lo || value > hi) {
    problems.push_back(std::string(name) + " must be an integer from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + " (got \"" + v + "\")");
    return;
  }
  out = value;
}

}  // namespace

Settings settings_from(const EnvMap& vars, std::vector<std::string>& problems) {
  Settings s;
  read_int(vars, "WORKER_CONCURRENCY", 1, 64, s.concurrency, problems);
  read_int<int64_t>(vars, "WORKER_JOB_TIMEOUT_MS", 100, 86400000, s.job_timeout_ms, problems);
  read_int(vars, "WORKER_MAX_ATTEMPTS", 1, 100, s.max_attempts, problems);
  read_int<int64_t>(vars, "WORKER_BACKOFF_BASE_MS", 1, 3600000, s.backoff_base_ms, problems);
  read_int<int64_t>(vars, "WORKER_BACKOFF_CAP_MS", 1, 86400000, s.backoff_cap_ms, problems);
  if (s.backoff_cap_ms < s.backoff_base_ms) {
    problems.push_back("WORKER_BACKOFF_CAP_MS must not be below WORKER_BACKOFF_BASE_MS");
  }
  if (auto it = vars.find("CHAT_WORKER_TEST_JOBS"); it != vars.end() && !it->second.empty()) {
    if (it->second == "1") s.test_jobs = true;
    else if (it->second != "0") problems.push_back("CHAT_WORKER_TEST_JOBS must be 0 or 1 (got \"" + it->second + "\")");
  }
  return s;
}

WorkerConfig worker_config_from(const EnvMap& vars) {
  std::vector<std::string> problems;
  WorkerConfig wc;
  try {
    wc.core = config_from(vars);
  } catch (const ConfigError& e) {
    problems = e.problems();
  }
  wc.worker = settings_from(vars, problems);
  if (!problems.empty()) throw ConfigError(problems);
  return wc;
}

WorkerConfig load_worker_config() { return worker_config_from(load_env()); }

}  // namespace chat::worker
