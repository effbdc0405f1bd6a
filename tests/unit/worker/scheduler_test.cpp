// Tests worker/scheduler.hpp and maintenance.hpp's pure parts: period numbers, claim keys, run records, the events trim bound.
#include "worker/scheduler.hpp"

#include <gtest/gtest.h>

#include "worker/maintenance.hpp"

namespace chat::worker {
namespace {

TEST(Periods, AreNumberedFromTheEpochOnOneClock) {
  EXPECT_EQ(period_number(0, 1000), 0);
  EXPECT_EQ(period_number(999, 1000), 0);
  EXPECT_EQ(period_number(1000, 1000), 1);
  EXPECT_EQ(period_number(1795307486388, 30000), 59843582);
  // Two workers a few ms apart in the same period agree on it.
  EXPECT_EQ(period_number(1795307486001, 5000), period_number(1795307489999, 5000));
}

TEST(Periods, ClaimKeyNamesTheJobAndThePeriod) {
  EXPECT_EQ(claim_key("outbox_relay", 1795307486), "chat:sched:outbox_relay:1795307486");
}

TEST(Periods, RunRecordIsSixWords) {
  EXPECT_EQ(run_record("events_trim", 12, "host:7", 360000, true, 3), "events_trim 12 host:7 360000 ok 3");
  EXPECT_EQ(run_record("events_trim", 12, "host:7", 360000, false, 0), "events_trim 12 host:7 360000 failed 0");
}

TEST(Periods, TheTableHasTheDocumentedPeriods) {
  auto period_of = [](std::string_view type) -> int64_t {
    for (const auto& p : periodic_table()) {
      if (p.type == type) return p.period_ms;
    }
    return -1;
  };
  EXPECT_EQ(period_of("outbox_relay"), 1000);
  EXPECT_EQ(period_of("presence_sweep"), 5000);
  EXPECT_EQ(period_of("session_cleanup"), 30000);
  EXPECT_EQ(period_of("idempotency_cleanup"), 30000);
  EXPECT_EQ(period_of("events_trim"), 30000);
}

TEST(EventsTrim, MinIdIsTenMinutesBackAndNeverNegative) {
  EXPECT_EQ(events_min_id(1795307486388, kEventsKeepMs), "1795306886388-0");
  EXPECT_EQ(events_min_id(5, kEventsKeepMs), "0-0");
  EXPECT_EQ(kEventsKeepEntries, 100000);
  EXPECT_EQ(kEventsKeepMs, 600000);
}

}  // namespace
}  // namespace chat::worker
