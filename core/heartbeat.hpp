// Liveness of the long-running programs (workers, realtime daemons) in Redis, for /health and /metrics.
//
// Each instance writes a beat every kIntervalMs into a sorted set of its kind (member: its instance id,
// score: wall-clock ms). A beat older than kStaleAfterMs is an instance that died or hangs; one older than
// kForgetAfterMs is dropped by the next beat of any instance. A clean stop removes its own member, so only a
// dead instance shows as stale. Instance ids are stable across restarts where a supervisor names the process
// (Config::instance: CHAT_INSTANCE, or supervisord's SUPERVISOR_PROCESS_NAME), so a restarted instance refreshes
// its own entry; without one a pid names it, and a dead instance shows as stale for a while.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/redis.hpp"

namespace chat::heartbeat {

enum class Kind { kWorker, kRealtime };

inline constexpr int64_t kIntervalMs = 2000;
inline constexpr int64_t kStaleAfterMs = 10000;
inline constexpr int64_t kForgetAfterMs = 600000;

// The sorted set of a kind: stream::kHeartbeatWorker, stream::kHeartbeatRealtime (instance -> last beat ms).
const char* key(Kind kind);
const char* name(Kind kind);  // "worker", "realtime"

// "<host>:<suffix>", e.g. "app1:chat-worker-1" or "app1:8101".
std::string instance_id(const std::string& suffix);

// Both throw redis::RedisError when Redis is unreachable (a beat is simply retried at the next interval).
void beat(redis::Client& redis, Kind kind, const std::string& id);
void gone(redis::Client& redis, Kind kind, const std::string& id);

struct Instance {
  std::string id;
  int64_t age_ms = 0;
  bool alive() const { return age_ms < kStaleAfterMs; }
};
// Every remembered instance of a kind, newest beat first.
std::vector<Instance> read(redis::Client& redis, Kind kind);

}  // namespace chat::heartbeat
