// Tests worker/admin.hpp: argument parsing of the operator command and its human and JSON renderings.
#include "worker/admin.hpp"

#include <gtest/gtest.h>

namespace chat::worker {
namespace {

std::optional<AdminCommand> parse(std::vector<std::string> args, std::string* error = nullptr) {
  std::string e;
  auto cmd = parse_admin_args(args, &e);
  if (error) *error = e;
  return cmd;
}

TEST(AdminArgs, StatsAndJson) {
  auto c = parse({"--stats"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, AdminCommand::Kind::kStats);
  EXPECT_FALSE(c->json);
  c = parse({"--json", "--stats"});
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->json);
  EXPECT_TRUE(is_admin_invocation({"--stats"}));
  EXPECT_FALSE(is_admin_invocation({}));
}

TEST(AdminArgs, DeadLetterActionsWithAndWithoutId) {
  auto c = parse({"--dead-letter", "list"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, AdminCommand::Kind::kDeadList);
  EXPECT_FALSE(c->id);
  c = parse({"--dead-letter", "retry", "1795307486388-0", "--json"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, AdminCommand::Kind::kDeadRetry);
  EXPECT_EQ(c->id, "1795307486388-0");
  EXPECT_TRUE(c->json);
  c = parse({"--dead-letter", "drop"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, AdminCommand::Kind::kDeadDrop);
}

TEST(AdminArgs, BadUsageSaysWhy) {
  std::string e;
  EXPECT_FALSE(parse({"--dead-letter"}, &e));
  EXPECT_FALSE(e.empty());
  EXPECT_FALSE(parse({"--dead-letter", "burn"}, &e));
  EXPECT_NE(e.find("burn"), std::string::npos);
  EXPECT_FALSE(parse({"--dead-letter", "drop", "not-an-id"}, &e));
  EXPECT_FALSE(parse({"--dead-letter", "drop", "12"}, &e));
  EXPECT_FALSE(parse({"--stats", "--dead-letter", "list"}, &e));
  EXPECT_FALSE(parse({"--stats", "extra"}, &e));
  EXPECT_FALSE(parse({"--stats", "--verbose"}, &e));
  EXPECT_NE(e.find("--verbose"), std::string::npos);
}

Stats sample() {
  Stats s;
  s.depth = 7;
  s.pending = 3;
  s.consumers = {{"host:1", 2, 150}, {"host:2", 1, 20}};
  s.delayed = 4;
  s.dead = 1;
  s.done = 100;
  s.retried = 5;
  s.dead_lettered = 1;
  s.oldest_age_ms = 2500;
  s.next_delayed_in_ms = 300;
  s.now_ms = 10000;
  s.periodic = {"outbox_relay 9 host:1 9000 ok 2"};
  return s;
}

TEST(AdminRender, TextNamesEveryNumber) {
  std::string t = render_stats_text(sample());
  for (const char* part : {"depth           7", "waiting 4", "in flight 3", "2.5 s", "delayed         4",
                           "next due in 0.3 s", "dead-letter     1", "host:1  in flight 2", "done 100", "retried 5",
                           "dead-lettered 1", "outbox_relay  1.0 s ago by host:1 (ok, 2 ms)"}) {
    EXPECT_NE(t.find(part), std::string::npos) << part << "\n" << t;
  }
}

TEST(AdminRender, JsonHasTheSameNumbers) {
  std::string j = stats_json(sample()).dump();
  for (const char* part : {"\"depth\":7", "\"waiting\":4", "\"in_flight\":3", "\"delayed\":4", "\"dead\":1",
                           "\"done\":100", "\"retried\":5", "\"dead_lettered\":1", "\"oldest_age_ms\":2500",
                           "{\"name\":\"host:2\",\"pending\":1,\"idle_ms\":20}", "\"type\":\"outbox_relay\""}) {
    EXPECT_NE(j.find(part), std::string::npos) << part << "\n" << j;
  }
  Stats empty;
  std::string e = stats_json(empty).dump();
  EXPECT_NE(e.find("\"oldest_age_ms\":null"), std::string::npos) << e;
}

TEST(AdminRender, DeadEntry) {
  Fields f{{"type", "test_fail"}, {"payload", "{\"key\":\"k\"}"}, {"job_id", "1-0"}, {"error", "boom"},
           {"attempts", "5"}, {"failed_at", "2026-11-21T22:23:17.371927Z"}, {"failed_by", "host:1"}};
  std::string t = render_dead_text("2-0", f);
  EXPECT_NE(t.find("2-0  test_fail  attempts 5"), std::string::npos) << t;
  EXPECT_NE(t.find("error:   boom"), std::string::npos) << t;
  std::string j = dead_json("2-0", f).dump();
  EXPECT_NE(j.find("\"attempts\":5"), std::string::npos) << j;
  EXPECT_NE(j.find("\"error\":\"boom\""), std::string::npos) << j;
}

}  // namespace
}  // namespace chat::worker
