// Tests core/timefmt.hpp: PostgreSQL timestamptz text and epoch microseconds to RFC 3339 UTC with six digits and Z.
#include "core/timefmt.hpp"

#include <gtest/gtest.h>

#include <string>

namespace chat {
namespace {

TEST(PgToRfc3339, FullMicroseconds) {
  EXPECT_EQ(pg_to_rfc3339("2026-11-21 22:23:17.371927+00"), "2026-11-21T22:23:17.371927Z");
}

TEST(PgToRfc3339, NoFraction) {
  EXPECT_EQ(pg_to_rfc3339("2026-11-21 22:23:17+00"), "2026-11-21T22:23:17.000000Z");
}

TEST(PgToRfc3339, ShortFractionIsPaddedOnTheRight) {
  EXPECT_EQ(pg_to_rfc3339("2026-11-21 22:23:17.3719+00"), "2026-11-21T22:23:17.371900Z");
  EXPECT_EQ(pg_to_rfc3339("2026-01-02 03:04:05.5+00"), "2026-01-02T03:04:05.500000Z");
  EXPECT_EQ(pg_to_rfc3339("2026-01-02 03:04:05.000001+00"), "2026-01-02T03:04:05.000001Z");
}

TEST(PgToRfc3339, SomethingElseIsReturnedUnchanged) {
  EXPECT_EQ(pg_to_rfc3339(""), "");
  EXPECT_EQ(pg_to_rfc3339("yesterday"), "yesterday");
  EXPECT_EQ(pg_to_rfc3339("2026-11-21T22:23:17.371927Z"), "2026-11-21T22:23:17.371927Z");
}

TEST(Rfc3339FromMicros, Epoch) { EXPECT_EQ(rfc3339_from_micros(0), "1970-01-01T00:00:00.000000Z"); }

TEST(Rfc3339FromMicros, KnownInstant) {
  // 2026-11-21T22:23:17Z is 1795299797 seconds after the epoch.
  EXPECT_EQ(rfc3339_from_micros(1795299797LL * 1000000 + 371927), "2026-11-21T22:23:17.371927Z");
  EXPECT_EQ(rfc3339_from_micros(1795299797LL * 1000000 + 7), "2026-11-21T22:23:17.000007Z");
  EXPECT_EQ(rfc3339_from_micros(951782400LL * 1000000), "2000-02-29T00:00:00.000000Z");  // leap day
}

TEST(Rfc3339Now, HasTheWireShape) {
  std::string now = rfc3339_now();
  // YYYY-MM-DDTHH:MM:SS.ffffffZ: digits everywhere except the fixed punctuation.
  const std::string shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  ASSERT_EQ(now.size(), shape.size()) << now;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd') EXPECT_TRUE(now[i] >= '0' && now[i] <= '9') << now;
    else EXPECT_EQ(now[i], shape[i]) << now;
  }
  EXPECT_GT(unix_now(), 1'700'000'000);
}

}  // namespace
TEST(Rfc3339, AcceptsDateTimesWithAnOffset) {
  for (const char* t : {"2026-11-21T22:23:17Z", "2026-11-21T22:23:17.371927Z", "2026-11-21 22:23:17+01:00",
                        "2026-11-21t22:23:17.1-05:30", "2026-11-21T22:23:17.123456789z"}) {
    EXPECT_TRUE(is_rfc3339(t)) << t;
  }
}

TEST(Rfc3339, RefusesEverythingElse) {
  for (const char* t : {"", "yesterday", "2026-11-21", "2026-11-21T22:23:17", "2026-11-21T22:23Z",
                        "2026-11-21T22:23:17.Z", "2026-11-21T22:23:17.1234567890Z", "2026-11-21T22:23:17+0100",
                        "2026-11-21T22:23:17Z ", "2026/11/21T22:23:17Z", "20261121T222317Z", "2026-11-21T22:23:17+01:0"}) {
    EXPECT_FALSE(is_rfc3339(t)) << t;
  }
}

}  // namespace chat
