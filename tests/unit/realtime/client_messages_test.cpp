// Client frames (docs/api.md#client-frames) against a hub, without sockets: replies, errors, and what the loop
// does next.
#include "realtime/client_messages.hpp"

#include <gtest/gtest.h>

#include "core/json.hpp"
#include "realtime/typing.hpp"
#include "test_events.hpp"

namespace chat::realtime {
namespace {

using testing::RecordingSink;

const std::string kNow = "2026-11-21T22:23:17.371927Z";

class ClientMessagesTest : public ::testing::Test {
 protected:
  void SetUp() override { hub.add_socket(1, "alice", "alice", "s1", {"c1"}, {}); }

  ClientOutcome handle(std::string_view text, bool binary = false) {
    return handle_client_message(hub, 1, text, binary, kNow);
  }
  static std::string field(const std::string& json_text, const char* key) {
    auto v = json::Value::parse(json_text);
    return v ? json::as_string(json::field(v->get(), key)).value_or("") : "";
  }

  RecordingSink sink;
  Hub hub{sink};
};

TEST_F(ClientMessagesTest, PingGetsPongWithTimestamp) {
  auto out = handle(R"({"type":"ping"})");
  ASSERT_EQ(out.replies.size(), 1u);
  EXPECT_EQ(out.replies[0], R"({"type":"pong","timestamp":"2026-11-21T22:23:17.371927Z"})");
}

TEST_F(ClientMessagesTest, TextPingGetsTextPong) {
  auto out = handle("ping");
  EXPECT_TRUE(out.text_pong);
  EXPECT_TRUE(out.replies.empty());
}

TEST_F(ClientMessagesTest, ErrorsKeepTheirCodes) {
  EXPECT_EQ(field(handle("{not json").replies.at(0), "error_code"), "invalid_json");
  EXPECT_EQ(field(handle("[1,2]").replies.at(0), "error_code"), "invalid_json");
  EXPECT_EQ(field(handle(R"({"type":"ping"})", true).replies.at(0), "error_code"), "invalid_json");
  EXPECT_EQ(field(handle(R"({"type":"dance"})").replies.at(0), "error_code"), "unknown_message_type");
  EXPECT_EQ(field(handle(R"({"channel_id":"c1"})").replies.at(0), "error_code"), "unknown_message_type");
  EXPECT_EQ(field(handle(R"({"type":"join_channel"})").replies.at(0), "error_code"), "missing_channel_id");
  EXPECT_EQ(field(handle(R"({"type":"typing_indicator","channel_id":""})").replies.at(0), "error_code"),
            "missing_channel_id");
  auto denied = handle(R"({"type":"join_channel","channel_id":"c2"})");
  EXPECT_EQ(field(denied.replies.at(0), "type"), "error");
  EXPECT_EQ(field(denied.replies.at(0), "error_code"), "access_denied");
  EXPECT_FALSE(field(denied.replies.at(0), "message").empty());
}

TEST_F(ClientMessagesTest, LeaveAndJoinChannel) {
  auto left = handle(R"({"type":"leave_channel","channel_id":"c1"})");
  EXPECT_EQ(left.replies.at(0), R"({"type":"channel_left","channel_id":"c1","timestamp":")" + kNow + "\"}");
  EXPECT_TRUE(hub.socket(1)->left.count("c1"));
  auto joined = handle(R"({"type":"join_channel","channel_id":"c1"})");
  EXPECT_EQ(field(joined.replies.at(0), "type"), "channel_joined");
  EXPECT_FALSE(hub.socket(1)->left.count("c1"));
}

TEST_F(ClientMessagesTest, TypingIsRelayedNotAnswered) {
  auto out = handle(R"({"type":"typing_indicator","channel_id":"c1","is_typing":true})");
  EXPECT_TRUE(out.replies.empty());
  ASSERT_TRUE(out.typing);
  EXPECT_EQ(out.typing->conversation_id, "c1");
  EXPECT_TRUE(out.typing->is_typing);
  auto stop = handle(R"({"type":"typing_indicator","conversation_id":"c1","is_typing":false})");
  ASSERT_TRUE(stop.typing);
  EXPECT_FALSE(stop.typing->is_typing);
  EXPECT_EQ(field(handle(R"({"type":"typing_indicator","channel_id":"c9","is_typing":true})").replies.at(0),
                  "error_code"),
            "access_denied");
}

TEST_F(ClientMessagesTest, OnlineUsersIsAskedOfTheLoop) {
  auto out = handle(R"({"type":"get_online_users","channel_id":"c1"})");
  EXPECT_TRUE(out.replies.empty());
  EXPECT_EQ(out.online_users_for.value_or(""), "c1");
}

TEST(ServerEventsTest, Shapes) {
  EXPECT_EQ(online_users_event("c1", {"u1", "u2"}, kNow),
            R"({"type":"online_users","channel_id":"c1","users":["u1","u2"],"timestamp":")" + kNow + "\"}");
  EXPECT_EQ(connection_established_event("u", "alice", "s", "0", kNow),
            R"({"type":"connection_established","user_id":"u","username":"alice","session_id":"s","last_event_id":"0","timestamp":")" +
                kNow + "\"}");
  auto msg = json::Value::parse(typing_ephemeral("u", "alice", "c1", true, kNow));
  ASSERT_TRUE(msg);
  EXPECT_EQ(json::as_string(json::field(msg->get(), "except_user_id")).value_or(""), "u");
  EXPECT_EQ(json::as_bool(json::field(json::field(msg->get(), "payload"), "is_typing")).value_or(false), true);
}

TEST(TypingTrackerTest, ExpiresTenSecondsAfterTheLastTrue) {
  TypingTracker t;
  t.set("u", "alice", "c1", true, 0);
  t.set("u", "alice", "c1", true, 5000);  // extends
  EXPECT_TRUE(t.expire(14'999).empty());
  auto gone = t.expire(15'000);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].conversation_id, "c1");
  t.set("u", "alice", "c1", true, 0);
  t.set("u", "alice", "c2", true, 0);
  t.set("v", "bob", "c1", true, 0);
  EXPECT_EQ(t.end_user("u").size(), 2u);
  EXPECT_TRUE(t.end("v", "c1"));
  EXPECT_FALSE(t.end("v", "c1"));
  t.set("v", "bob", "c1", true, 0);
  t.set("v", "bob", "c1", false, 1);
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace chat::realtime
