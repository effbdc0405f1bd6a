// Tests worker/queue.hpp's pure parts: job identity and attempts, backoff with full jitter, the fields of re-queued, dead and revived jobs, stream ids.
#include "worker/queue.hpp"

#include <gtest/gtest.h>

#include <random>

#include "core/json.hpp"

namespace chat::worker {
namespace {

std::string get(const Fields& f, const std::string& name) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  return "<absent>";
}

int count(const Fields& f, const std::string& name) {
  int n = 0;
  for (const auto& kv : f) n += kv.first == name;
  return n;
}

TEST(MakeJob, OutboxJobTakesItsIdFromTheOutboxRow) {
  Job j = make_job("5-0", {{"type", "mention_notification"}, {"payload", "{}"}, {"outbox_id", "42"}}, 1);
  EXPECT_EQ(j.type, "mention_notification");
  EXPECT_EQ(j.payload, "{}");
  EXPECT_EQ(j.job_id, "outbox:42");
  EXPECT_EQ(j.attempt, 1);
}

TEST(MakeJob, DirectJobIsNamedByItsEntryAndAnExplicitIdWins) {
  EXPECT_EQ(make_job("7-1", {{"type", "x"}}, 1).job_id, "7-1");
  EXPECT_EQ(make_job("7-1", {{"type", "x"}, {"outbox_id", "3"}, {"job_id", "abc"}}, 1).job_id, "abc");
}

TEST(MakeJob, AttemptAddsRedeliveriesToTheCarriedAttempt) {
  EXPECT_EQ(make_job("1-0", {{"type", "x"}}, 3).attempt, 3);
  EXPECT_EQ(make_job("1-0", {{"type", "x"}, {"attempt", "4"}}, 1).attempt, 4);
  EXPECT_EQ(make_job("1-0", {{"type", "x"}, {"attempt", "4"}}, 2).attempt, 5);
  EXPECT_EQ(make_job("1-0", {{"type", "x"}, {"attempt", "junk"}}, 1).attempt, 1);
  EXPECT_EQ(make_job("1-0", {{"type", "x"}, {"attempt", "-3"}}, 0).attempt, 1);
}

TEST(Backoff, CeilingDoublesFromTheBaseUpToTheCap) {
  EXPECT_EQ(backoff_ceiling_ms(1, 1000, 300000), 1000);
  EXPECT_EQ(backoff_ceiling_ms(2, 1000, 300000), 2000);
  EXPECT_EQ(backoff_ceiling_ms(5, 1000, 300000), 16000);
  EXPECT_EQ(backoff_ceiling_ms(9, 1000, 300000), 256000);
  EXPECT_EQ(backoff_ceiling_ms(10, 1000, 300000), 300000);
  EXPECT_EQ(backoff_ceiling_ms(1000, 1000, 300000), 300000);  // no overflow however many attempts
}

TEST(Backoff, FullJitterStaysWithinZeroAndTheCeilingAndSpreads) {
  std::mt19937_64 rng(7);
  for (int attempt = 1; attempt <= 12; ++attempt) {
    int64_t lo = INT64_MAX, hi = -1;
    for (int i = 0; i < 2000; ++i) {
      int64_t d = backoff_delay_ms(attempt, 1000, 300000, rng);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, backoff_ceiling_ms(attempt, 1000, 300000));
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    int64_t ceiling = backoff_ceiling_ms(attempt, 1000, 300000);
    EXPECT_LT(lo, ceiling / 10) << attempt;      // full jitter reaches down to 0...
    EXPECT_GT(hi, ceiling * 9 / 10) << attempt;  // ...and up to the ceiling
  }
}

TEST(RequeueFields, CarryTheJobIdAndTheNextAttemptOnce) {
  Job j = make_job("9-0", {{"type", "t"}, {"payload", "p"}, {"outbox_id", "8"}, {"attempt", "2"}}, 1);
  Fields f = requeue_fields(j, 3);
  EXPECT_EQ(get(f, "type"), "t");
  EXPECT_EQ(get(f, "payload"), "p");
  EXPECT_EQ(get(f, "job_id"), "outbox:8");
  EXPECT_EQ(get(f, "attempt"), "3");
  EXPECT_EQ(count(f, "attempt"), 1);
  EXPECT_EQ(count(f, "job_id"), 1);
  Job again = make_job("10-0", f, 1);
  EXPECT_EQ(again.job_id, j.job_id);
  EXPECT_EQ(again.attempt, 3);
}

TEST(DeadFields, RecordErrorAttemptsAndOriginAndReviveDropsThem) {
  Job j = make_job("9-0", {{"type", "t"}, {"payload", "p"}, {"attempt", "5"}}, 1);
  Fields dead = dead_fields(j, "boom", 5, "host:1", "2026-11-21T22:23:17.371927Z");
  EXPECT_EQ(get(dead, "error"), "boom");
  EXPECT_EQ(get(dead, "attempts"), "5");
  EXPECT_EQ(get(dead, "failed_by"), "host:1");
  EXPECT_EQ(get(dead, "entry_id"), "9-0");
  EXPECT_EQ(get(dead, "job_id"), "9-0");
  EXPECT_EQ(get(dead, "attempt"), "<absent>");
  Fields back = revive_fields(dead);
  EXPECT_EQ(get(back, "type"), "t");
  EXPECT_EQ(get(back, "payload"), "p");
  EXPECT_EQ(get(back, "job_id"), "9-0");
  for (const char* gone : {"error", "attempts", "failed_at", "failed_by", "entry_id", "attempt"}) {
    EXPECT_EQ(get(back, gone), "<absent>") << gone;
  }
  Job revived = make_job("11-0", back, 1);
  EXPECT_EQ(revived.attempt, 1);
  EXPECT_EQ(revived.job_id, "9-0");
}

TEST(EncodeFields, IsAFlatJsonArrayOfStringsThatSurvivesAnyText) {
  Fields f{{"type", "t"}, {"payload", "{\"a\":\"\\\"q\\\" é\\n\"}"}};
  std::string enc = encode_fields(f);
  auto doc = json::Value::parse(enc);
  ASSERT_TRUE(doc);
  ASSERT_EQ(json::array_size(doc->get()), 4);
  EXPECT_EQ(json::as_string(json::array_item(doc->get(), 0)), "type");
  EXPECT_EQ(json::as_string(json::array_item(doc->get(), 3)), f[1].second);
}

}  // namespace
}  // namespace chat::worker
