// Reads on the PostgreSQL streaming replica (DATABASE_REPLICA_URL), without a caller ever missing its own write.
//
// Read-your-writes by commit position: after a caller's write commits, the primary's WAL position
// (pg_current_wal_lsn(), at or past that commit) is kept in Redis under the caller's id for a while
// (stream::read_your_writes_key). A read on the caller's behalf goes to the replica only when the replica has
// replayed that position, and when its last replayed commit is at most REPLICA_MAX_LAG_MS old (a replica that stopped
// streaming must not serve reads that are ever staler); otherwise, and whenever the replica cannot be reached, to
// the primary. A position rather than a time bound alone because only a position proves that one particular commit
// is there: a replica 50 ms behind is "within a second" and still lacks the message sent 10 ms ago. Kept in Redis
// rather than in the process because the caller's next request may reach another process or another host.
//
// A position only matters for a write younger than the lag bound: a replica whose last replayed commit is at most
// REPLICA_MAX_LAG_MS old has replayed every commit before that. So the key lives 2 x REPLICA_MAX_LAG_MS + 1 s, and
// for as long after this process saw Redis fail, reconnect or switch masters (a key set on a master that died
// before replicating it is gone, as is one whose SET failed), every read goes to the primary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "core/db.hpp"
#include "core/redis.hpp"

namespace chat::db {

// What the replica said about itself, and the caller's last write: may it serve the read?
struct ReplicaState {
  bool replayed_callers_write = true;  // the replica's replay position is at or past the caller's last write
  std::optional<int64_t> replay_age_ms;  // now() - its last replayed commit's time (nullopt: none replayed yet)
};
bool replica_may_serve(const ReplicaState& state, int max_lag_ms);

class Replica {
 public:
  // Without DATABASE_REPLICA_URL every read goes to `primary`.
  Replica(const Config& config, const char* program);
  bool configured() const { return !url_.empty(); }

  // The connection for a read on behalf of `user_id`: the replica when replica_may_serve, else `primary`.
  // Never throws for the replica's sake: one that does not answer is left alone for a second.
  Connection& for_read(Connection& primary, redis::Client& redis, const std::string& user_id);
  // After a write on behalf of `user_id` committed, before it is acknowledged: remembers the primary's WAL position.
  void wrote(Connection& primary, redis::Client& redis, const std::string& user_id);

 private:
  // Whether Redis failed, reconnected or switched masters less than the key's lifetime ago (noting a change now).
  bool redis_changed(const redis::Client& redis);

  std::string url_;
  std::string program_;
  int max_lag_ms_;
  int remember_ms_;
  std::optional<Connection> conn_;
  int64_t down_until_ms_ = 0;
  int64_t trouble_until_ms_ = 0;
  uint64_t seen_opens_ = 0;  // redis::Client::opens() when last looked at
};

}  // namespace chat::db
