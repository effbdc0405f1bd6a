// The principal cache's table and the messages that empty it (domain/principal_cache.hpp): plain data, no Redis.
#include "domain/principal_cache.hpp"

#include <gtest/gtest.h>

#include "core/stream.hpp"

namespace chat::domain {
namespace {

const CurrentUser kAda{"11111111-1111-1111-1111-111111111111", "ada", "member", "aaaaaaaa-0000-0000-0000-000000000001"};
const CurrentUser kAdaPhone{kAda.id, "ada", "member", "aaaaaaaa-0000-0000-0000-000000000002"};
const CurrentUser kBob{"22222222-2222-2222-2222-222222222222", "bob", "admin", "bbbbbbbb-0000-0000-0000-000000000001"};

TEST(PrincipalTable, RemembersUntilItsExpiry) {
  PrincipalTable t(10);
  t.remember(t.epoch(), kAda, 1000);
  auto hit = t.find(kAda.session_id, kAda.id, 999);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->username, "ada");
  EXPECT_EQ(hit->session_id, kAda.session_id);
  EXPECT_FALSE(t.find(kAda.session_id, kAda.id, 1000));
}

TEST(PrincipalTable, ASessionOfAnotherUserIsNotAHit) {
  PrincipalTable t(10);
  t.remember(t.epoch(), kAda, 1000);
  EXPECT_FALSE(t.find(kAda.session_id, kBob.id, 0));  // a token whose sub does not own the session
  EXPECT_FALSE(t.find(kBob.session_id, kBob.id, 0));
}

TEST(PrincipalTable, AnAnswerReadBeforeADropIsNotRemembered) {
  PrincipalTable t(10);
  const uint64_t before = t.epoch();  // the request's lookup, then its query ...
  t.drop_session(kAda.session_id);    // ... while a logout's message arrives
  t.remember(before, kAda, 1000);
  EXPECT_FALSE(t.find(kAda.session_id, kAda.id, 0));
  t.remember(t.epoch(), kAda, 1000);
  EXPECT_TRUE(t.find(kAda.session_id, kAda.id, 0));
}

TEST(PrincipalTable, DropsASessionOrEveryOneOfAUser) {
  PrincipalTable t(10);
  t.remember(t.epoch(), kAda, 1000);
  t.remember(t.epoch(), kAdaPhone, 1000);
  t.remember(t.epoch(), kBob, 1000);
  t.drop_session(kAda.session_id);
  EXPECT_FALSE(t.find(kAda.session_id, kAda.id, 0));
  EXPECT_TRUE(t.find(kAdaPhone.session_id, kAda.id, 0));
  t.drop_user(kAda.id);
  EXPECT_FALSE(t.find(kAdaPhone.session_id, kAda.id, 0));
  EXPECT_TRUE(t.find(kBob.session_id, kBob.id, 0));
  t.clear();
  EXPECT_EQ(t.size(), 0u);
}

TEST(PrincipalTable, AFullTableStartsOver) {
  PrincipalTable t(2);
  t.remember(t.epoch(), kAda, 1000);
  t.remember(t.epoch(), kAdaPhone, 1000);
  t.remember(t.epoch(), kBob, 1000);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.find(kBob.session_id, kBob.id, 0));
}

TEST(Invalidation, ReadsTheRevocationsAndTheUserChanges) {
  auto one = parse_invalidation(stream::kRevoked, stream::encode(stream::Revocation{kAda.session_id, kAda.id, "logout"}));
  EXPECT_EQ(one.kind, Invalidation::Kind::kSession);
  EXPECT_EQ(one.id, kAda.session_id);
  auto ban = parse_invalidation(stream::kRevoked, stream::encode(stream::Revocation{stream::kAllSessions, kAda.id, "banned"}));
  EXPECT_EQ(ban.kind, Invalidation::Kind::kUser);
  EXPECT_EQ(ban.id, kAda.id);
  auto role = parse_invalidation(stream::kUserChanged, kBob.id);
  EXPECT_EQ(role.kind, Invalidation::Kind::kUser);
  EXPECT_EQ(role.id, kBob.id);
}

TEST(Invalidation, WhatItCannotReadEmptiesTheTable) {
  EXPECT_EQ(parse_invalidation(stream::kRevoked, "not json").kind, Invalidation::Kind::kAll);
  EXPECT_EQ(parse_invalidation(stream::kUserChanged, "").kind, Invalidation::Kind::kAll);
  EXPECT_EQ(parse_invalidation("chat:other", kAda.id).kind, Invalidation::Kind::kAll);
  PrincipalTable t(10);
  t.remember(t.epoch(), kAda, 1000);
  apply(t, parse_invalidation(stream::kRevoked, "{}"));
  EXPECT_FALSE(t.find(kAda.session_id, kAda.id, 0));
}

}  // namespace
}  // namespace chat::domain
