// Tests the domain rules that need no service: @mention parsing, the access rules on a loaded
// conversation, the send body and its idempotency key, the stamped event text of the outbox and its
// delete-after-WAIT rule.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/http.hpp"
#include "core/json.hpp"
#include "domain/access.hpp"
#include "domain/mentions.hpp"
#include "domain/messaging.hpp"
#include "domain/outbox.hpp"

namespace chat::domain {
namespace {

using Names = std::vector<std::string>;

TEST(ParseMentions, NamesInOrderOnceEach) {
  EXPECT_EQ(parse_mentions("@alice and @bob, then @alice again"), (Names{"alice", "bob"}));
  EXPECT_EQ(parse_mentions("hi @j.doe-x_1!"), (Names{"j.doe-x_1"}));
  EXPECT_EQ(parse_mentions("no mention here"), Names{});
}

TEST(ParseMentions, AnAtInsideAWordOrAnAddressIsNoMention) {
  EXPECT_EQ(parse_mentions("mail x@bob.com now"), Names{});
  EXPECT_EQ(parse_mentions("a_@bob"), Names{});
  EXPECT_EQ(parse_mentions("(@bob)"), (Names{"bob"}));
}

TEST(ParseMentions, TrailingDotAndDashAreNotPartOfTheName) {
  EXPECT_EQ(parse_mentions("thanks @bob."), (Names{"bob"}));
  EXPECT_EQ(parse_mentions("@carol- there"), (Names{"carol"}));
  EXPECT_EQ(parse_mentions("@ alone"), Names{});
}

int status_of(void (*fn)(const Conversation&, const CurrentUser&), const Conversation& c, const CurrentUser& me) {
  try {
    fn(c, me);
  } catch (const http::HttpError& e) {
    return e.status();
  }
  return 0;
}

Conversation channel(bool member, std::string role = "") {
  Conversation c;
  c.id = "11111111-1111-1111-1111-111111111111";
  c.kind = "channel";
  c.is_member = member;
  c.member_role = std::move(role);
  return c;
}

TEST(AccessRules, MembersReadAndGlobalModeratorsReadChannelsOnly) {
  CurrentUser member{"u", "alice", "member", "s"};
  CurrentUser moderator{"m", "mod", "moderator", "s"};
  EXPECT_EQ(status_of(require_read, channel(true), member), 0);
  EXPECT_EQ(status_of(require_read, channel(false), member), 403);
  EXPECT_EQ(status_of(require_read, channel(false), moderator), 0);
  Conversation group = channel(false);
  group.kind = "group";
  EXPECT_EQ(status_of(require_read, group, moderator), 403);  // never others' direct or group conversations
}

TEST(AccessRules, OnlyMembersSendAndNothingIsSentToAnArchivedConversation) {
  try {
    require_member(channel(false));
    FAIL() << "a non-member may send";
  } catch (const http::HttpError& e) {
    EXPECT_EQ(e.status(), 403);
    EXPECT_EQ(e.detail(), "Access denied to channel");
  }
  Conversation archived = channel(true);
  archived.is_archived = true;
  try {
    require_not_archived(archived, "Cannot send messages to an archived conversation");
    FAIL() << "an archived conversation takes messages";
  } catch (const http::HttpError& e) {
    EXPECT_EQ(e.detail(), "Cannot send messages to an archived conversation");
  }
  EXPECT_NO_THROW(require_not_archived(channel(true)));
}

TEST(AccessRules, OwnersAdminsAndGlobalModeratorsModerate) {
  CurrentUser member{"u", "alice", "member", "s"};
  CurrentUser admin{"a", "root", "admin", "s"};
  EXPECT_TRUE(can_moderate(channel(true, "owner"), member));
  EXPECT_TRUE(can_moderate(channel(true, "admin"), member));
  EXPECT_FALSE(can_moderate(channel(true, "member"), member));
  EXPECT_TRUE(can_moderate(channel(false), admin));
}

http::Request send_request(const std::string& body, const std::string& key = "") {
  http::Request r;
  r.method = "POST";
  r.path = "/api/v1/messages";
  r.headers["content-type"] = "application/json";
  if (!key.empty()) r.headers["idempotency-key"] = key;
  r.body = body;
  return r;
}

TEST(SendInput, TheHeaderKeyWinsOverClientMsgId) {
  const std::string id = "22222222-2222-2222-2222-222222222222";
  SendInput a = read_send_input(send_request(R"({"channel_id":")" + id + R"(","content":" hi ","client_msg_id":"c1"})", "h1"),
                                true);
  EXPECT_EQ(a.conversation_id, id);
  EXPECT_EQ(a.content, "hi");  // trimmed
  EXPECT_EQ(a.message_type, "text");
  EXPECT_EQ(a.idempotency_key, "h1");
  SendInput b = read_send_input(send_request(R"({"content":"x","client_msg_id":"c1"})"), false, id);
  EXPECT_EQ(b.conversation_id, id);
  EXPECT_EQ(b.idempotency_key, "c1");
  SendInput c = read_send_input(send_request(R"({"content":"x","media_url":""})"), false, id);
  EXPECT_FALSE(c.idempotency_key);
  EXPECT_FALSE(c.media_url);  // an empty media_url is none
}

TEST(SendInput, BadBodiesAre422) {
  const std::string id = "22222222-2222-2222-2222-222222222222";
  for (const std::string& body : {std::string(R"({"content":""})"), std::string(R"({"content":"   "})"),
                                  R"({"content":")" + std::string(4001, 'x') + R"("})",
                                  std::string(R"({"content":"x","message_type":"video"})"),
                                  std::string(R"({"content":"x","parent_id":"not-a-uuid"})")}) {
    try {
      read_send_input(send_request(body), false, id);
      ADD_FAILURE() << "accepted " << body.substr(0, 60);
    } catch (const http::HttpError& e) {
      EXPECT_EQ(e.status(), 422) << body.substr(0, 60);
    }
  }
}

TEST(Stamped, TypeFirstThenThePayloadThenTheTimestamp) {
  json::Value payload = json::Value::object();
  payload.set("channel_id", "c").set("n", 1);
  std::string text = stamped("user_joined", payload);
  EXPECT_EQ(text.rfind(R"({"type":"user_joined","channel_id":"c","n":1,"timestamp":")", 0), 0u) << text;
  auto parsed = json::Value::parse(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(json::as_string(json::field(parsed->get(), "timestamp")).value_or("").size(), 27u);  // ...T..:..:..Z
  EXPECT_EQ(stamped("ping", json::Value::object()).rfind(R"({"type":"ping","timestamp":")", 0), 0u);
}

// The outbox's rule under Redis replication: rows go only when WAIT saw enough replicas.
TEST(OutboxWait, RowsAreDeletedOnlyWhenEnoughReplicasAcknowledged) {
  EXPECT_TRUE(may_delete_after_wait(std::nullopt, 0));  // no replicas asked for: today's single-node relay
  EXPECT_TRUE(may_delete_after_wait(0, 0));
  EXPECT_TRUE(may_delete_after_wait(1, 1));
  EXPECT_TRUE(may_delete_after_wait(3, 2));
  EXPECT_FALSE(may_delete_after_wait(0, 1));   // WAIT timed out with no replica: the rows stay
  EXPECT_FALSE(may_delete_after_wait(1, 2));
  EXPECT_FALSE(may_delete_after_wait(std::nullopt, 1));  // WAIT answered an error
  EXPECT_FALSE(may_delete_after_wait(-1, 1));
}

TEST(OutboxWait, WhileReplicasLagARowIsAppendedOncePerConnectionAndTheWaitIsShort) {
  RelayMemo memo;
  int client = 0;
  const RelayMemo::Connection first{&client, 1}, reopened{&client, 2};
  EXPECT_TRUE(memo.needs_append(7, first));
  EXPECT_EQ(memo.wait_timeout_ms(200), 200);
  memo.appended(7, first, "c");
  memo.appended(5, first, "c");
  EXPECT_EQ(memo.resume_after("c", first), 0) << "while WAITs succeed every relay starts from the oldest row";
  memo.waited(false, 1000);  // WAIT came back short: the row stays, on the stream already
  EXPECT_EQ(memo.resume_after("c", first), 7) << "the next page starts after what this connection has";
  EXPECT_EQ(memo.resume_after("c", reopened), 0);
  EXPECT_EQ(memo.resume_after("d", first), 0);
  EXPECT_FALSE(memo.needs_append(7, first)) << "a later WAIT on the same connection covers it";
  EXPECT_TRUE(memo.needs_append(7, reopened)) << "a new connection may be another master: append again";
  int other = 0;
  EXPECT_TRUE(memo.needs_append(7, RelayMemo::Connection{&other, 1})) << "another client's WAIT does not cover it";
  EXPECT_EQ(memo.wait_timeout_ms(200), RelayMemo::kShortWaitMs) << "the conversation's lock is held meanwhile";
  EXPECT_EQ(memo.wait_timeout_ms(5), 5);
  EXPECT_TRUE(memo.paused(1000 + RelayMemo::kPauseMs - 1)) << "sends leave their rows to the worker for a while";
  EXPECT_FALSE(memo.paused(1000 + RelayMemo::kPauseMs)) << "then one relays again and finds out";
  memo.waited(true, 3000);
  EXPECT_FALSE(memo.paused(3001));
  EXPECT_EQ(memo.wait_timeout_ms(200), 200);
  memo.waited(false, 4000);
  memo.caught_up("c");
  EXPECT_EQ(memo.resume_after("c", first), 0) << "a relay that committed: from the oldest row again";
  memo.deleted(7);
  memo.deleted(5);
  EXPECT_TRUE(memo.needs_append(7, first));
  EXPECT_EQ(memo.size(), 0u);
}

}  // namespace
}  // namespace chat::domain
