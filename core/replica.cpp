#include "core/replica.hpp"

#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"

namespace chat::db {
namespace {

// On the replica: how far it has replayed, against the caller's last write ('0/0' when there is none).
constexpr Statement kReplicaState{
    "replica_state",
    "SELECT pg_is_in_recovery() AS standby, "
    "COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS replayed, "
    "(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint AS age_ms"};
// On the primary, after the caller's write committed: a position at or past that commit.
constexpr Statement kWalPosition{"wal_position", "SELECT pg_current_wal_lsn()::text AS lsn"};

// A replica that failed is not tried again for this long (each try of a dead host would cost every read a
// connection attempt).
constexpr int64_t kRetryAfterMs = 1000;

}  // namespace

bool replica_may_serve(const ReplicaState& state, int max_lag_ms) {
  return state.replayed_callers_write && state.replay_age_ms && *state.replay_age_ms <= max_lag_ms;
}

Replica::Replica(const Config& config, const char* program)
    : url_(config.database_replica_url),
      program_(program),
      max_lag_ms_(config.replica_max_lag_ms),
      // Past this a write is older than any lag the replica may have and still serve.
      remember_ms_(config.replica_max_lag_ms * 2 + 1000) {}

Connection& Replica::for_read(Connection& primary, redis::Client& redis, const std::string& user_id) {
  if (url_.empty()) return primary;
  if (steady_now_ms() < down_until_ms_) return primary;
  try {
    redis::Reply written = redis.command({"GET", stream::read_your_writes_key(user_id)});
    if (redis_changed(redis)) return primary;
    std::string lsn = written.is_string() ? written.str() : "0/0";
    if (!conn_) conn_.emplace(url_, program_ + "-replica");
    Result r = conn_->exec(kReplicaState, {lsn});
    ReplicaState state;
    state.replayed_callers_write = r.boolean(0, "replayed");
    if (!r.is_null(0, "age_ms")) state.replay_age_ms = r.int64(0, "age_ms");
    if (r.boolean(0, "standby") && replica_may_serve(state, max_lag_ms_)) return *conn_;
  } catch (const DbError& e) {
    log::warn("replica_unavailable", {{"error", e.what()}});
    conn_.reset();
    down_until_ms_ = steady_now_ms() + kRetryAfterMs;
  } catch (const redis::RedisError&) {
    // The caller's last write position is unknown: only the primary surely has it.
    trouble_until_ms_ = steady_now_ms() + remember_ms_;
  }
  return primary;
}

// Called after a command: a master switch the process heard of has already made that command reopen the
// connection (redis::Client drops one older than the switch), so a change of opens() covers it too.
bool Replica::redis_changed(const redis::Client& redis) {
  if (redis.opens() != seen_opens_) {
    seen_opens_ = redis.opens();
    trouble_until_ms_ = steady_now_ms() + remember_ms_;
  }
  return steady_now_ms() < trouble_until_ms_;
}

void Replica::wrote(Connection& primary, redis::Client& redis, const std::string& user_id) {
  if (url_.empty()) return;
  // The write is committed whatever happens here: a failure is logged, not answered. While Redis is down the
  // reads cannot look the position up either and go to the primary, and for a while after (redis_changed).
  try {
    std::string lsn = primary.exec(kWalPosition).str(0, "lsn");
    redis.command({"SET", stream::read_your_writes_key(user_id), lsn, "PX", std::to_string(remember_ms_)});
    redis_changed(redis);
  } catch (const std::exception& e) {
    trouble_until_ms_ = steady_now_ms() + remember_ms_;
    log::error("read_your_writes_unrecorded", {{"error", e.what()}});
  }
}

}  // namespace chat::db
