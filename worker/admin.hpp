// The operator command: `chat-worker --stats` and `chat-worker --dead-letter list|retry|drop [id]`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/json.hpp"
#include "worker/queue.hpp"

namespace chat::worker {

struct ConsumerStats {
  std::string name;
  int64_t pending = 0;  // taken, not acked yet
  int64_t idle_ms = 0;
};

struct Stats {
  int64_t depth = 0;        // entries in chat:jobs (waiting + in flight; acked jobs are deleted)
  int64_t pending = 0;      // in flight
  std::vector<ConsumerStats> consumers;
  int64_t delayed = 0;
  int64_t dead = 0;
  int64_t done = 0, retried = 0, dead_lettered = 0;
  std::optional<int64_t> oldest_age_ms;        // of the oldest entry in chat:jobs
  std::optional<int64_t> next_delayed_in_ms;   // until the first delayed job is due
  std::vector<std::string> periodic;           // chat:sched:last records
  int64_t now_ms = 0;                          // Redis's clock when read
};

struct AdminCommand {
  enum class Kind { kStats, kDeadList, kDeadRetry, kDeadDrop } kind = Kind::kStats;
  std::optional<std::string> id;
  bool json = false;
};

// Parses the arguments after the program name; nullopt with *error set for bad usage.
std::optional<AdminCommand> parse_admin_args(const std::vector<std::string>& args, std::string* error);
// True when the arguments ask for the operator command rather than the daemon.
bool is_admin_invocation(const std::vector<std::string>& args);

std::string render_stats_text(const Stats& s);
json::Value stats_json(const Stats& s);
// One dead entry, for `list`: human lines / a JSON object.
std::string render_dead_text(const std::string& id, const Fields& fields);
json::Value dead_json(const std::string& id, const Fields& fields);

// Runs the command against Redis; returns the exit status (0 ok, 1 not found or Redis failure).
int run_admin(const AdminCommand& cmd, const Config& config);

extern const char* const kAdminUsage;

}  // namespace chat::worker
