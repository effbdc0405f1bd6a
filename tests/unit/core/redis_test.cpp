// Tests the parts of the Redis client that need no server: Sentinel addresses, the target a config names, and
// what a command's outcome does to its connection (the decision that makes a program follow a failover).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/redis.hpp"

namespace chat::redis {
namespace {

using Items = std::vector<std::string>;

TEST(ParseSentinels, HostsNamesAndBracketedV6WithTheirPorts) {
  auto list = parse_sentinels({"10.0.0.1:26379", "sentinel-b.example:26380", "[fd00::3]:5000"});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0], (HostPort{"10.0.0.1", 26379}));
  EXPECT_EQ((*list)[1], (HostPort{"sentinel-b.example", 26380}));
  EXPECT_EQ((*list)[2], (HostPort{"fd00::3", 5000}));
  EXPECT_TRUE(parse_sentinels({}) && parse_sentinels({})->empty());
}

TEST(ParseSentinels, RefusesWhatIsNotHostColonPort) {
  for (const char* bad : {"10.0.0.1", "10.0.0.1:", ":26379", "host:0", "host:65536", "host:12ab", "host :1",
                          "ho st:1", "host:-1", "host:+1", "fd00::3:5000", "[fd00::3]5000", "[]:1", "[x]:1",
                          "host:123456", "redis://host:1"}) {
    EXPECT_FALSE(parse_sentinels({bad})) << bad;
    EXPECT_FALSE(parse_sentinels({"ok:1", bad})) << "one bad item refuses the list: " << bad;
  }
}

TEST(TargetOf, SentinelsFromTheConfigAndThePasswordFromTheUrl) {
  Config c = config_from({{"DATABASE_URL", "postgresql://x/y"},
                          {"REDIS_URL", "redis://:s3cret@ignored:6379/2"},
                          {"REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26379"},
                          {"REDIS_MASTER_NAME", "chatmaster"}});
  Target t = target_of(c);
  EXPECT_EQ(t.endpoint.password, "s3cret");
  EXPECT_EQ(t.endpoint.db, 2);
  ASSERT_EQ(t.sentinels.size(), 2u);
  EXPECT_EQ(t.sentinels[1], (HostPort{"10.0.0.2", 26379}));
  EXPECT_EQ(t.master_name, "chatmaster");
  EXPECT_EQ(c.redis_wait_replicas, 1) << "with Sentinel an outbox row waits for one replica by default";

  Config single = config_from({{"DATABASE_URL", "postgresql://x/y"}, {"REDIS_URL", "redis://localhost:6379/0"}});
  EXPECT_TRUE(target_of(single).sentinels.empty());
  EXPECT_EQ(single.redis_wait_replicas, 0) << "a single Redis: today's relay, no WAIT";
}

TEST(TargetOf, ABadSentinelListIsAConfigProblem) {
  EnvMap v{{"DATABASE_URL", "postgresql://x/y"}, {"REDIS_URL", "redis://localhost:6379/0"},
           {"REDIS_SENTINELS", "10.0.0.1:26379,nope"}};
  try {
    config_from(v);
    FAIL() << "accepted a bad REDIS_SENTINELS";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_NE(e.problems()[0].find("REDIS_SENTINELS"), std::string::npos);
  }
  v["REDIS_SENTINELS"] = "10.0.0.1:26379";
  v["REDIS_WAIT_REPLICAS"] = "17";
  EXPECT_THROW(config_from(v), ConfigError);
}

TEST(After, ABrokenConnectionIsReopenedOnceThenFails) {
  EXPECT_EQ(after(Outcome::kIoError, "", false), Next::kReconnectAndRetry);
  EXPECT_EQ(after(Outcome::kIoError, "", true), Next::kFail);
}

TEST(After, ANodeThatIsNotTheMasterIsLeftForTheMaster) {
  for (const char* reply : {"READONLY You can't write against a read only replica.",
                            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
                            "LOADING Redis is loading the dataset in memory"}) {
    EXPECT_EQ(after(Outcome::kErrorReply, reply, false), Next::kReconnectAndRetry) << reply;
    EXPECT_EQ(after(Outcome::kErrorReply, reply, true), Next::kReturn) << "the retry's error is the caller's: " << reply;
  }
}

TEST(After, TheCommandsOwnErrorsAndSuccessKeepTheConnection) {
  EXPECT_EQ(after(Outcome::kOk, "", false), Next::kReturn);
  for (const char* reply : {"WRONGTYPE Operation against a key holding the wrong kind of value", "NOSCRIPT No matching script",
                            "ERR The ID specified in XADD is equal or smaller", "readonly lower case is not the code"}) {
    EXPECT_EQ(after(Outcome::kErrorReply, reply, false), Next::kReturn) << reply;
  }
}

TEST(AnnouncesSwitch, OnlyTheMasterNameThisProgramUses) {
  EXPECT_TRUE(announces_switch("chat 10.77.0.4 6379 10.77.0.3 6379", "chat"));
  EXPECT_FALSE(announces_switch("chat2 10.77.0.4 6379 10.77.0.3 6379", "chat"));
  EXPECT_FALSE(announces_switch("cha 10.77.0.4 6379 10.77.0.3 6379", "chat"));
  EXPECT_FALSE(announces_switch("chat", "chat")) << "not the announcement's shape";
  EXPECT_FALSE(announces_switch("", "chat"));
}

TEST(MasterGeneration, ZeroAndNoWatcherWithoutSentinels) {
  EXPECT_EQ(master_generation(target_of("redis://127.0.0.1:6379/0")), 0u);
}

}  // namespace
}  // namespace chat::redis
