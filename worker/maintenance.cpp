// Periodic upkeep: each function is one bounded pass that is safe to repeat (the scheduler runs it
// once per period across all workers, but a rerun or a manual enqueue changes nothing twice).
#include "worker/maintenance.hpp"

#include <algorithm>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "domain/outbox.hpp"
#include "core/stream.hpp"

namespace chat::worker {
namespace {

constexpr int kRelayRounds = 40;        // pages of one conversation per run
constexpr int kRelayConversations = 10000;  // conversations per run
constexpr int kDeleteBatch = 10000;     // rows per DELETE, so a backlog never holds long locks
constexpr int kDeleteRounds = 20;
constexpr int64_t kSweepOverlapMs = 60000;   // presence entries whose expiry is older than the last sweep by this are done
constexpr int kTrimChunk = 10000;
constexpr int kTrimRounds = 100;
constexpr int64_t kConsumerGoneMs = 3600000;

constexpr db::Statement kPresenceOffline{
    "wk_presence_offline",
    "UPDATE users SET is_online = false, last_seen_at = now() WHERE id = ANY($1::uuid[]) AND is_online RETURNING id"};
constexpr db::Statement kExpireRefreshTokens{
    "wk_expire_refresh",
    "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens "
    "WHERE expires_at < now() OR used_at < now() - interval '30 days' LIMIT $1)"};
constexpr db::Statement kExpireSessions{
    "wk_expire_sessions",
    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions "
    "WHERE revoked_at < now() - interval '30 days' LIMIT $1)"};
constexpr db::Statement kExpireIdempotency{
    "wk_expire_idempotency",
    "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys "
    "WHERE created_at < now() - interval '24 hours' LIMIT $1))"};

// KEYS: events. ARGV: keep entries, MINID of the time bound, chunk. Trims at most `chunk` of the oldest
// entries, and never one of the newest `keep` nor one newer than the time bound.
constexpr const char* kTrimScript = R"(
local n = redis.call('XLEN', KEYS[1])
local keep = tonumber(ARGV[1])
if n <= keep then return 0 end
local k = math.min(n - keep, tonumber(ARGV[3]))
local r = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', k + 1)
local bound = r[#r][1]
local function parts(id)
  local d = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, d - 1)), tonumber(string.sub(id, d + 1))
end
local bm, bs = parts(bound)
local tm, ts = parts(ARGV[2])
if tm < bm or (tm == bm and ts < bs) then bound = ARGV[2] end
return redis.call('XTRIM', KEYS[1], 'MINID', bound))";

// Runs a batched DELETE until a batch comes back short; returns the rows deleted.
int64_t delete_batches(db::Connection& db, const db::Statement& st) {
  int64_t total = 0;
  for (int i = 0; i < kDeleteRounds; ++i) {
    int n = db.exec(st, {kDeleteBatch}).affected();
    total += n;
    if (n < kDeleteBatch) break;
  }
  return total;
}

// XINFO replies are flat [name, value, ...] arrays.
redis::Reply info_value(const redis::Reply& flat, std::string_view name) {
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    if (flat.element(i).str() == name) return flat.element(i + 1);
  }
  return redis::Reply(nullptr);
}

}  // namespace

std::string events_min_id(int64_t now_ms, int64_t keep_ms) {
  return std::to_string(std::max<int64_t>(now_ms - keep_ms, 0)) + "-0";
}

void outbox_relay(JobContext& jc) {
  int64_t relayed = 0;
  bool deferred = false;
  for (const std::string& conversation : domain::pending_conversations(jc.ctx, kRelayConversations)) {
    for (int round = 0; round < kRelayRounds; ++round) {
      int n = relay_conversation(jc, conversation);
      if (n < 0) {
        deferred = true;
        break;
      }
      relayed += n;
      if (n < domain::kRelayPage) break;
    }
  }
  if (relayed > 0) log::info("outbox_relayed", {{"rows", std::to_string(relayed)}});
  if (deferred) throw std::runtime_error("outbox relay deferred: Redis or PostgreSQL unavailable");
}

void presence_sweep(JobContext& jc) {
  int64_t now = redis_time_ms(jc.ctx.redis);
  redis::Reply swept = jc.ctx.redis.command({"GET", stream::kPresenceSwept});
  std::string from = "-inf";
  if (swept.is_string()) {
    try {
      from = std::to_string(std::stoll(swept.str()) - kSweepOverlapMs);
    } catch (const std::exception&) {
      from = "-inf";
    }
  }
  redis::Reply expired = jc.ctx.redis.command({"ZRANGEBYSCORE", stream::kPresence, from, "(" + std::to_string(now)});
  if (expired.is_error()) throw redis::RedisError("ZRANGEBYSCORE refused: " + expired.str());
  std::vector<std::string> ids;
  for (size_t i = 0; i < expired.size(); ++i) {
    std::string id = expired.element(i).str();
    if (crypto::is_uuid(id)) ids.push_back(id);
  }
  if (!ids.empty()) {
    auto r = jc.ctx.db.exec(kPresenceOffline, {db::text_array(ids)});
    if (r.rows() > 0) log::info("presence_swept", {{"offline", std::to_string(r.rows())}});
  }
  jc.ctx.redis.command({"SET", stream::kPresenceSwept, std::to_string(now)});
}

void session_cleanup(JobContext& jc) {
  int64_t tokens = delete_batches(jc.ctx.db, kExpireRefreshTokens);
  int64_t sessions = delete_batches(jc.ctx.db, kExpireSessions);
  if (tokens + sessions > 0) {
    log::info("sessions_expired", {{"refresh_tokens", std::to_string(tokens)}, {"sessions", std::to_string(sessions)}});
  }
}

void idempotency_cleanup(JobContext& jc) {
  int64_t n = delete_batches(jc.ctx.db, kExpireIdempotency);
  if (n > 0) log::info("idempotency_keys_expired", {{"rows", std::to_string(n)}});
}

void events_trim(JobContext& jc) {
  const std::string min_id = events_min_id(redis_time_ms(jc.ctx.redis), kEventsKeepMs);
  int64_t total = 0;
  for (int i = 0; i < kTrimRounds; ++i) {
    redis::Reply r = jc.ctx.redis.command({"EVAL", kTrimScript, "1", stream::kEvents, std::to_string(kEventsKeepEntries),
                                           min_id, std::to_string(kTrimChunk)});
    if (r.is_error()) throw redis::RedisError("events trim refused: " + r.str());
    total += r.integer();
    if (r.integer() < kTrimChunk) break;
  }
  if (total > 0) log::info("events_trimmed", {{"entries", std::to_string(total)}, {"min_id", min_id}});
}

void consumers_cleanup(JobContext& jc) {
  redis::Reply r = jc.ctx.redis.command({"XINFO", "CONSUMERS", stream::kJobs, stream::kGroup});
  if (r.is_error()) return;  // no stream or group yet: nothing to clean
  for (size_t i = 0; i < r.size(); ++i) {
    redis::Reply c = r.element(i);
    std::string name = info_value(c, "name").str();
    if (name.empty() || name == jc.consumer) continue;
    if (info_value(c, "pending").integer() != 0 || info_value(c, "idle").integer() < kConsumerGoneMs) continue;
    jc.ctx.redis.command({"XGROUP", "DELCONSUMER", stream::kJobs, stream::kGroup, name});
    log::info("consumer_removed", {{"consumer", name}});
  }
}

}  // namespace chat::worker
