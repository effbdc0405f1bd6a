// What a request handler gets besides its request: the config and this thread's connections.
#pragma once

#include "core/config.hpp"
#include "core/db.hpp"
#include "core/redis.hpp"
#include "core/replica.hpp"

namespace chat {

struct Context {
  const Config& config;
  db::Connection& db;
  redis::Client& redis;
  // Requests whose principal came from the handler's cache (domain/principal_cache.hpp), so far: /metrics
  // shows them next to the round trips they saved.
  uint64_t principal_cache_hits = 0;
  // Where reads may go instead of `db` (core/replica.hpp); null: always `db`.
  db::Replica* replica = nullptr;
  // The authenticated caller of the request, once require_user has run: whose write a 2xx acknowledges.
  std::string caller_id = {};

  // The connection for a read on the caller's behalf that may be served by the replica.
  db::Connection& reads() { return replica ? replica->for_read(db, redis, caller_id) : db; }
};

}  // namespace chat
