// Hub routing without sockets: audiences, extra user_ids, membership events, left channels, ephemeral.
#include "realtime/hub.hpp"

#include <gtest/gtest.h>

#include "test_events.hpp"

namespace chat::realtime {
namespace {

using testing::event;
using testing::RecordingSink;

class HubTest : public ::testing::Test {
 protected:
  RecordingSink sink;
  Hub hub{sink};
};

TEST_F(HubTest, ConversationEventGoesToEveryLocalSocketOfItsMembers) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.add_socket(2, "alice", "alice", "s2", {"c1"}, {});  // second tab
  hub.add_socket(3, "bob", "bob", "s3", {"c2"}, {});
  hub.route(*event("1-0", "new_message", "c1"));
  EXPECT_EQ(sink.count(1), 1u);
  EXPECT_EQ(sink.count(2), 1u);
  EXPECT_EQ(sink.count(3), 0u);
  EXPECT_EQ(sink.got[1][0], sink.got[2][0]) << "one encoded frame shared by its recipients";
}

TEST_F(HubTest, PayloadCarriesTheEntryIdAsEventId) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.route(*event("1795307486388-3", "new_message", "c1"));
  EXPECT_EQ(sink.texts(1)[0], R"({"type":"new_message","channel_id":"c1","event_id":"1795307486388-3"})");
}

TEST_F(HubTest, ExtraUserIdsAndUsersAudience) {
  hub.add_socket(1, "alice", "alice", "s1", {}, {});
  hub.add_socket(2, "bob", "bob", "s2", {"c1"}, {});
  hub.route(*event("1-0", "mention_notification", "c1", "users", "alice"));
  EXPECT_EQ(sink.count(1), 1u);
  EXPECT_EQ(sink.count(2), 0u) << "users audience: only the listed users";
  hub.route(*event("2-0", "message_edited", "c1", "conversation", "alice"));
  EXPECT_EQ(sink.count(1), 2u);
  EXPECT_EQ(sink.count(2), 1u);
}

TEST_F(HubTest, ASocketThatQualifiesTwiceGetsOneFrame) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.add_socket(2, "alice", "alice", "s2", {"c1"}, {});
  hub.add_socket(3, "bob", "bob", "s3", {"c1"}, {});
  hub.leave(2, "c1");
  // alice is a member and named (twice) in user_ids: every socket of hers once, the one that left c1 too
  // (user_ids are recipients whatever their sockets left); bob once, as a member.
  hub.route(*event("1-0", "message_edited", "c1", "conversation", "alice,alice"));
  EXPECT_EQ(sink.count(1), 1u);
  EXPECT_EQ(sink.count(2), 1u);
  EXPECT_EQ(sink.count(3), 1u);
  hub.route(*event("2-0", "mention_notification", "c1", "users", "bob,alice,bob"));
  EXPECT_EQ(sink.count(1), 2u);
  EXPECT_EQ(sink.count(2), 2u);
  EXPECT_EQ(sink.count(3), 2u);
  hub.route(*event("3-0", "new_message", "c1"));
  EXPECT_EQ(sink.count(2), 2u) << "a member's socket that left c1 is skipped when user_ids do not name her";
  EXPECT_EQ(sink.count(1), 3u);
}

TEST_F(HubTest, EveryoneAudienceReachesAllSockets) {
  hub.add_socket(1, "alice", "alice", "s1", {}, {});
  hub.add_socket(2, "bob", "bob", "s2", {}, {});
  hub.route(*event("1-0", "channel_created", "c9", "everyone", "alice"));
  EXPECT_EQ(sink.count(1), 1u);
  EXPECT_EQ(sink.count(2), 1u);
  EXPECT_TRUE(hub.is_member("alice", "c9")) << "the creator is a member of the new channel";
  EXPECT_FALSE(hub.is_member("bob", "c9"));
}

TEST_F(HubTest, UserJoinedSubscribesTheJoinerBeforeDelivering) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.add_socket(2, "bob", "bob", "s2", {}, {});
  hub.add_socket(3, "bob", "bob", "s3", {}, {});
  hub.route(*event("1-0", "user_joined", "c1", "conversation", "bob"));
  EXPECT_EQ(sink.count(1), 1u);
  EXPECT_EQ(sink.count(2), 1u) << "the joiner gets its own user_joined, once per socket";
  EXPECT_EQ(sink.count(3), 1u);
  hub.route(*event("2-0", "new_message", "c1"));
  EXPECT_EQ(sink.count(2), 2u) << "every socket of the joiner follows the conversation at once";
  EXPECT_EQ(sink.count(3), 2u);
}

TEST_F(HubTest, UserLeftIsDeliveredThenRemoves) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.add_socket(2, "bob", "bob", "s2", {"c1"}, {});
  auto removed = hub.route(*event("1-0", "user_left", "c1", "conversation", "bob"));
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], Removal("bob", "c1"));
  EXPECT_EQ(sink.count(2), 1u) << "the leaver gets its user_left";
  hub.route(*event("2-0", "new_message", "c1"));
  EXPECT_EQ(sink.count(1), 2u);
  EXPECT_EQ(sink.count(2), 1u) << "nothing more after the leave";
  EXPECT_FALSE(hub.is_member("bob", "c1"));
}

TEST_F(HubTest, ConversationCreatedSubscribesListedUsers) {
  hub.add_socket(1, "alice", "alice", "s1", {}, {});
  hub.add_socket(2, "bob", "bob", "s2", {}, {});
  hub.add_socket(3, "carol", "carol", "s3", {}, {});
  hub.route(*event("1-0", "conversation_created", "d1", "conversation", "alice,bob"));
  EXPECT_EQ(sink.count(1), 1u);
  EXPECT_EQ(sink.count(2), 1u);
  EXPECT_EQ(sink.count(3), 0u);
  hub.route(*event("2-0", "new_message", "d1"));
  EXPECT_EQ(sink.count(1), 2u);
  EXPECT_EQ(sink.count(3), 0u);
}

TEST_F(HubTest, LeaveChannelStopsOneSocketAndJoinResubscribes) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.add_socket(2, "alice", "alice", "s2", {"c1"}, {});
  hub.leave(1, "c1");
  hub.route(*event("1-0", "new_message", "c1"));
  EXPECT_EQ(sink.count(1), 0u);
  EXPECT_EQ(sink.count(2), 1u) << "the other tab still receives it";
  EXPECT_TRUE(hub.is_member("alice", "c1")) << "leave_channel keeps the membership";
  EXPECT_TRUE(hub.join(1, "c1"));
  hub.route(*event("2-0", "new_message", "c1"));
  EXPECT_EQ(sink.count(1), 1u);
  EXPECT_FALSE(hub.join(1, "c2")) << "join only for conversations the user belongs to";
}

TEST_F(HubTest, DuplicatesAreNotDelivered) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  EventRing ring(100, 60'000);
  auto a = event("1-0", "new_message", "c1", "conversation", "", "77");
  auto b = event("2-0", "new_message", "c1", "conversation", "", "77");
  ring.push(a, 0);
  ring.push(b, 0);
  hub.route(*a);
  hub.route(*b);
  EXPECT_EQ(sink.count(1), 1u);
}

TEST_F(HubTest, MembershipRaceAtConnectIsRepairedFromRecentEvents) {
  // Membership loaded from PostgreSQL before the join committed; the join event arrived meanwhile.
  std::vector<EventPtr> since{event("5-0", "user_joined", "c2", "conversation", "alice"),
                              event("6-0", "user_left", "c1", "conversation", "alice"),
                              event("7-0", "user_joined", "c3", "conversation", "bob")};
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, since);
  EXPECT_TRUE(hub.is_member("alice", "c2"));
  EXPECT_FALSE(hub.is_member("alice", "c1"));
  EXPECT_FALSE(hub.is_member("alice", "c3"));
}

TEST_F(HubTest, SecondSocketKeepsTheLiveMembership) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.route(*event("1-0", "user_joined", "c2", "conversation", "alice"));
  hub.add_socket(2, "alice", "alice", "s2", {"c1"}, {});  // a stale load must not undo the live join
  EXPECT_TRUE(hub.is_member("alice", "c2"));
}

TEST_F(HubTest, RemoveSocketReportsTheLastOneAndForgetsTheUser) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.add_socket(2, "alice", "alice", "s1", {"c1"}, {});
  EXPECT_EQ(hub.sockets_of_session("s1").size(), 2u);
  EXPECT_FALSE(hub.remove_socket(1));
  EXPECT_TRUE(hub.remove_socket(2));
  EXPECT_EQ(hub.user_count(), 0u);
  EXPECT_TRUE(hub.local_members("c1").empty());
  EXPECT_TRUE(hub.sockets_of_session("s1").empty());
}

TEST_F(HubTest, DeliverAfterSkipsEventsAlreadyReplayed) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.set_deliver_after(1, StreamId{5, 0});
  hub.route(*event("5-0", "new_message", "c1"));
  hub.route(*event("6-0", "new_message", "c1"));
  EXPECT_EQ(sink.count(1), 1u);
}

TEST_F(HubTest, TypingGoesToMembersButTheTypistAndNotToLeftSockets) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.add_socket(2, "bob", "bob", "s2", {"c1"}, {});
  hub.add_socket(3, "bob", "bob", "s3", {"c1"}, {});
  hub.add_socket(4, "carol", "carol", "s4", {"c2"}, {});
  hub.leave(3, "c1");
  Ephemeral m;
  ASSERT_TRUE(stream::parse(
      R"({"type":"typing_indicator","conversation_id":"c1","user_ids":"","except_user_id":"alice","payload":{"type":"typing_indicator","is_typing":true}})",
      m));
  hub.route_ephemeral(m, make_text_frame(m.payload));
  EXPECT_EQ(sink.count(1), 0u);
  EXPECT_EQ(sink.count(2), 1u);
  EXPECT_EQ(sink.count(3), 0u);
  EXPECT_EQ(sink.count(4), 0u);
  EXPECT_EQ(sink.texts(2)[0], R"({"type":"typing_indicator","is_typing":true})");
}

TEST_F(HubTest, UserStatusReachesEveryoneSharingAConversationOnce) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1", "c2"}, {});
  hub.add_socket(2, "bob", "bob", "s2", {"c1", "c2"}, {});
  hub.add_socket(3, "carol", "carol", "s3", {"c3"}, {});
  hub.leave(2, "c1");
  Ephemeral m;
  ASSERT_TRUE(stream::parse(
      R"({"type":"user_status","conversation_id":"","user_ids":"","conversation_ids":"c1,c2","except_user_id":"alice","payload":{"type":"user_status"}})",
      m));
  hub.route_ephemeral(m, make_text_frame(m.payload));
  EXPECT_EQ(sink.count(1), 0u);
  EXPECT_EQ(sink.count(2), 1u);
  EXPECT_EQ(sink.count(3), 0u);
}

TEST_F(HubTest, ReadReceiptGoesToTheListedUserOnly) {
  hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {});
  hub.add_socket(2, "bob", "bob", "s2", {"c1"}, {});
  Ephemeral m;
  ASSERT_TRUE(stream::parse(
      R"({"type":"read_receipt","conversation_id":"c1","user_ids":"alice","payload":{"type":"read_receipt","seq":3}})",
      m));
  hub.route_ephemeral(m, make_text_frame(m.payload));
  EXPECT_EQ(sink.count(1), 1u);
  EXPECT_EQ(sink.count(2), 0u);
  EXPECT_FALSE(stream::parse("not json", m));
  EXPECT_FALSE(stream::parse(R"({"type":"x"})", m)) << "a message without a payload object";
}

}  // namespace
}  // namespace chat::realtime
