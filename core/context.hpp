// What a request handler gets besides its request: the config and this thread's connections.
#pragma once

#include "core/config.hpp"
#include "core/db.hpp"
#include "core/redis.hpp"

namespace chat {

struct Context {
  const Config& config;
  db::Connection& db;
  redis::Client& redis;
  // Requests whose principal came from the handler's cache (domain/principal_cache.hpp), so far: /metrics
  // shows them next to the round trips they saved.
  uint64_t principal_cache_hits = 0;
};

}  // namespace chat
