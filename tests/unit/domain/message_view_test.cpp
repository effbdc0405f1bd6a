// Tests domain/message_view.hpp: the Message object rendered from rows of CHAT_MESSAGE_ROWS has every field of
// docs/api.md#message with its JSON type (strings stay strings, absent values are null, lists are arrays, numbers
// and booleans are not strings), escapes hostile content, and embeds each sender once per page. The rows are
// built with libpq's own result constructors (PQmakeEmptyPGresult), as the server would send them in text form.
#include <libpq-fe.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/json.hpp"
#include "domain/message_view.hpp"

namespace chat::domain {
namespace {

const std::vector<std::string> kColumns = {
    "id", "conversation_id", "sender_id", "seq", "content", "message_type", "media_url", "parent_id",
    "reply_count", "is_edited", "is_deleted", "created_at", "updated_at", "reactions", "mentions", "su_id",
    "su_username", "su_email", "su_avatar", "su_role", "su_status", "su_is_active", "su_is_online",
    "su_last_seen_at", "su_created_at", "su_updated_at"};
constexpr const char* kNull = nullptr;

// A result of CHAT_MESSAGE_ROWS' columns; each row gives a value per column (nullptr: SQL NULL).
db::Result rows(const std::vector<std::vector<const char*>>& values) {
  PGresult* r = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
  std::vector<PGresAttDesc> attrs(kColumns.size());
  for (size_t i = 0; i < kColumns.size(); ++i) {
    attrs[i] = PGresAttDesc{const_cast<char*>(kColumns[i].c_str()), 0, 0, 0, 25 /* text */, -1, -1};
  }
  EXPECT_EQ(PQsetResultAttrs(r, static_cast<int>(attrs.size()), attrs.data()), 1);
  for (size_t t = 0; t < values.size(); ++t) {
    for (size_t f = 0; f < values[t].size(); ++f) {
      const char* v = values[t][f];
      EXPECT_EQ(PQsetvalue(r, static_cast<int>(t), static_cast<int>(f), const_cast<char*>(v ? v : ""),
                           v ? static_cast<int>(std::string(v).size()) : -1),
                1);
    }
  }
  return db::Result(r);
}

const char* const kAlice = "11111111-1111-1111-1111-111111111111";
const char* const kConv = "22222222-2222-2222-2222-222222222222";

std::vector<const char*> row(const char* id, const char* seq, const char* content, const char* media,
                             const char* reactions, const char* mentions, const char* sender = kAlice) {
  return {id, kConv, sender, seq, content, "text", media, kNull, "0", "f", "f", "2026-12-02 17:20:00.1234+00",
          "2026-12-02 17:20:01+00", reactions, mentions, sender, "alice", "alice@example.com", kNull, "member",
          "active", "t", "f", kNull, "2026-01-02 03:04:05.000006+00", "2026-01-02 03:04:05.000006+00"};
}

TEST(MessageRows, RendersEveryFieldWithItsType) {
  db::Result r = rows({row("33333333-3333-3333-3333-333333333333", "7", "hello", kNull, kNull, kNull)});
  MessageRows m(r);
  auto v = json::Value::parse(m.json(0));
  ASSERT_TRUE(v.has_value()) << m.json(0);
  const cJSON* o = v->get();
  EXPECT_EQ(json::as_string(json::field(o, "id")), "33333333-3333-3333-3333-333333333333");
  EXPECT_EQ(json::as_string(json::field(o, "conversation_id")), kConv);
  EXPECT_EQ(json::as_string(json::field(o, "channel_id")), kConv);
  EXPECT_EQ(json::as_string(json::field(o, "sender_id")), kAlice);
  EXPECT_EQ(json::as_string(json::field(o, "user_id")), kAlice);
  EXPECT_EQ(json::as_number(json::field(o, "seq")), 7.0);
  EXPECT_EQ(json::as_string(json::field(o, "content")), "hello");
  EXPECT_EQ(json::as_string(json::field(o, "message_type")), "text");
  EXPECT_TRUE(json::is_null(json::field(o, "media_url")));
  EXPECT_TRUE(json::is_null(json::field(o, "parent_id")));
  EXPECT_EQ(json::as_number(json::field(o, "reply_count")), 0.0);
  EXPECT_EQ(json::as_bool(json::field(o, "is_edited")), false);
  EXPECT_EQ(json::as_bool(json::field(o, "is_deleted")), false);
  ASSERT_TRUE(json::is_array(json::field(o, "reactions")));
  EXPECT_EQ(json::array_size(json::field(o, "reactions")), 0);
  ASSERT_TRUE(json::is_array(json::field(o, "mentions")));
  EXPECT_EQ(json::array_size(json::field(o, "mentions")), 0);
  EXPECT_EQ(json::as_string(json::field(o, "created_at")), "2026-12-02T17:20:00.123400Z");
  EXPECT_EQ(json::as_string(json::field(o, "updated_at")), "2026-12-02T17:20:01.000000Z");
  const cJSON* u = json::field(o, "user");
  ASSERT_TRUE(json::is_object(u));
  EXPECT_EQ(json::as_string(json::field(u, "id")), kAlice);
  EXPECT_EQ(json::as_string(json::field(u, "username")), "alice");
  EXPECT_EQ(json::as_string(json::field(u, "email")), "");  // never an embedded user's address, never null
  EXPECT_TRUE(json::is_null(json::field(u, "avatar")));
  EXPECT_EQ(json::as_string(json::field(u, "status")), "active");
  EXPECT_EQ(json::as_bool(json::field(u, "is_active")), true);
  EXPECT_EQ(json::as_bool(json::field(u, "is_online")), false);
  EXPECT_TRUE(json::is_null(json::field(u, "last_seen_at")));
  EXPECT_EQ(json::as_string(json::field(u, "created_at")), "2026-01-02T03:04:05.000006Z");
}

TEST(MessageRows, SplicesTheListsPostgreSQLBuilt) {
  db::Result r = rows({row("33333333-3333-3333-3333-333333333333", "1", "hi @bob", "https://x.test/a.png",
                           R"([{"id":"r1","emoji":"+1"}])", R"(["44444444-4444-4444-4444-444444444444"])")});
  auto v = json::Value::parse(MessageRows(r).json(0));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(json::as_string(json::field(v->get(), "media_url")), "https://x.test/a.png");
  EXPECT_EQ(json::array_size(json::field(v->get(), "reactions")), 1);
  EXPECT_EQ(json::as_string(json::array_item(json::field(v->get(), "mentions"), 0)),
            "44444444-4444-4444-4444-444444444444");
}

TEST(MessageRows, HostileContentStaysOneString) {
  const std::string hostile = std::string("a\"b\\c\nd\x01e\x1f") + "</script>\xE2\x80\xA8" + "caf\xC3\xA9";
  db::Result r = rows({row("33333333-3333-3333-3333-333333333333", "1", hostile.c_str(), kNull, kNull, kNull)});
  std::string text = MessageRows(r).json(0);
  for (char c : text) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << text;
  EXPECT_TRUE(json::lexically_valid(text));
  auto v = json::Value::parse(text);
  ASSERT_TRUE(v.has_value()) << text;
  EXPECT_EQ(json::as_string(json::field(v->get(), "content")), hostile);
}

TEST(MessageRows, AnArrayInRowOrderWithEachSenderRenderedAlike) {
  const char* bob = "55555555-5555-5555-5555-555555555555";
  db::Result r = rows({row("a0000000-0000-0000-0000-000000000001", "1", "one", kNull, kNull, kNull),
                       row("a0000000-0000-0000-0000-000000000002", "2", "two", kNull, kNull, kNull, bob),
                       row("a0000000-0000-0000-0000-000000000003", "3", "three", kNull, kNull, kNull)});
  MessageRows m(r);
  auto all = json::Value::parse(m.array());
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(json::array_size(all->get()), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(json::as_number(json::field(json::array_item(all->get(), i), "seq")), i + 1.0);
  }
  EXPECT_EQ(json::as_string(json::field(json::field(json::array_item(all->get(), 1), "user"), "id")), bob);
  EXPECT_EQ(json::dump(json::field(json::array_item(all->get(), 0), "user")),
            json::dump(json::field(json::array_item(all->get(), 2), "user")));
  auto part = json::Value::parse(m.array(1, 1));
  ASSERT_TRUE(part.has_value());
  ASSERT_EQ(json::array_size(part->get()), 1);
  EXPECT_EQ(json::as_string(json::field(json::array_item(part->get(), 0), "content")), "two");
  EXPECT_EQ(MessageRows(rows({})).array(), "[]");
}

}  // namespace
}  // namespace chat::domain
