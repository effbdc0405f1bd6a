// The principals a handler process verified lately, so that a request with the same token needs no query.
//
// An entry lives at most PRINCIPAL_CACHE_MS (1 s by default) and is dropped at once when the session is
// revoked (logout, password change, refresh-token reuse), when the user is banned, suspended or gets a new
// password from an admin (every session), or when the user's role or username changes: the handlers publish
// each of these on Redis after their COMMIT (chat:sessions:revoked, chat:users:changed), and every lookup
// first reads what this process's subscription has received, without waiting. Redis writes a PUBLISH to its
// subscribers before the publisher can answer its client, so the next request after a ban's 2xx already finds
// the message in the socket. Without a subscription (Redis down, or reconnecting) nothing is served from the
// cache: every request asks PostgreSQL, as with PRINCIPAL_CACHE_MS=0.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/redis.hpp"
#include "domain/principal.hpp"

namespace chat::domain {

// The entries themselves, as plain data (tests/unit/domain): no clock, no Redis.
class PrincipalTable {
 public:
  explicit PrincipalTable(size_t capacity) : capacity_(capacity) {}

  // The principal of this session (and user), if remembered and not older than its expiry.
  std::optional<CurrentUser> find(const std::string& session_id, const std::string& user_id, int64_t now_ms) const;
  // Remembers `u` until `expires_ms` when nothing was dropped since `epoch` was read: a query that raced with
  // an invalidation must not bring back what the invalidation removed. A full table starts over.
  void remember(uint64_t epoch, const CurrentUser& u, int64_t expires_ms);
  void drop_session(const std::string& session_id);
  void drop_user(const std::string& user_id);
  void clear();
  // Changes with every drop and clear.
  uint64_t epoch() const { return epoch_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    CurrentUser user;
    int64_t expires_ms;
  };
  size_t capacity_;
  uint64_t epoch_ = 0;
  std::unordered_map<std::string, Entry> entries_;  // by session id
};

// What a message of the cache's channels drops: a session, every session of a user, or (not understood)
// everything.
struct Invalidation {
  enum class Kind { kSession, kUser, kAll };
  Kind kind = Kind::kAll;
  std::string id;
};
Invalidation parse_invalidation(std::string_view channel, std::string_view payload);
void apply(PrincipalTable& table, const Invalidation& inv);

// One per handler process, shared by its threads.
class PrincipalCache {
 public:
  PrincipalCache(redis::Target redis, int ttl_ms, size_t capacity = 20000);

  struct Lookup {
    std::optional<CurrentUser> user;  // a hit
    uint64_t epoch = 0;               // for remember() after a miss
    bool usable = false;              // subscribed: a miss may be remembered
  };
  Lookup find(const std::string& session_id, const std::string& user_id);
  void remember(const Lookup& miss, const CurrentUser& u);

 private:
  void drain_locked(int64_t now_ms);

  std::mutex mu_;
  redis::Subscriber sub_;
  bool subscribed_ = false;
  int64_t retry_at_ms_ = 0;
  int ttl_ms_;
  PrincipalTable table_;
};

// The process's cache, or nullptr when PRINCIPAL_CACHE_MS is 0.
PrincipalCache* principal_cache(const Config& config);

}  // namespace chat::domain
