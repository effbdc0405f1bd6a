// Per-key leaky bucket in Redis (GCRA, the same semantics as nginx's limit_req with burst and nodelay).
#pragma once

#include <optional>
#include <string>

#include "core/redis.hpp"

namespace chat {

// Takes one request from `key`'s bucket: nullopt when allowed, else the seconds to wait (>= 1).
// `rate` requests per second with `burst` extra requests allowed at once. Fails open: when Redis
// does not answer, the request is allowed (the limit protects, it must not take the service down).
std::optional<int> take_token(redis::Client& redis, const std::string& key, int rate, int burst);

}  // namespace chat
