// Heartbeats of workers and realtime daemons: one sorted set per kind, pruned by the writers.
#include "core/heartbeat.hpp"


#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/stream.hpp"
#include "core/timefmt.hpp"

namespace chat::heartbeat {

const char* key(Kind kind) { return kind == Kind::kWorker ? stream::kHeartbeatWorker : stream::kHeartbeatRealtime; }
const char* name(Kind kind) { return kind == Kind::kWorker ? "worker" : "realtime"; }

std::string instance_id(const std::string& suffix) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + suffix;
}

void beat(redis::Client& redis, Kind kind, const std::string& id) {
  const int64_t now = unix_now_ms();
  redis.command({"ZADD", key(kind), std::to_string(now), id});
  redis.command({"ZREMRANGEBYSCORE", key(kind), "-inf", "(" + std::to_string(now - kForgetAfterMs)});
}

void gone(redis::Client& redis, Kind kind, const std::string& id) { redis.command({"ZREM", key(kind), id}); }

std::vector<Instance> read(redis::Client& redis, Kind kind) {
  const int64_t now = unix_now_ms();
  redis::Reply r = redis.command({"ZREVRANGE", key(kind), "0", "-1", "WITHSCORES"});
  if (r.is_error()) throw redis::RedisError("ZREVRANGE refused: " + r.str());
  std::vector<Instance> out;
  for (size_t i = 0; i + 1 < r.size(); i += 2) {
    int64_t at = std::atoll(r.element(i + 1).str().c_str());
    out.push_back({r.element(i).str(), std::max<int64_t>(0, now - at)});
  }
  return out;
}

}  // namespace chat::heartbeat
