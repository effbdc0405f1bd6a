// Tests realtime/revocations.hpp: the revocation message (stream::parse_revocation) as the daemon records
// it, the verdicts an upgrade gets, the one-minute memory.
#include "realtime/revocations.hpp"

#include <gtest/gtest.h>

namespace chat::realtime {
namespace {

using Verdict = Revocations::Verdict;

constexpr int64_t kT = 1'800'000'000'000;  // a wall-clock instant, ms

TEST(ParseRevocation, SessionAndEverySession) {
  auto one = stream::parse_revocation(R"({"session_id":"s1","user_id":"u1","reason":"logout"})");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->session_id, "s1");
  EXPECT_EQ(one->user_id, "u1");
  EXPECT_EQ(one->reason, "logout");
  EXPECT_FALSE(one->every_session());

  auto all = stream::parse_revocation(R"({"session_id":"*","user_id":"u1","reason":"banned"})");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->every_session());
}

TEST(ParseRevocation, ReasonDefaultsToSessionRevoked) {
  auto m = stream::parse_revocation(R"({"session_id":"s1"})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->reason, "session_revoked");
}

TEST(ParseRevocation, RefusesWhatNamesNoSession) {
  EXPECT_FALSE(stream::parse_revocation("not json"));
  EXPECT_FALSE(stream::parse_revocation(R"(["s1"])"));
  EXPECT_FALSE(stream::parse_revocation(R"({"user_id":"u1"})"));
  EXPECT_FALSE(stream::parse_revocation(R"({"session_id":"","user_id":"u1"})"));
  EXPECT_FALSE(stream::parse_revocation(R"({"session_id":"*"})")) << "every session of nobody";
  EXPECT_FALSE(stream::parse_revocation(R"({"session_id":42,"user_id":"u1"})"));
}

TEST(Revocations, NothingRevokedAllows) {
  Revocations r;
  EXPECT_EQ(r.check("s1", "u1", kT - 5000, kT), Verdict::kAllowed);
}

TEST(Revocations, ARevokedSessionIsRefusedWhateverItsAge) {
  Revocations r;
  r.revoke_session("s1", kT);
  EXPECT_EQ(r.check("s1", "u1", kT + 10, kT + 1000), Verdict::kSessionRevoked);
  EXPECT_EQ(r.check("s2", "u1", kT - 10, kT + 1000), Verdict::kAllowed) << "another session of the user";
}

TEST(Revocations, RevokeAllRefusesSessionsMadeUpToItAndSparesNewerOnes) {
  Revocations r;
  r.revoke_user("u1", kT);
  EXPECT_EQ(r.check("old", "u1", kT - 1, kT + 100), Verdict::kUserRevoked);
  EXPECT_EQ(r.check("same_ms", "u1", kT, kT + 100), Verdict::kUserRevoked);
  EXPECT_EQ(r.check("new", "u1", kT + 1, kT + 100), Verdict::kAllowed) << "logged in again after the ban or reset";
  EXPECT_EQ(r.check("other", "u2", kT - 1, kT + 100), Verdict::kAllowed);
}

TEST(Revocations, TheSessionVerdictComesFirst) {
  Revocations r;
  r.revoke_user("u1", kT);
  r.revoke_session("s1", kT);
  EXPECT_EQ(r.check("s1", "u1", kT - 1, kT), Verdict::kSessionRevoked);
}

TEST(Revocations, RecordFollowsTheMessage) {
  Revocations r;
  r.record(*stream::parse_revocation(R"({"session_id":"s1","user_id":"u1"})"), kT);
  r.record(*stream::parse_revocation(R"({"session_id":"*","user_id":"u2"})"), kT);
  EXPECT_EQ(r.check("s1", "u1", kT - 1, kT), Verdict::kSessionRevoked);
  EXPECT_EQ(r.check("s9", "u2", kT - 1, kT), Verdict::kUserRevoked);
  EXPECT_EQ(r.size(), 2u);
}

TEST(Revocations, AMinuteLaterTheyAreForgotten) {
  Revocations r;
  r.revoke_session("s1", kT);
  r.revoke_user("u1", kT);
  const int64_t edge = kT + Revocations::kRememberMs;
  EXPECT_EQ(r.check("s1", "u9", 0, edge), Verdict::kSessionRevoked) << "a minute exactly still counts";
  EXPECT_EQ(r.check("s2", "u1", kT, edge), Verdict::kUserRevoked);
  EXPECT_EQ(r.check("s1", "u9", 0, edge + 1), Verdict::kAllowed);
  EXPECT_EQ(r.check("s2", "u1", kT, edge + 1), Verdict::kAllowed);
  EXPECT_EQ(r.size(), 0u) << "a check forgets what it finds expired";
}

TEST(Revocations, ExpireForgetsOnlyTheOldOnes) {
  Revocations r;
  r.revoke_session("old", kT);
  r.revoke_session("new", kT + 30'000);
  r.expire(kT + Revocations::kRememberMs);
  EXPECT_EQ(r.size(), 2u);
  r.expire(kT + Revocations::kRememberMs + 1);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.check("new", "u", 0, kT + Revocations::kRememberMs + 1), Verdict::kSessionRevoked);
}

}  // namespace
}  // namespace chat::realtime
