// Tests worker/jobs.hpp: the job table, and the payload readers of mention_notification and test_sleep.
#include "worker/jobs.hpp"

#include <gtest/gtest.h>

#include <set>

#include "worker/scheduler.hpp"

namespace chat::worker {
namespace {

constexpr const char* kMsg = "0b3f7d9e-8a2c-4e1b-9f00-123456789abc";
constexpr const char* kConv = "f0e1d2c3-b4a5-4968-8776-655443322110";
constexpr const char* kSender = "11111111-2222-4333-8444-555555555555";
constexpr const char* kU1 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

std::string payload(const std::string& user_ids) {
  return std::string("{\"message_id\":\"") + kMsg + "\",\"conversation_id\":\"" + kConv + "\",\"sender_id\":\"" + kSender +
         "\",\"user_ids\":" + user_ids + "}";
}

TEST(JobTable, TypesAreUniqueAndFound) {
  std::set<std::string_view> seen;
  for (const auto& spec : job_table()) {
    EXPECT_TRUE(seen.insert(spec.type).second) << spec.type;
    EXPECT_NE(spec.run, nullptr);
  }
  EXPECT_NE(find_job("mention_notification", false), nullptr);
  EXPECT_NE(find_job("outbox_relay", false), nullptr);
  EXPECT_EQ(find_job("no_such_job", true), nullptr);
}

TEST(JobTable, TestJobsOnlyWhenEnabled) {
  EXPECT_EQ(find_job("test_sleep", false), nullptr);
  EXPECT_EQ(find_job("test_fail", false), nullptr);
  EXPECT_NE(find_job("test_sleep", true), nullptr);
  EXPECT_NE(find_job("test_fail", true), nullptr);
}

TEST(JobTable, EveryPeriodicJobIsAJobTypeThatIsNotTestOnly) {
  for (const auto& p : periodic_table()) {
    const JobSpec* spec = find_job(p.type, false);
    ASSERT_NE(spec, nullptr) << p.type;
    EXPECT_GT(p.period_ms, 0);
  }
}

TEST(MentionPayload, ReadsTheFieldsTheHandlersWrite) {
  auto m = parse_mention_job(payload(std::string("[\"") + kU1 + "\"]"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->message_id, kMsg);
  EXPECT_EQ(m->conversation_id, kConv);
  EXPECT_EQ(m->sender_id, kSender);
  ASSERT_EQ(m->user_ids.size(), 1u);
  EXPECT_EQ(m->user_ids[0], kU1);
}

TEST(MentionPayload, LowercasesAndDropsRepeatedUsers) {
  auto m = parse_mention_job(payload(std::string("[\"") + kU1 + "\",\"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE\"]"));
  ASSERT_TRUE(m);
  ASSERT_EQ(m->user_ids.size(), 1u);
  EXPECT_EQ(m->user_ids[0], kU1);
  auto empty = parse_mention_job(payload("[]"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->user_ids.empty());
}

TEST(MentionPayload, RefusesWhatIsNotSuchAnObject) {
  EXPECT_FALSE(parse_mention_job(""));
  EXPECT_FALSE(parse_mention_job("[]"));
  EXPECT_FALSE(parse_mention_job("{\"message_id\":1}"));
  EXPECT_FALSE(parse_mention_job(payload("[\"not-a-uuid\"]")));
  EXPECT_FALSE(parse_mention_job(payload("[7]")));
  EXPECT_FALSE(parse_mention_job(payload("\"x\"")));
  std::string no_sender = std::string("{\"message_id\":\"") + kMsg + "\",\"conversation_id\":\"" + kConv +
                          "\",\"user_ids\":[]}";
  EXPECT_FALSE(parse_mention_job(no_sender));
}

TEST(SleepPayload, NeedsWholeMillisecondsAndAKey) {
  auto s = parse_sleep_job("{\"ms\":25,\"key\":\"batch-1\"}");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ms, 25);
  EXPECT_EQ(s->key, "batch-1");
  EXPECT_FALSE(parse_sleep_job("{\"ms\":-1,\"key\":\"k\"}"));
  EXPECT_FALSE(parse_sleep_job("{\"ms\":1.5,\"key\":\"k\"}"));
  EXPECT_FALSE(parse_sleep_job("{\"ms\":5}"));
  EXPECT_FALSE(parse_sleep_job("{\"ms\":5,\"key\":\"\"}"));
  EXPECT_FALSE(parse_sleep_job("{\"ms\":99999999,\"key\":\"k\"}"));
  EXPECT_FALSE(parse_sleep_job("nope"));
}

}  // namespace
}  // namespace chat::worker
