// See principal_cache.hpp. The subscription is read only by requests, under the cache's lock and without
// waiting (poll with a zero timeout), so there is no thread to stop and no message is applied late: a request
// sees every invalidation that reached its process's socket before it.
#include "domain/principal_cache.hpp"

#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"

namespace chat::domain {
namespace {

constexpr int64_t kResubscribeMs = 1000;  // how often a process without a subscription tries again

}  // namespace

std::optional<CurrentUser> PrincipalTable::find(const std::string& session_id, const std::string& user_id,
                                                int64_t now_ms) const {
  auto it = entries_.find(session_id);
  if (it == entries_.end() || it->second.expires_ms <= now_ms || it->second.user.id != user_id) return std::nullopt;
  return it->second.user;
}

void PrincipalTable::remember(uint64_t epoch, const CurrentUser& u, int64_t expires_ms) {
  if (epoch != epoch_) return;
  if (entries_.size() >= capacity_) entries_.clear();  // expired entries go too; the next requests refill it
  entries_.insert_or_assign(u.session_id, Entry{u, expires_ms});
}

void PrincipalTable::drop_session(const std::string& session_id) {
  ++epoch_;
  entries_.erase(session_id);
}

void PrincipalTable::drop_user(const std::string& user_id) {
  ++epoch_;
  std::erase_if(entries_, [&](const auto& e) { return e.second.user.id == user_id; });
}

void PrincipalTable::clear() {
  ++epoch_;
  entries_.clear();
}

Invalidation parse_invalidation(std::string_view channel, std::string_view payload) {
  if (channel == stream::kRevoked) {
    if (auto r = stream::parse_revocation(payload)) {
      if (r->every_session()) return {Invalidation::Kind::kUser, r->user_id};
      return {Invalidation::Kind::kSession, r->session_id};
    }
  } else if (channel == stream::kUserChanged && !payload.empty()) {
    return {Invalidation::Kind::kUser, std::string(payload)};
  }
  return {};  // not understood: drop everything rather than keep what it might have meant
}

void apply(PrincipalTable& table, const Invalidation& inv) {
  switch (inv.kind) {
    case Invalidation::Kind::kSession:
      table.drop_session(inv.id);
      break;
    case Invalidation::Kind::kUser:
      table.drop_user(inv.id);
      break;
    case Invalidation::Kind::kAll:
      table.clear();
      break;
  }
}

PrincipalCache::PrincipalCache(redis::Target redis, int ttl_ms, size_t capacity)
    : sub_(std::move(redis)), ttl_ms_(ttl_ms), table_(capacity) {}

void PrincipalCache::drain_locked(int64_t now_ms) {
  if (!subscribed_) {
    if (now_ms < retry_at_ms_) return;
    retry_at_ms_ = now_ms + kResubscribeMs;
    try {
      sub_.subscribe({stream::kRevoked, stream::kUserChanged});
    } catch (const redis::RedisError& e) {
      log::warn("principal_cache_unsubscribed", {{"error", e.what()}});
      return;
    }
    // Whatever was published while unsubscribed is unknown: start empty.
    table_.clear();
    subscribed_ = true;
  }
  try {
    while (auto m = sub_.next(0)) apply(table_, parse_invalidation(m->channel, m->payload));
  } catch (const redis::RedisError& e) {
    log::warn("principal_cache_unsubscribed", {{"error", e.what()}});
    subscribed_ = false;
    table_.clear();
  }
}

PrincipalCache::Lookup PrincipalCache::find(const std::string& session_id, const std::string& user_id) {
  const int64_t now = steady_now_ms();
  std::lock_guard lock(mu_);
  drain_locked(now);
  Lookup out;
  if (!subscribed_) return out;
  out.usable = true;
  out.epoch = table_.epoch();
  out.user = table_.find(session_id, user_id, now);
  return out;
}

void PrincipalCache::remember(const Lookup& miss, const CurrentUser& u) {
  if (!miss.usable) return;
  const int64_t now = steady_now_ms();
  std::lock_guard lock(mu_);
  table_.remember(miss.epoch, u, now + ttl_ms_);
}

PrincipalCache* principal_cache(const Config& config) {
  if (config.principal_cache_ms <= 0) return nullptr;
  static PrincipalCache cache(redis::target_of(config), config.principal_cache_ms);
  return &cache;
}

}  // namespace chat::domain
