// Tests core/json.hpp: parsing (trailing garbage refused), compact builders, quote() escaping and type-safe readers.
#include "core/json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace chat::json {
namespace {

TEST(JsonParse, AcceptsValidDocuments) {
  for (const char* text : {"{}", "[]", "null", "true", "1.5", "\"x\"", R"({"a":[1,2,{"b":null}]})",
                           "  {\"a\":1}\n\t ", R"({"u":"\u00e9\ud83d\ude00"})"}) {
    auto v = Value::parse(text);
    EXPECT_TRUE(v.has_value()) << text;
  }
}

TEST(JsonParse, RefusesInvalidDocuments) {
  for (const char* text : {"", " ", "{", "}", "{\"a\":}", "{'a':1}", "{\"a\":1,}", "[1,2", "nul", "tru",
                           "{\"a\" 1}", "\"unterminated"}) {
    EXPECT_FALSE(Value::parse(text).has_value()) << text;
  }
}

// RFC 8259 §7: a control character inside a string must be escaped. cJSON would copy a raw NUL into its C
// string and so cut the value there ("abc<NUL> @bob tail" -> "abc"); every raw one is refused.
TEST(JsonParse, RefusesRawControlCharactersInStrings) {
  using namespace std::string_literals;
  for (const std::string& text : {"{\"content\":\"abc\0 @bob tail\"}"s, "{\"u\":\"x\0<script>\"}"s, "\"\x01\""s,
                                  "[\"a\tb\"]"s, "{\"a\":\"line\nbreak\"}"s, "\"\x1f\""s, "{\"k\x02\":1}"s}) {
    EXPECT_FALSE(Value::parse(text).has_value()) << text;
  }
  // escaped, they are ordinary characters (NUL is refused later, by the field readers)
  EXPECT_TRUE(Value::parse(R"({"a":"tab\tnew\nline\u0001"})").has_value());
  // 0x7f and everything above is not a control character for JSON
  EXPECT_TRUE(Value::parse("\"\x7f\xc3\xa9\"").has_value());
}

// cJSON 1.7.15 reads a \u without four hex digits as U+0000, which then cuts the string (found by the REST fuzzer).
TEST(JsonParse, RefusesEscapesTheRfcDoesNotDefine) {
  for (const char* text : {R"({"content":"abc\u00zztail"})", R"("\uzzzz")", R"("\u12")", R"("\u")", R"("\x41")",
                           R"("\a")", R"("\0")", "\"\\"}) {
    EXPECT_FALSE(Value::parse(text).has_value()) << text;
  }
  for (const char* text : {R"("\u00e9\uD83D\ude00")", R"("\"\\\/\b\f\n\r\t")", R"("\uABCD")"}) {
    EXPECT_TRUE(Value::parse(text).has_value()) << text;
  }
}

TEST(JsonParse, OnlyFourBytesAreWhiteSpaceBetweenTokens) {
  using namespace std::string_literals;
  EXPECT_TRUE(Value::parse(" \t\r\n{ \"a\" :\t1 }\n").has_value());
  for (const std::string& text : {"\0{}"s, "{}\0"s, "{\x01\"a\":1}"s, "[1,\x0b" "2]"s, "\x0c[]"s}) {
    EXPECT_FALSE(Value::parse(text).has_value()) << text;
  }
}

TEST(JsonParse, AnEscapedQuoteDoesNotEndTheString) {
  EXPECT_TRUE(Value::parse(R"({"a":"say \"hi\"\\"})").has_value());
  using namespace std::string_literals;
  // the raw NUL after an escaped quote is still inside the string
  EXPECT_FALSE(Value::parse("{\"a\":\"\\\"\0\"}"s).has_value());
}

TEST(JsonParse, RefusesTrailingGarbage) {
  EXPECT_FALSE(Value::parse("{} x").has_value());
  EXPECT_FALSE(Value::parse("{\"a\":1}}").has_value());
  EXPECT_FALSE(Value::parse("[1,2]]").has_value());
  EXPECT_FALSE(Value::parse("{}{}").has_value());
  EXPECT_FALSE(Value::parse("1 2").has_value());
  EXPECT_TRUE(Value::parse("{}\r\n").has_value());
}

TEST(JsonParse, ReadsWhatItParsed) {
  auto v = Value::parse(R"({"name":"general","count":3,"private":false,"desc":null,"ids":["a","b"]})");
  ASSERT_TRUE(v.has_value());
  const cJSON* root = v->get();
  EXPECT_TRUE(is_object(root));
  EXPECT_EQ(as_string(field(root, "name")), std::optional<std::string>("general"));
  EXPECT_EQ(as_number(field(root, "count")), std::optional<double>(3));
  EXPECT_EQ(as_bool(field(root, "private")), std::optional<bool>(false));
  EXPECT_TRUE(is_null(field(root, "desc")));
  EXPECT_EQ(field(root, "missing"), nullptr);
  const cJSON* ids = field(root, "ids");
  EXPECT_TRUE(is_array(ids));
  ASSERT_EQ(array_size(ids), 2);
  EXPECT_EQ(as_string(array_item(ids, 1)), std::optional<std::string>("b"));
  EXPECT_EQ(array_item(ids, 2), nullptr);
}

TEST(JsonParse, FieldNamesAreCaseSensitive) {
  auto v = Value::parse(R"({"Name":"x"})");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(field(v->get(), "name"), nullptr);
  EXPECT_NE(field(v->get(), "Name"), nullptr);
}

TEST(JsonReaders, ReturnNulloptOnTheWrongType) {
  auto v = Value::parse(R"({"s":"1","n":1,"b":true,"z":null,"a":[],"o":{}})");
  ASSERT_TRUE(v.has_value());
  const cJSON* r = v->get();
  EXPECT_EQ(as_string(field(r, "n")), std::nullopt);
  EXPECT_EQ(as_string(field(r, "b")), std::nullopt);
  EXPECT_EQ(as_string(field(r, "z")), std::nullopt);
  EXPECT_EQ(as_string(field(r, "o")), std::nullopt);
  EXPECT_EQ(as_number(field(r, "s")), std::nullopt);
  EXPECT_EQ(as_number(field(r, "b")), std::nullopt);
  EXPECT_EQ(as_bool(field(r, "s")), std::nullopt);
  EXPECT_EQ(as_bool(field(r, "n")), std::nullopt);
  EXPECT_EQ(as_bool(field(r, "z")), std::nullopt);
  EXPECT_EQ(as_string(nullptr), std::nullopt);
  EXPECT_EQ(as_bool(nullptr), std::nullopt);
  EXPECT_EQ(as_number(nullptr), std::nullopt);
  EXPECT_EQ(array_size(field(r, "o")), 0);
  EXPECT_EQ(array_item(field(r, "o"), 0), nullptr);
  EXPECT_FALSE(is_array(field(r, "o")));
  EXPECT_FALSE(is_object(field(r, "a")));
  EXPECT_FALSE(is_null(nullptr));
  // field() of something that is not an object is nothing.
  EXPECT_EQ(field(field(r, "a"), "x"), nullptr);
  EXPECT_EQ(field(nullptr, "x"), nullptr);
}

TEST(JsonBuild, ObjectIsCompactInInsertionOrder) {
  Value v = Value::object();
  v.set("id", "abc").set("count", 3).set("big", int64_t{1234567890123}).set("ok", true).set("no", false).set_null("none");
  EXPECT_EQ(v.dump(), R"({"id":"abc","count":3,"big":1234567890123,"ok":true,"no":false,"none":null})");
}

TEST(JsonBuild, OptionalStringIsNullWhenEmpty) {
  Value v = Value::object();
  v.set("a", std::optional<std::string>("x")).set("b", std::optional<std::string>());
  EXPECT_EQ(v.dump(), R"({"a":"x","b":null})");
}

TEST(JsonBuild, NestedArraysAndObjects) {
  Value inner = Value::object();
  inner.set("k", std::string("v"));
  Value list = Value::array();
  list.push("one").push(std::move(inner)).push(Value::null());
  Value root = Value::object();
  root.set("items", std::move(list)).set("empty", Value::array()).set("obj", Value::object());
  EXPECT_EQ(root.dump(), R"({"items":["one",{"k":"v"},null],"empty":[],"obj":{}})");
}

TEST(JsonBuild, Numbers) {
  Value v = Value::object();
  v.set("half", 0.5).set("neg", -7);
  EXPECT_EQ(v.dump(), R"({"half":0.5,"neg":-7})");
}

TEST(JsonBuild, EmptyValueDumpsNull) {
  Value v;
  EXPECT_FALSE(static_cast<bool>(v));
  EXPECT_EQ(v.dump(), "null");
}

TEST(JsonBuild, StringValuesAreEscaped) {
  Value v = Value::object();
  v.set("msg", "say \"hi\"\n");
  EXPECT_EQ(v.dump(), R"({"msg":"say \"hi\"\n"})");
}

TEST(JsonQuote, EscapesQuotesAndBackslashes) {
  EXPECT_EQ(quote("plain"), "\"plain\"");
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("a\"b"), R"("a\"b")");
  EXPECT_EQ(quote("a\\b"), R"("a\\b")");
}

TEST(JsonQuote, EscapesControlCharacters) {
  EXPECT_EQ(quote("a\nb\tc\rd"), R"("a\nb\tc\rd")");
  std::string q = quote(std::string("x\x01y\x1f"));
  EXPECT_EQ(q, R"("x\u0001y\u001f")");
  for (char c : q) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << q;
}

TEST(JsonQuote, UnicodeSurvivesARoundTrip) {
  const std::string s = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // café € 😀
  std::string q = quote(s);
  auto v = Value::parse(q);
  ASSERT_TRUE(v.has_value()) << q;
  EXPECT_EQ(as_string(v->get()), std::optional<std::string>(s));
}

TEST(JsonQuote, ResultParsesBackToTheInput) {
  const std::string s = "quote\" backslash\\ slash/ nl\n tab\t bell\x07 end";
  auto v = Value::parse(quote(s));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(as_string(v->get()), std::optional<std::string>(s));
}

TEST(JsonQuote, EscapesEveryByteAsCJsonPrintsIt) {
  for (int c = 1; c < 256; ++c) {
    const std::string s = std::string("x") + static_cast<char>(c) + "y";
    EXPECT_EQ(quote(s), Value::string(s).dump()) << "byte " << c;
  }
}

}  // namespace
}  // namespace chat::json
