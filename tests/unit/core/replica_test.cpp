// When a read may go to the PostgreSQL replica (core/replica.hpp): only when the replica has replayed the caller's
// last write and is not staler than REPLICA_MAX_LAG_MS; and the settings that say so.
#include <gtest/gtest.h>

#include "core/config.hpp"
#include "core/replica.hpp"

namespace chat::db {
namespace {

TEST(ReplicaMayServe, OnlyWithTheCallersWriteReplayedAndWithinTheLagBound) {
  EXPECT_TRUE(replica_may_serve({true, 0}, 1000));
  EXPECT_TRUE(replica_may_serve({true, 1000}, 1000));
  EXPECT_FALSE(replica_may_serve({true, 1001}, 1000)) << "a replica that stopped streaming serves nothing";
  EXPECT_FALSE(replica_may_serve({false, 3}, 1000)) << "read-your-writes: the caller's commit is not there yet";
  EXPECT_FALSE(replica_may_serve({true, std::nullopt}, 1000)) << "nothing replayed yet: unknown lag";
}

TEST(ReplicaConfig, OptionalWithABoundedLag) {
  Config none = config_from({{"DATABASE_URL", "postgresql://x/y"}, {"REDIS_URL", "redis://localhost:6379/0"}});
  EXPECT_TRUE(none.database_replica_url.empty());
  EXPECT_EQ(none.replica_max_lag_ms, 1000);
  EXPECT_FALSE(Replica(none, "t").configured());
  Config with = config_from({{"DATABASE_URL", "postgresql://x/y"},
                             {"REDIS_URL", "redis://localhost:6379/0"},
                             {"DATABASE_REPLICA_URL", "postgresql://replica/y"},
                             {"REPLICA_MAX_LAG_MS", "250"}});
  EXPECT_EQ(with.replica_max_lag_ms, 250);
  EXPECT_TRUE(Replica(with, "t").configured());
  EXPECT_THROW(config_from({{"DATABASE_URL", "postgresql://x/y"},
                            {"REDIS_URL", "redis://localhost:6379/0"},
                            {"REPLICA_MAX_LAG_MS", "0"}}),
               ConfigError);
}

}  // namespace
}  // namespace chat::db
