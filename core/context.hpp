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
};

}  // namespace chat
