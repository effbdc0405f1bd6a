// Tests core/stream.hpp: stream ids, audiences, id lists, the XADD of both streams and the entries read back,
// the ephemeral envelope and the revocation message, each encoded and parsed back.
#include "core/stream.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace chat::stream {
namespace {

using Ids = std::vector<std::string>;
using Args = std::vector<std::string>;

// The field/value pairs of an XADD command (after its "*"), as a reader gets them back.
std::map<std::string, std::string> fields_of(const Args& xadd_args) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < xadd_args.size() && xadd_args[i] != "*") ++i;
  for (++i; i + 1 < xadd_args.size(); i += 2) out[xadd_args[i]] = xadd_args[i + 1];
  return out;
}

Entry sample_entry() {
  Entry e;
  e.type = "user_joined";
  e.conversation_id = "0b7c4a52-4a3e-4f51-9a55-3f0d3e1c2b11";
  e.audience = Audience::kConversation;
  e.user_ids = {"u1", "u2"};
  e.payload = R"({"type":"user_joined","channel_id":"c1","user":{"id":"u1"},"timestamp":"2026-01-02T03:04:05Z"})";
  e.outbox_id = "42";
  return e;
}

void expect_same(const Entry& a, const Entry& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.conversation_id, b.conversation_id);
  EXPECT_EQ(a.audience, b.audience);
  EXPECT_EQ(a.user_ids, b.user_ids);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.outbox_id, b.outbox_id);
}

// ---- keys ------------------------------------------------------------------------------------

TEST(StreamKeys, PerUserKeysArePrefixPlusId) {
  EXPECT_EQ(presence_user_key("u1"), std::string(kPresenceUserPrefix) + "u1");
  EXPECT_EQ(presence_user_key("u1"), "presence:user:u1");
  EXPECT_EQ(send_rate_key("u1"), "rl:send:u1");
}

// ---- StreamId --------------------------------------------------------------------------------

TEST(StreamIds, ParsesEveryFormRedisAccepts) {
  ASSERT_TRUE(StreamId::parse("0"));
  EXPECT_EQ(*StreamId::parse("0"), (StreamId{0, 0}));
  EXPECT_TRUE(StreamId::parse("0")->zero());
  EXPECT_EQ(*StreamId::parse("0-0"), (StreamId{0, 0}));
  EXPECT_EQ(*StreamId::parse("1795307486388"), (StreamId{1795307486388, 0})) << "no seq is seq 0";
  EXPECT_EQ(*StreamId::parse("1795307486388-7"), (StreamId{1795307486388, 7}));
  EXPECT_EQ(*StreamId::parse("18446744073709551615-18446744073709551615"),
            (StreamId{18446744073709551615u, 18446744073709551615u}));
  EXPECT_FALSE(StreamId::parse("1795307486388-7")->zero());
}

TEST(StreamIds, StrIsTheCanonicalFormAndParsesBack) {
  EXPECT_EQ(StreamId::parse("0")->str(), "0-0");
  EXPECT_EQ(StreamId::parse("1795307486388")->str(), "1795307486388-0");
  for (const char* text : {"0-0", "1-0", "1795307486388-7", "18446744073709551615-3"}) {
    auto id = StreamId::parse(text);
    ASSERT_TRUE(id) << text;
    EXPECT_EQ(id->str(), text);
    EXPECT_EQ(*StreamId::parse(id->str()), *id);
  }
}

TEST(StreamIds, OrdersNumericallyNotAsText) {
  EXPECT_LT(*StreamId::parse("9-5"), *StreamId::parse("10-0")) << "\"9-5\" > \"10-0\" as text";
  EXPECT_LT(*StreamId::parse("10-2"), *StreamId::parse("10-10"));
  EXPECT_LT(*StreamId::parse("0"), *StreamId::parse("0-1"));
  EXPECT_EQ(*StreamId::parse("5"), *StreamId::parse("5-0"));
  EXPECT_GT(*StreamId::parse("1795307486388-0"), *StreamId::parse("999999999999-99"));
}

TEST(StreamIds, RefusesBadForms) {
  for (const char* bad : {"", "-", "abc", "1-", "-1", "1-2-3", "1--2", " 1", "1 ", "+1", "1-+2", "0x10", "1.5", "1-a",
                          "18446744073709551616", "1-18446744073709551616", "$", ">", "*"}) {
    EXPECT_FALSE(StreamId::parse(bad)) << '"' << bad << '"';
  }
}

// ---- Audience and id lists -------------------------------------------------------------------

TEST(StreamAudience, NamesRoundTrip) {
  for (Audience a : {Audience::kConversation, Audience::kEveryone, Audience::kUsers}) {
    EXPECT_EQ(parse_audience(audience_name(a)), a) << audience_name(a);
  }
  EXPECT_STREQ(audience_name(Audience::kConversation), "conversation");
  EXPECT_STREQ(audience_name(Audience::kEveryone), "everyone");
  EXPECT_STREQ(audience_name(Audience::kUsers), "users");
}

TEST(StreamAudience, UnknownNamesAreConversation) {
  for (const char* name : {"", "Everyone", "USERS", "user", "all", "everyone "}) {
    EXPECT_EQ(parse_audience(name), Audience::kConversation) << '"' << name << '"';
  }
}

TEST(StreamIdList, JoinAndSplitRoundTrip) {
  EXPECT_EQ(join_ids({}), "");
  EXPECT_EQ(join_ids({"a"}), "a");
  EXPECT_EQ(join_ids({"a", "b", "c"}), "a,b,c");
  for (const Ids& ids : {Ids{}, Ids{"a"}, Ids{"a", "b", "c"}}) EXPECT_EQ(split_ids(join_ids(ids)), ids);
}

TEST(StreamIdList, SplitDropsEmptyItemsAndSpaces) {
  EXPECT_EQ(split_ids(""), Ids{});
  EXPECT_EQ(split_ids(","), Ids{});
  EXPECT_EQ(split_ids("a,,b,"), (Ids{"a", "b"}));
  EXPECT_EQ(split_ids(" a , b "), (Ids{"a", "b"}));
  EXPECT_EQ(split_ids("a, ,b"), (Ids{"a", "b"}));
}

// ---- XADD and entries ------------------------------------------------------------------------

TEST(StreamXadd, EventsAreCappedJobsAreNot) {
  Entry e = sample_entry();
  EXPECT_EQ(xadd(kEvents, e), (Args{"XADD", "chat:events", "MAXLEN", "~", kEventsCap, "*", "type", "user_joined",
                                    "conversation_id", e.conversation_id, "audience", "conversation", "user_ids",
                                    "u1,u2", "payload", e.payload, "outbox_id", "42"}));

  Entry job;
  job.type = "mention_notification";
  job.conversation_id = e.conversation_id;
  job.audience = Audience::kUsers;
  job.payload = R"({"message_id":"m1","user_ids":["u2"]})";
  job.outbox_id = "43";
  EXPECT_EQ(xadd(kJobs, job),
            (Args{"XADD", "chat:jobs", "*", "type", "mention_notification", "conversation_id", e.conversation_id,
                  "audience", "users", "user_ids", "", "payload", job.payload, "outbox_id", "43"}));
}

TEST(StreamParseEntry, ReadsBackWhatXaddWrote) {
  Entry e = sample_entry();
  for (const char* s : {kEvents, kJobs}) {
    auto back = parse_entry(fields_of(xadd(s, e)));
    ASSERT_TRUE(back) << s;
    expect_same(*back, e);
  }
  for (Audience a : {Audience::kConversation, Audience::kEveryone, Audience::kUsers}) {
    Entry x = e;
    x.audience = a;
    x.user_ids = {};
    x.conversation_id = "";
    x.outbox_id = "";
    x.payload = "{}";
    auto back = parse_entry(fields_of(xadd(kEvents, x)));
    ASSERT_TRUE(back);
    expect_same(*back, x);
  }
}

TEST(StreamParseEntry, MissingFieldsAreEmptyAndTheAudienceDefaults) {
  auto e = parse_entry({{"payload", R"({"type":"x"})"}});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "");
  EXPECT_EQ(e->conversation_id, "");
  EXPECT_EQ(e->audience, Audience::kConversation);
  EXPECT_TRUE(e->user_ids.empty());
  EXPECT_EQ(e->outbox_id, "");
  EXPECT_EQ(e->payload, R"({"type":"x"})");
  EXPECT_EQ(parse_entry({{"payload", "{}"}, {"audience", "nobody"}})->audience, Audience::kConversation);
}

TEST(StreamParseEntry, RefusesAPayloadThatIsNoObject) {
  Entry e = sample_entry();
  for (const char* bad : {"", "   ", "not json", "[1,2]", "\"text\"", "42", "{\"a\":1", "\"a\":1}"}) {
    auto f = fields_of(xadd(kEvents, e));
    f["payload"] = bad;
    EXPECT_FALSE(parse_entry(f)) << '"' << bad << '"';
  }
  auto f = fields_of(xadd(kEvents, e));
  f.erase("payload");
  EXPECT_FALSE(parse_entry(f)) << "no payload at all";
}

// ---- the ephemeral envelope ------------------------------------------------------------------

TEST(StreamEphemeral, EncodeIsTheDocumentedEnvelope) {
  Ephemeral e;
  e.type = "read_receipt";
  e.conversation_id = "c1";
  e.user_ids = {"u1"};
  e.payload = R"({"type":"read_receipt","seq":3})";
  EXPECT_EQ(
      encode(e),
      R"({"type":"read_receipt","conversation_id":"c1","user_ids":"u1","conversation_ids":"","except_user_id":"",)"
      R"("payload":{"type":"read_receipt","seq":3}})");
}

TEST(StreamEphemeral, RoundTripKeepsEveryFieldAndThePayloadBytes) {
  Ephemeral e;
  e.type = "user_status";
  e.conversation_id = "c0";
  e.user_ids = {"u1", "u2"};
  e.conversation_ids = {"c1", "c2", "c3"};
  e.except_user_id = "u9";
  e.payload =
      R"({"type":"user_status","user_id":"u9","status":"online","n":-12.5,"ok":true,"none":null,)"
      R"("nested":{"a":[1,2,{"b":[]}],"e":{}},"text":"h\u00e9 \"q\" \\ \t end","timestamp":"2026-01-02T03:04:05Z"})";
  // cJSON writes non-ASCII as UTF-8 rather than \u escapes: use the form it writes.
  e.payload.replace(e.payload.find("\\u00e9"), 6, "\xc3\xa9");
  Ephemeral back;
  ASSERT_TRUE(parse(encode(e), back));
  EXPECT_EQ(back.type, e.type);
  EXPECT_EQ(back.conversation_id, e.conversation_id);
  EXPECT_EQ(back.user_ids, e.user_ids);
  EXPECT_EQ(back.conversation_ids, e.conversation_ids);
  EXPECT_EQ(back.except_user_id, e.except_user_id);
  EXPECT_EQ(back.payload, e.payload) << "the payload object byte for byte";
}

TEST(StreamEphemeral, EmptyListsAndAnEmptyPayloadRoundTrip) {
  Ephemeral e;
  e.type = kUserGone;
  e.user_ids = {"u1"};
  Ephemeral back;
  ASSERT_TRUE(parse(encode(e), back));
  EXPECT_EQ(back.type, "user_gone");
  EXPECT_EQ(back.conversation_id, "");
  EXPECT_EQ(back.user_ids, Ids{"u1"});
  EXPECT_TRUE(back.conversation_ids.empty());
  EXPECT_EQ(back.except_user_id, "");
  EXPECT_EQ(back.payload, "{}") << "an empty payload is sent as {}";

  Ephemeral none;
  none.type = "typing_indicator";
  none.conversation_id = "c1";
  none.payload = "{}";
  ASSERT_TRUE(parse(encode(none), back));
  EXPECT_TRUE(back.user_ids.empty());
  EXPECT_TRUE(back.conversation_ids.empty());
  EXPECT_EQ(back.payload, "{}");
}

TEST(StreamEphemeral, ParseReadsOlderShortEnvelopes) {
  // The fields a writer leaves out are empty (a user_gone of an older daemon had only these three).
  Ephemeral back;
  ASSERT_TRUE(parse(R"({"type":"user_gone","user_ids":"u1","payload":{}})", back));
  EXPECT_EQ(back.type, "user_gone");
  EXPECT_EQ(back.user_ids, Ids{"u1"});
  EXPECT_TRUE(back.conversation_ids.empty());
  EXPECT_EQ(back.except_user_id, "");
}

TEST(StreamEphemeral, RefusesWhatIsNoEnvelope) {
  Ephemeral back;
  EXPECT_FALSE(parse("", back));
  EXPECT_FALSE(parse("not json", back));
  EXPECT_FALSE(parse("[]", back));
  EXPECT_FALSE(parse(R"({"type":"x"})", back)) << "no payload";
  EXPECT_FALSE(parse(R"({"type":"x","payload":"{}"})", back)) << "a payload that is a string, not an object";
  EXPECT_FALSE(parse(R"({"type":"x","payload":[1]})", back));
}

// ---- the revocation message ------------------------------------------------------------------

TEST(StreamRevocation, RoundTrip) {
  for (const Revocation& r : {Revocation{"s1", "u1", "logout"}, Revocation{kAllSessions, "u1", "banned"},
                              Revocation{"s2", "", "refresh_token_reuse"}}) {
    auto back = parse_revocation(encode(r));
    ASSERT_TRUE(back) << encode(r);
    EXPECT_EQ(back->session_id, r.session_id);
    EXPECT_EQ(back->user_id, r.user_id);
    EXPECT_EQ(back->reason, r.reason);
    EXPECT_EQ(back->every_session(), r.session_id == "*");
  }
  EXPECT_EQ(encode(Revocation{"s1", "u1", "logout"}), R"({"session_id":"s1","user_id":"u1","reason":"logout"})");
}

TEST(StreamRevocation, ReasonDefaultsToSessionRevoked) {
  auto m = parse_revocation(R"({"session_id":"s1","user_id":"u1"})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->reason, "session_revoked");
  EXPECT_FALSE(m->every_session());
}

TEST(StreamRevocation, RefusesWhatNamesNoSession) {
  EXPECT_FALSE(parse_revocation(encode(Revocation{"", "u1", "logout"}))) << "an empty session";
  EXPECT_FALSE(parse_revocation(encode(Revocation{kAllSessions, "", "banned"}))) << "every session of nobody";
  EXPECT_FALSE(parse_revocation(""));
  EXPECT_FALSE(parse_revocation("not json"));
  EXPECT_FALSE(parse_revocation(R"(["s1"])"));
  EXPECT_FALSE(parse_revocation(R"({"user_id":"u1"})"));
  EXPECT_FALSE(parse_revocation(R"({"session_id":42,"user_id":"u1"})"));
}

}  // namespace
}  // namespace chat::stream
