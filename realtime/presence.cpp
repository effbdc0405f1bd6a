// Presence in Redis sorted sets with Lua-claimed transitions (see presence.hpp for the model).
#include "realtime/presence.hpp"

#include <unistd.h>


#include "core/crypto.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"
#include "domain/membership.hpp"

namespace chat::realtime {
namespace {

// KEYS: presence:user:<uid>, presence:online. ARGV: daemon, expiry, uid.
// Registers the daemon for the user; returns 1 when the user was not online anywhere (the caller announces).
constexpr const char* kOnlineScript = R"lua(
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 60000)
local had = redis.call('ZSCORE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[3])
if had then return 0 end
return 1
)lua";

// KEYS: presence:user:<uid>, presence:online. ARGV: now, uid.
// Claims the offline transition (returns 1) when no daemon holds a live entry for the user; else refreshes
// the user's global expiry from the live entries.
constexpr const char* kOfflineScript = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then
  redis.call('ZADD', KEYS[2], 'XX', 'GT', top[2], ARGV[2])
  return 0
end
if redis.call('ZREM', KEYS[2], ARGV[2]) == 1 then return 1 end
return 0
)lua";

// KEYS: presence:online. ARGV: daemon, expiry, the presence:user: prefix, uid... Returns the users missing
// from presence:online (swept while this daemon still had them): they are announced again.
constexpr const char* kRefreshScript = R"lua(
local missing = {}
for i = 4, #ARGV do
  local k = ARGV[3] .. ARGV[i]
  redis.call('ZADD', k, ARGV[2], ARGV[1])
  redis.call('PEXPIRE', k, 60000)
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[i])
  else
    table.insert(missing, ARGV[i])
  end
end
return missing
)lua";

// KEYS: presence:online. ARGV: now, the presence:user: prefix. Users whose global expiry passed and who
// have no live daemon entry (the others get their expiry refreshed).
constexpr const char* kSweepScript = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 200)
local dead = {}
for _, uid in ipairs(due) do
  local k = ARGV[2] .. uid
  redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[1])
  local top = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('ZADD', KEYS[1], top[2], uid) else table.insert(dead, uid) end
end
return dead
)lua";

// KEYS: presence:online. ARGV: daemon, grace expiry, the presence:user: prefix, uid...
constexpr const char* kReleaseScript = R"lua(
for i = 4, #ARGV do
  redis.call('ZREM', ARGV[3] .. ARGV[i], ARGV[1])
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[i])
end
return 0
)lua";

constexpr db::Statement kSetOnline{
    "rt_presence_set", "UPDATE users SET is_online = $2::boolean, last_seen_at = now() WHERE id = $1"};

// The chat:ephemeral message carrying user_status to everyone sharing a conversation with the user.
std::string status_message(Context& ctx, const std::string& user_id, const char* status) {
  std::string now = rfc3339_now();
  json::Value payload = json::Value::object();
  payload.set("type", "user_status")
      .set("user_id", user_id)
      .set("status", status)
      .set("last_seen_at", now)
      .set("timestamp", now);
  stream::Ephemeral msg;
  msg.type = "user_status";
  msg.conversation_ids = domain::conversation_ids_of(ctx, user_id);
  msg.except_user_id = user_id;
  msg.payload = payload.dump();
  return stream::encode(msg);
}

void set_online(Context& ctx, const std::string& user_id, bool online) {
  try {
    ctx.db.exec(kSetOnline, {user_id, online});
  } catch (const std::exception& e) {
    log::warn("presence_db_update_failed", {{"user_id", user_id}, {"error", e.what()}});
  }
}

}  // namespace

namespace presence_jobs {

// The transition is claimed in Redis (one daemon wins it), then stored in PostgreSQL, then announced: a
// client that gets user_status and reads the user over REST finds the same state.
void announce_online(Context& ctx, const std::string& daemon_id, const std::string& user_id) {
  redis::Reply r =
      ctx.redis.command({"EVAL", kOnlineScript, "2", stream::presence_user_key(user_id), stream::kPresence, daemon_id,
                         std::to_string(unix_now_ms() + Presence::kTtlMs), user_id});
  if (r.is_error()) throw redis::RedisError("online script: " + r.str());
  if (r.integer() != 1) return;
  set_online(ctx, user_id, true);
  ctx.redis.command({"PUBLISH", stream::kEphemeral, status_message(ctx, user_id, "online")});
}

void local_gone(Context& ctx, const std::string& daemon_id, const std::string& user_id) {
  // Not a ZREM: the entry stays live for the grace period, so a check started by another daemon's
  // earlier close cannot announce offline sooner than 5 s after this (later) close.
  ctx.redis.command(
      {"ZADD", stream::presence_user_key(user_id), std::to_string(unix_now_ms() + Presence::kOfflineGraceMs), daemon_id});
}

void check_offline(Context& ctx, const std::string& user_id) {
  redis::Reply r = ctx.redis.command({"EVAL", kOfflineScript, "2", stream::presence_user_key(user_id),
                                      stream::kPresence, std::to_string(unix_now_ms()), user_id});
  if (r.is_error()) throw redis::RedisError("offline script: " + r.str());
  if (r.integer() != 1) return;
  set_online(ctx, user_id, false);
  ctx.redis.command({"PUBLISH", stream::kEphemeral, status_message(ctx, user_id, "offline")});
}

void refresh(Context& ctx, const std::string& daemon_id, const std::vector<std::string>& user_ids) {
  constexpr size_t kChunk = 500;
  for (size_t i = 0; i < user_ids.size(); i += kChunk) {
    const std::string expiry = std::to_string(unix_now_ms() + Presence::kTtlMs);
    std::vector<std::string> args{
        "EVAL", kRefreshScript, "1", stream::kPresence, daemon_id, expiry, stream::kPresenceUserPrefix};
    for (size_t k = i; k < user_ids.size() && k < i + kChunk; ++k) args.push_back(user_ids[k]);
    redis::Reply r = ctx.redis.command(args);
    if (r.is_error()) throw redis::RedisError("refresh script: " + r.str());
    for (size_t k = 0; k < r.size(); ++k) announce_online(ctx, daemon_id, r.element(k).str());
  }
}

void sweep(Context& ctx) {
  redis::Reply r = ctx.redis.command(
      {"EVAL", kSweepScript, "1", stream::kPresence, std::to_string(unix_now_ms()), stream::kPresenceUserPrefix});
  if (r.is_error()) throw redis::RedisError("sweep script: " + r.str());
  for (size_t k = 0; k < r.size(); ++k) check_offline(ctx, r.element(k).str());
}

void release(Context& ctx, const std::string& daemon_id, const std::vector<std::string>& user_ids) {
  if (user_ids.empty()) return;
  const std::string expiry = std::to_string(unix_now_ms() + Presence::kOfflineGraceMs);
  std::vector<std::string> args{
      "EVAL", kReleaseScript, "1", stream::kPresence, daemon_id, expiry, stream::kPresenceUserPrefix};
  args.insert(args.end(), user_ids.begin(), user_ids.end());
  ctx.redis.command(args);
}

bool held_elsewhere(Context& ctx, const std::string& daemon_id, const std::string& user_id) {
  // A daemon with a socket open scores its entry now + 10..15 s (TTL 15 s, refreshed every 5 s); one whose
  // last socket closed scores it now + 5 s at most (the offline grace). Only the former holds a socket.
  const int64_t open_after = unix_now_ms() + (Presence::kOfflineGraceMs + Presence::kTtlMs - Presence::kRefreshMs) / 2;
  redis::Reply r = ctx.redis.command(
      {"ZRANGEBYSCORE", stream::presence_user_key(user_id), "(" + std::to_string(open_after), "+inf"});
  for (size_t k = 0; k < r.size(); ++k) {
    if (r.element(k).str() != daemon_id) return true;
  }
  return false;
}

}  // namespace presence_jobs

Presence::Presence(EventLoop& loop, WorkerPool& lane, std::string daemon_id, UserList local_users)
    : loop_(loop), lane_(lane), daemon_id_(std::move(daemon_id)), local_users_(std::move(local_users)) {}

std::string Presence::make_daemon_id() {
  char host[64] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + crypto::base64url_encode(crypto::random_bytes(6));
}

void Presence::start() {
  loop_.every(kRefreshMs, [this] {
    auto users = local_users_();
    if (users.empty()) return;
    lane_.submit([id = daemon_id_, users = std::move(users)](Context& ctx) { presence_jobs::refresh(ctx, id, users); });
  });
  loop_.every(kSweepMs, [this] { lane_.submit([](Context& ctx) { presence_jobs::sweep(ctx); }); });
}

void Presence::user_connected(const std::string& user_id) {
  if (auto it = pending_offline_.find(user_id); it != pending_offline_.end()) {
    loop_.cancel_timer(it->second);
    pending_offline_.erase(it);
  }
  lane_.submit([id = daemon_id_, user_id](Context& ctx) { presence_jobs::announce_online(ctx, id, user_id); });
}

void Presence::user_disconnected(const std::string& user_id) {
  lane_.submit([id = daemon_id_, user_id](Context& ctx) { presence_jobs::local_gone(ctx, id, user_id); });
  if (auto it = pending_offline_.find(user_id); it != pending_offline_.end()) loop_.cancel_timer(it->second);
  // Just past the grace, so this daemon's entry has expired when the check runs.
  pending_offline_[user_id] = loop_.add_timer(kOfflineGraceMs + 200, [this, user_id] {
    pending_offline_.erase(user_id);
    lane_.submit([user_id](Context& ctx) { presence_jobs::check_offline(ctx, user_id); });
  });
}

void Presence::held_elsewhere(const std::string& user_id, std::function<void(bool)> done) {
  lane_.submit([this, id = daemon_id_, user_id, done = std::move(done)](Context& ctx) mutable {
    bool elsewhere = false;
    try {
      elsewhere = presence_jobs::held_elsewhere(ctx, id, user_id);
    } catch (const std::exception&) {
      elsewhere = false;  // Redis away: act on what this daemon knows
    }
    loop_.post([done = std::move(done), elsewhere] { done(elsewhere); });
  });
}

void Presence::shutdown(const std::vector<std::string>& users) {
  lane_.submit([id = daemon_id_, users](Context& ctx) { presence_jobs::release(ctx, id, users); });
}

}  // namespace chat::realtime
