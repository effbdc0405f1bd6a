// The operator command: `chat-worker --stats` and `chat-worker --dead-letter list|retry|drop [id]`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/json.hpp"
#include "core/stream.hpp"
#include "worker/queue.hpp"

namespace chat::worker {

// The figures are core/stream's queue statistics (the same as chat-system's /metrics shows).
using Stats = stream::QueueStats;
using stream::ConsumerStats;

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
