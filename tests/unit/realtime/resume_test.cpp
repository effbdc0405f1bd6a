// Resume: stream ids, the event_id splice, the ring, where a replay comes from, and the membership walk.
#include "realtime/resume.hpp"

#include <gtest/gtest.h>

#include "test_events.hpp"

namespace chat::realtime {
namespace {

using testing::event;

std::vector<std::string> ids(const std::vector<EventPtr>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e->id_text);
  return out;
}

TEST(StreamIdTest, ParsesAndOrdersNumerically) {
  EXPECT_EQ(StreamId::parse("0")->str(), "0-0");
  EXPECT_EQ(StreamId::parse("1795307486388")->str(), "1795307486388-0");
  EXPECT_LT(*StreamId::parse("9-5"), *StreamId::parse("10-0")) << "numeric, not text, order";
  EXPECT_LT(*StreamId::parse("10-2"), *StreamId::parse("10-10"));
  EXPECT_FALSE(StreamId::parse(""));
  EXPECT_FALSE(StreamId::parse("abc"));
  EXPECT_FALSE(StreamId::parse("1-"));
  EXPECT_FALSE(StreamId::parse("1-2-3"));
  EXPECT_FALSE(StreamId::parse("-1"));
}

TEST(SpliceTest, AddsEventIdWithoutReserializing) {
  EXPECT_EQ(splice_event_id(R"({"type":"x","n":1})", "5-0"), R"({"type":"x","n":1,"event_id":"5-0"})");
  EXPECT_EQ(splice_event_id("{}", "5-0"), R"({"event_id":"5-0"})");
  EXPECT_EQ(splice_event_id("{ }\n", "5-0"), "{ \"event_id\":\"5-0\"}\n");
}

TEST(MakeEventTest, RefusesAPayloadThatIsNotAnObject) {
  std::map<std::string, std::string> f{{"type", "x"}, {"payload", "[1]"}};
  EXPECT_FALSE(make_event("1-0", f, 0));
  f["payload"] = "{\"a\":1}";
  EXPECT_FALSE(make_event("nope", f, 0));
  auto e = make_event("1-0", f, 0);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->audience, Audience::kConversation) << "conversation is the default audience";
}

TEST(EventRingTest, BoundsByCountAndAgeAndRemembersTheFloor) {
  EventRing ring(3, 1000);
  ring.reset(StreamId{1, 0});
  for (int i = 2; i <= 6; ++i) ring.push(event(std::to_string(i) + "-0", "new_message", "c"), i * 10);
  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.floor().str(), "3-0") << "the newest evicted id";
  EXPECT_TRUE(ring.knows(StreamId{3, 0}));
  EXPECT_TRUE(ring.knows(StreamId{5, 0}));
  EXPECT_FALSE(ring.knows(StreamId{5, 1}));
  EXPECT_EQ(ids(ring.after(StreamId{4, 0})), (std::vector<std::string>{"5-0", "6-0"}));
  ring.expire(2000);
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_EQ(ring.floor().str(), "6-0");
}

TEST(CouldHaveMissedTest, AReopenedStreamIsComparedWithWhatTheDaemonRead) {
  EventRing ring(100, 60'000);
  ring.reset(StreamId{10, 0});
  ring.push(event("11-0", "new_message", "c"), 0);
  ring.push(event("12-0", "new_message", "c"), 0);
  ring.push(event("13-0", "new_message", "c"), 0);
  StreamCheck same{StreamId{13, 0}, true, {StreamId{12, 0}, StreamId{11, 0}, StreamId{10, 0}, StreamId{9, 0}}};
  EXPECT_FALSE(could_have_missed(same, ring, false)) << "a restart that kept the stream";
  StreamCheck lost_tail{StreamId{13, 0}, false, {StreamId{12, 0}, StreamId{11, 0}}};
  EXPECT_FALSE(could_have_missed(lost_tail, ring, true))
      << "with WAIT, what the promoted replica lacks is still in the outbox and is relayed again";
  EXPECT_TRUE(could_have_missed(lost_tail, ring, false)) << "without WAIT, unread entries may be gone for good";
  StreamCheck written_below{StreamId{13, 0}, true, {StreamId{12, 5}, StreamId{12, 0}}};
  EXPECT_TRUE(could_have_missed(written_below, ring, true))
      << "an entry below the reader's position that it never read would be skipped";
  StreamCheck older{StreamId{13, 0}, true, {StreamId{12, 0}, StreamId{7, 3}}};
  EXPECT_FALSE(could_have_missed(older, ring, true)) << "below the ring's floor is before the daemon's time";
  StreamCheck empty{StreamId{13, 0}, false, {}};
  EXPECT_FALSE(could_have_missed(empty, ring, true));
}

TEST(PlanResumeTest, DecidesBetweenRingRedisAndResync) {
  EventRing ring(100, 60'000);
  ring.reset(StreamId{10, 0});
  ring.push(event("11-0", "new_message", "c"), 0);
  ring.push(event("12-0", "new_message", "c"), 0);
  StreamId pos{12, 0};
  EXPECT_EQ(plan_resume(std::nullopt, ring, pos).kind, ResumePlan::Kind::kNone);
  EXPECT_EQ(plan_resume(std::string(), ring, pos).kind, ResumePlan::Kind::kNone);
  EXPECT_EQ(plan_resume(std::string("11-0"), ring, pos).kind, ResumePlan::Kind::kRing);
  EXPECT_EQ(plan_resume(std::string("10-0"), ring, pos).kind, ResumePlan::Kind::kRing) << "the start position";
  auto never = plan_resume(std::string("11-5"), ring, pos);
  EXPECT_EQ(never.kind, ResumePlan::Kind::kResync);
  EXPECT_EQ(never.reason, kResyncUnknown);
  EXPECT_EQ(plan_resume(std::string("garbage"), ring, pos).kind, ResumePlan::Kind::kResync);
  EXPECT_EQ(plan_resume(std::string("5-0"), ring, pos).kind, ResumePlan::Kind::kFetch) << "older than the ring";
  EXPECT_EQ(plan_resume(std::string("0"), ring, pos).kind, ResumePlan::Kind::kFetch);
  EXPECT_EQ(plan_resume(std::string("99-0"), ring, pos).kind, ResumePlan::Kind::kFetch) << "not read here yet";
}

TEST(ReplayCandidatesTest, FetchedRangeIsToppedUpFromTheRing) {
  EventRing ring(100, 60'000);
  ring.reset(StreamId{20, 0});
  ring.push(event("21-0", "new_message", "c"), 0);
  ring.push(event("22-0", "new_message", "c"), 0);
  ResumePlan plan{ResumePlan::Kind::kFetch, StreamId{5, 0}, ""};
  FetchedRange fetched;
  fetched.events = {event("6-0", "new_message", "c"), event("20-0", "new_message", "c"),
                    event("21-0", "new_message", "c")};
  fetched.upto = StreamId{21, 0};
  std::string reason;
  auto out = replay_candidates(plan, &fetched, ring, StreamId{22, 0}, &reason);
  EXPECT_TRUE(reason.empty());
  EXPECT_EQ(ids(out), (std::vector<std::string>{"6-0", "20-0", "21-0", "22-0"})) << "no gap, no duplicate";

  auto upto_position = replay_candidates(plan, &fetched, ring, StreamId{20, 0}, &reason);
  EXPECT_EQ(ids(upto_position), (std::vector<std::string>{"6-0", "20-0"})) << "newer ones come live";

  fetched.resync_reason = kResyncTooOld;
  replay_candidates(plan, &fetched, ring, StreamId{22, 0}, &reason);
  EXPECT_EQ(reason, kResyncTooOld);
}

TEST(ReplayCandidatesTest, ResyncWhenTheRingNoLongerMeetsTheFetch) {
  EventRing ring(1, 60'000);
  ring.reset(StreamId{20, 0});
  ring.push(event("30-0", "new_message", "c"), 0);
  ring.push(event("31-0", "new_message", "c"), 0);  // 30-0 evicted: floor 30-0
  ResumePlan plan{ResumePlan::Kind::kFetch, StreamId{5, 0}, ""};
  FetchedRange fetched;
  fetched.events = {event("6-0", "new_message", "c")};
  fetched.upto = StreamId{6, 0};
  std::string reason;
  replay_candidates(plan, &fetched, ring, StreamId{31, 0}, &reason);
  EXPECT_EQ(reason, kResyncTooOld);
}

TEST(ReplayForTest, JudgesEachEventByTheMembershipOfItsTime) {
  // alice was in c1, left it, joined c2; bob's events in c3 never concern her.
  std::vector<EventPtr> events{
      event("1-0", "new_message", "c1"),                             // member then: yes
      event("2-0", "new_message", "c2"),                             // not yet a member: no
      event("3-0", "user_left", "c1", "conversation", "alice"),      // her own leave: yes
      event("4-0", "new_message", "c1"),                             // after leaving: no
      event("5-0", "user_joined", "c2", "conversation", "alice"),    // her own join: yes
      event("6-0", "new_message", "c2"),                             // member now: yes
      event("7-0", "new_message", "c3"),                             // never: no
      event("8-0", "channel_created", "c4", "everyone", "bob"),      // everyone: yes
      event("9-0", "mention_notification", "c3", "users", "alice"),  // named: yes
  };
  auto out = replay_for("alice", {"c2"}, events);
  EXPECT_EQ(ids(out), (std::vector<std::string>{"1-0", "3-0", "5-0", "6-0", "8-0", "9-0"}));
}

TEST(ReplayForTest, ConversationCreatedAndRejoin) {
  std::vector<EventPtr> events{
      event("1-0", "new_message", "d1"),
      event("2-0", "conversation_created", "d1", "conversation", "alice,bob"),
      event("3-0", "new_message", "d1"),
      event("4-0", "user_left", "d1", "conversation", "alice"),
      event("5-0", "new_message", "d1"),
      event("6-0", "user_joined", "d1", "conversation", "alice"),
      event("7-0", "new_message", "d1"),
  };
  EXPECT_EQ(ids(replay_for("alice", {"d1"}, events)),
            (std::vector<std::string>{"2-0", "3-0", "4-0", "6-0", "7-0"}));
}

TEST(ReplayForTest, DropsOutboxDuplicates) {
  std::vector<EventPtr> events{event("1-0", "new_message", "c1", "conversation", "", "9"),
                               event("2-0", "new_message", "c1", "conversation", "", "9"),
                               event("3-0", "new_message", "c1", "conversation", "", "10")};
  EXPECT_EQ(ids(replay_for("alice", {"c1"}, events)), (std::vector<std::string>{"1-0", "3-0"}));
}

}  // namespace
}  // namespace chat::realtime
