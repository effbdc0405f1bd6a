// Tests core/validate.hpp: body sources, string/int/bool/uuid rules, FastAPI-style 422s and the UTF-8 helpers.
#include "core/validate.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chat::http {
namespace {

Request json_request(std::string body) {
  Request r;
  r.method = "POST";
  r.path = "/api/v1/test";
  r.headers["content-type"] = "application/json";
  r.body = std::move(body);
  return r;
}

Request form_request(std::string body) {
  Request r;
  r.method = "POST";
  r.headers["content-type"] = "application/x-www-form-urlencoded";
  r.body = std::move(body);
  return r;
}

// Runs `f` and returns the HttpError it throws; fails the test when it throws nothing.
template <typename F>
HttpError thrown_by(F&& f) {
  try {
    f();
  } catch (const HttpError& e) {
    return e;
  }
  ADD_FAILURE() << "no HttpError thrown";
  return HttpError(0, "");
}

const std::string kUuid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";

// ---- sources -----------------------------------------------------------------------------------

TEST(InputBody, EmptyBodyMeansEveryFieldIsMissing) {
  for (const char* body : {"", "   ", "\r\n"}) {
    Input in = Input::body(json_request(body));
    EXPECT_FALSE(in.present("content")) << '"' << body << '"';
    EXPECT_EQ(in.string("content", StringRule{.required = false}), std::nullopt);
    EXPECT_TRUE(in.ok());
    EXPECT_NO_THROW(in.check());
  }
}

TEST(InputBody, EmptyBodyWithARequiredFieldIsMissingNotJsonInvalid) {
  Input in = Input::body(json_request(""));
  EXPECT_EQ(in.string("content"), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  EXPECT_EQ(e.status(), 422);
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].type, "missing");
  EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"body", "content"}));
}

TEST(InputBody, MalformedJsonIsA422JsonInvalid) {
  for (const char* body : {"{", "{\"a\":}", "not json", "{\"a\":1} trailing", "{'a':1}"}) {
    HttpError e = thrown_by([&] { Input::body(json_request(body)); });
    EXPECT_EQ(e.status(), 422) << body;
    ASSERT_EQ(e.errors().size(), 1u) << body;
    EXPECT_EQ(e.errors()[0].type, "json_invalid") << body;
    EXPECT_EQ(e.detail(), e.errors()[0].msg);
    ASSERT_FALSE(e.errors()[0].loc.empty());
    EXPECT_EQ(e.errors()[0].loc[0], "body");
  }
}

TEST(InputBody, NonObjectBodyIsA422) {
  for (const char* body : {"[]", "[1,2]", "\"text\"", "42", "null", "true"}) {
    HttpError e = thrown_by([&] { Input::body(json_request(body)); });
    EXPECT_EQ(e.status(), 422) << body;
    ASSERT_EQ(e.errors().size(), 1u) << body;
    EXPECT_NE(e.errors()[0].type, "json_invalid") << body;
    EXPECT_FALSE(e.detail().empty());
  }
}

TEST(InputBody, UrlencodedFormWhenAllowed) {
  Input in = Input::body(form_request("username=alice%40example.com&password=p%26ss+word&grant_type=password"), true);
  EXPECT_TRUE(in.present("username"));
  EXPECT_EQ(in.string("username"), std::optional<std::string>("alice@example.com"));
  EXPECT_EQ(in.string("password"), std::optional<std::string>("p&ss word"));
  EXPECT_EQ(in.string("grant_type"), std::optional<std::string>("password"));
  EXPECT_FALSE(in.is_null("username"));
  EXPECT_TRUE(in.ok());
}

TEST(InputBody, FormContentTypeWithParametersIsStillAForm) {
  Request r = form_request("username=bob");
  r.headers["content-type"] = "Application/X-WWW-Form-Urlencoded; charset=UTF-8";
  Input in = Input::body(r, true);
  EXPECT_EQ(in.string("username"), std::optional<std::string>("bob"));
}

TEST(InputBody, UrlencodedFormRefusedWhenNotAllowed) {
  // Without allow_form the body is read as JSON, which a form is not.
  HttpError e = thrown_by([&] { Input::body(form_request("username=alice&password=x")); });
  EXPECT_EQ(e.status(), 422);
  ASSERT_FALSE(e.errors().empty());
  EXPECT_EQ(e.errors()[0].type, "json_invalid");
}

TEST(InputBody, JsonBodyStillWorksWhenFormsAreAllowed) {
  Input in = Input::body(json_request(R"({"username":"carol"})"), true);
  EXPECT_EQ(in.string("username"), std::optional<std::string>("carol"));
}

TEST(InputBody, PresentAndIsNull) {
  Input in = Input::body(json_request(R"({"avatar":null,"name":"x"})"));
  EXPECT_TRUE(in.present("avatar"));
  EXPECT_TRUE(in.is_null("avatar"));
  EXPECT_TRUE(in.present("name"));
  EXPECT_FALSE(in.is_null("name"));
  EXPECT_FALSE(in.present("other"));
  EXPECT_FALSE(in.is_null("other"));
}

TEST(InputQuery, ReadsTheDecodedQuery) {
  Request r;
  r.query = parse_urlencoded("q=al+ice&limit=20");
  Input in = Input::query(r);
  EXPECT_EQ(in.string("q"), std::optional<std::string>("al ice"));
  EXPECT_EQ(in.integer("limit", IntRule{.min = 1, .max = 100}), std::optional<int64_t>(20));
  EXPECT_EQ(in.integer("offset"), std::nullopt);
  EXPECT_TRUE(in.ok());
  in.integer("missing_required", IntRule{.required = true});
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"query", "missing_required"}));
}

TEST(InputQuery, PageLimitFallsBackToThePageDefault) {
  constexpr limits::Page kPage{1, 100, 20};
  Request r;
  EXPECT_EQ(Input::query(r).page_limit(kPage), 20);
  r.query = parse_urlencoded("limit=100");
  Input in = Input::query(r);
  EXPECT_EQ(in.page_limit(kPage), 100);
  EXPECT_TRUE(in.ok());
  r.query = parse_urlencoded("limit=101");
  Input over = Input::query(r);
  EXPECT_EQ(over.page_limit(kPage), 20);
  HttpError e = thrown_by([&] { over.check(); });
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"query", "limit"}));
  EXPECT_EQ(e.errors()[0].type, "less_than_equal");
}

TEST(InputPath, TextCapturesAreCheckedLikeAnyString) {
  Request r;
  r.params["query"] = "\xff\xfe";
  Input in = Input::path(r);
  EXPECT_EQ(in.string("query"), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"path", "query"}));
  EXPECT_EQ(e.errors()[0].type, "string_unicode");
  r.params["query"] = "ali";
  EXPECT_EQ(Input::path(r).string("query"), std::optional<std::string>("ali"));
}

TEST(InputQuery, InvalidUtf8AndNulAreErrorsNamingTheParameter) {
  Request r;
  r.query = parse_urlencoded("q=%ff%fe&name=a%00b");
  Input in = Input::query(r);
  EXPECT_EQ(in.string("q"), std::nullopt);
  EXPECT_EQ(in.string("name"), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 2u);
  EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"query", "q"}));
  EXPECT_EQ(e.errors()[1].loc, (std::vector<std::string>{"query", "name"}));
}

TEST(InputHeader, TextHeadersAreChecked) {
  Request r;
  Input in = Input::body(r);
  EXPECT_EQ(in.header(r, "idempotency-key", 128), std::nullopt);  // absent: no problem
  EXPECT_TRUE(in.ok());
  r.headers["idempotency-key"] = "k-1";
  EXPECT_EQ(in.header(r, "idempotency-key", 128), std::optional<std::string>("k-1"));
  for (std::string bad : {std::string("\xff\xfe"), std::string("a\0b", 3), std::string(129, 'k'), std::string()}) {
    Input one = Input::body(r);
    r.headers["idempotency-key"] = bad;
    EXPECT_EQ(one.header(r, "idempotency-key", 128), std::nullopt);
    HttpError e = thrown_by([&] { one.check(); });
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"header", "idempotency-key"}));
    EXPECT_EQ(e.detail().rfind("Idempotency-Key ", 0), 0u) << e.detail();
  }
}

TEST(InputBody, RawControlCharactersInAJsonStringAreJsonInvalid) {
  using namespace std::string_literals;
  for (const std::string& body : {"{\"content\":\"abc\0 @bob tail\"}"s, "{\"username\":\"x\0<script>\"}"s,
                                  "{\"content\":\"a\x07" "b\"}"s}) {
    HttpError e = thrown_by([&] { Input::body(json_request(body)); });
    EXPECT_EQ(e.status(), 422);
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].type, "json_invalid");
  }
}

// Found by the REST fuzzer: a NUL escape under an escaped field name, in a list item, or in a field name.
TEST(InputBody, NulEscapesAreRefusedWhereverCJsonWouldCutAtThem) {
  {
    Input in = Input::body(json_request(R"({"\u0063ontent":"abc\u0000tail"})"));
    EXPECT_EQ(in.string("content"), std::nullopt);
    HttpError e = thrown_by([&] { in.check(); });
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"body", "content"}));
  }
  {
    Input in = Input::body(json_request("{\"participant_ids\":[\"" + kUuid + "\\u0000junk\"]}"));
    EXPECT_EQ(in.uuid_list("participant_ids"), std::nullopt);
    EXPECT_FALSE(in.ok());
  }
  HttpError e = thrown_by([&] { Input::body(json_request(R"({"content\u0000x":"hello"})")); });
  EXPECT_EQ(e.status(), 422);
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"body"}));
  e = thrown_by([&] { Input::body(json_request(R"({"content":"abc\u00zztail"})")); });
  EXPECT_EQ(e.errors()[0].type, "json_invalid");
}

// ---- strings -----------------------------------------------------------------------------------

TEST(InputString, RequiredMissingAndNull) {
  Input in = Input::body(json_request(R"({"b":null})"));
  EXPECT_EQ(in.string("a"), std::nullopt);
  EXPECT_EQ(in.string("b"), std::nullopt);
  EXPECT_EQ(in.string("c", StringRule{.required = false}), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 2u);
  EXPECT_EQ(e.errors()[0].type, "missing");
  EXPECT_EQ(e.errors()[1].type, "missing");
  EXPECT_EQ(e.errors()[0].loc[1], "a");
  EXPECT_EQ(e.errors()[1].loc[1], "b");
}

TEST(InputString, WrongTypeIsAnError) {
  Input in = Input::body(json_request(R"({"name":42,"tags":["x"]})"));
  EXPECT_EQ(in.string("name"), std::nullopt);
  EXPECT_EQ(in.string("tags", StringRule{.required = false}), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 2u);
  EXPECT_EQ(e.errors()[0].type, "string_type");
  EXPECT_EQ(e.errors()[1].type, "string_type");
}

TEST(InputString, MinAndMaxCountCodePointsNotBytes) {
  // "héllo" is 5 code points and 6 bytes; "😀😀😀" is 3 code points and 12 bytes.
  Input in = Input::body(json_request(R"({"a":"h\u00e9llo","b":"\ud83d\ude00\ud83d\ude00\ud83d\ude00","c":"\u00e9\u00e9"})"));
  EXPECT_EQ(in.string("a", StringRule{.max_chars = 5}), std::optional<std::string>("h\xC3\xA9llo"));
  EXPECT_EQ(in.string("b", StringRule{.min_chars = 3, .max_chars = 3}),
            std::optional<std::string>("\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"));
  EXPECT_TRUE(in.ok());
  // Two code points (four bytes) are too few for a minimum of 3.
  EXPECT_EQ(in.string("c", StringRule{.min_chars = 3}), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].type, "string_too_short");
}

TEST(InputString, TooLongInCodePoints) {
  Input in = Input::body(json_request(R"({"a":"\u00e9\u00e9\u00e9\u00e9"})"));
  EXPECT_EQ(in.string("a", StringRule{.max_chars = 3}), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].type, "string_too_long");
  EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"body", "a"}));
}

TEST(InputString, MessagesUseTheLabel) {
  Input in = Input::body(json_request(R"({"new_password":"short"})"));
  in.string("new_password", StringRule{.min_chars = 8});
  in.string("name", StringRule{.label = "Channel name"});
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 2u);
  EXPECT_EQ(e.errors()[0].msg, "New password must be at least 8 characters");
  EXPECT_EQ(e.errors()[1].msg, "Channel name is required");
}

TEST(InputString, TrimStripsBeforeChecking) {
  Input in = Input::body(json_request(R"({"a":"  general \n","b":"   "})"));
  EXPECT_EQ(in.string("a", StringRule{.max_chars = 7, .trim = true}), std::optional<std::string>("general"));
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.string("b", StringRule{.min_chars = 1, .trim = true}), std::nullopt);
  EXPECT_FALSE(in.ok());
}

TEST(InputString, NoTrimKeepsSpaces) {
  Input in = Input::body(json_request(R"({"a":" x "})"));
  EXPECT_EQ(in.string("a"), std::optional<std::string>(" x "));
}

TEST(InputString, InvalidUtf8InJsonIsAnError) {
  Input in = Input::body(json_request("{\"name\":\"ab\xC0\xAF\"}"));
  EXPECT_EQ(in.string("name"), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].type, "string_unicode");
}

TEST(InputString, InvalidUtf8InAFormIsAnError) {
  Input in = Input::body(form_request("name=%C0%AF"), true);
  EXPECT_EQ(in.string("name"), std::nullopt);
  EXPECT_FALSE(in.ok());
}

// ---- integers and booleans ---------------------------------------------------------------------

TEST(InputInteger, RangeAndType) {
  Input in = Input::body(json_request(R"({"ok":50,"low":0,"high":101,"frac":1.5,"text":"7","neg":-3})"));
  IntRule r{.min = 1, .max = 100};
  EXPECT_EQ(in.integer("ok", r), std::optional<int64_t>(50));
  EXPECT_EQ(in.integer("neg"), std::optional<int64_t>(-3));
  EXPECT_EQ(in.integer("absent", r), std::nullopt);
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.integer("low", r), std::nullopt);
  EXPECT_EQ(in.integer("high", r), std::nullopt);
  EXPECT_EQ(in.integer("frac", r), std::nullopt);
  EXPECT_EQ(in.integer("text", r), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 4u);
  EXPECT_EQ(e.errors()[0].type, "greater_than_equal");
  EXPECT_EQ(e.errors()[1].type, "less_than_equal");
  EXPECT_EQ(e.errors()[2].type, "int_parsing");
  EXPECT_EQ(e.errors()[3].type, "int_parsing");
}

TEST(InputInteger, NumbersBeyondInt64AreRefusedNotWrapped) {
  Input in = Input::body(json_request(R"({"a":1e30,"b":-1e30,"c":9.3e18,"d":1e2})"));
  IntRule r{.min = 1, .max = 100};
  EXPECT_EQ(in.integer("a", r), std::nullopt);
  EXPECT_EQ(in.integer("b", r), std::nullopt);
  EXPECT_EQ(in.integer("c", r), std::nullopt);
  EXPECT_EQ(in.integer("d", r), std::optional<int64_t>(100));  // 1e2 is the integer 100 in JSON
  HttpError e = thrown_by([&] { in.check(); });
  EXPECT_EQ(e.errors().size(), 3u);
}

TEST(InputInteger, BoundsAreInclusive) {
  Input in = Input::body(json_request(R"({"a":1,"b":100})"));
  EXPECT_EQ(in.integer("a", IntRule{.min = 1, .max = 100}), std::optional<int64_t>(1));
  EXPECT_EQ(in.integer("b", IntRule{.min = 1, .max = 100}), std::optional<int64_t>(100));
  EXPECT_TRUE(in.ok());
}

TEST(InputInteger, QueryStringNonIntegers) {
  Request r;
  r.query = parse_urlencoded("a=12x&b=&c=1.0&d=-4");
  Input in = Input::query(r);
  EXPECT_EQ(in.integer("a"), std::nullopt);
  EXPECT_EQ(in.integer("b"), std::nullopt);
  EXPECT_EQ(in.integer("c"), std::nullopt);
  EXPECT_EQ(in.integer("d"), std::optional<int64_t>(-4));
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 3u);
  for (const auto& fe : e.errors()) EXPECT_EQ(fe.type, "int_parsing");
}

TEST(InputNumber, JsonNumbersFormDecimalsAndRange) {
  Input in = Input::body(json_request(R"({"h":1.5,"big":1e400,"s":"2","n":null,"neg":-1})"));
  EXPECT_EQ(in.number("h", 0.001, 100), std::optional<double>(1.5));
  EXPECT_EQ(in.number("n", 0.001, 100), std::nullopt);  // null: not given
  EXPECT_EQ(in.number("missing", 0.001, 100), std::nullopt);
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.number("s", 0.001, 100), std::nullopt);    // a string is not a number
  EXPECT_EQ(in.number("neg", 0.001, 100), std::nullopt);  // below the minimum
  EXPECT_EQ(in.number("required", 0.001, 100, true), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 3u);
  EXPECT_EQ(e.errors()[0].type, "float_parsing");
  EXPECT_EQ(e.errors()[1].type, "greater_than_equal");
  EXPECT_EQ(e.errors()[1].msg, "Neg must be between 0.001 and 100");
  EXPECT_EQ(e.errors()[2].type, "missing");
  Request q;
  q.query = parse_urlencoded("h=2.25&x=abc&inf=inf");
  Input qi = Input::query(q);
  EXPECT_EQ(qi.number("h", 0, 10), std::optional<double>(2.25));
  EXPECT_EQ(qi.number("x", 0, 10), std::nullopt);
  EXPECT_EQ(qi.number("inf", 0, 1e9), std::nullopt);
}

TEST(InputBoolean, JsonBooleans) {
  Input in = Input::body(json_request(R"({"t":true,"f":false,"s":"true","n":1})"));
  EXPECT_EQ(in.boolean("t"), std::optional<bool>(true));
  EXPECT_EQ(in.boolean("f"), std::optional<bool>(false));
  EXPECT_EQ(in.boolean("absent"), std::nullopt);
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.boolean("s"), std::nullopt);
  EXPECT_EQ(in.boolean("n"), std::nullopt);
  EXPECT_EQ(in.boolean("required_one", true), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 3u);
  EXPECT_EQ(e.errors()[0].type, "bool_type");
  EXPECT_EQ(e.errors()[1].type, "bool_type");
  EXPECT_EQ(e.errors()[2].type, "missing");
}

TEST(InputBoolean, QueryBooleans) {
  Request r;
  r.query = parse_urlencoded("a=true&b=0&c=YES&d=maybe");
  Input in = Input::query(r);
  EXPECT_EQ(in.boolean("a"), std::optional<bool>(true));
  EXPECT_EQ(in.boolean("b"), std::optional<bool>(false));
  EXPECT_EQ(in.boolean("c"), std::optional<bool>(true));
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.boolean("d"), std::nullopt);
  EXPECT_FALSE(in.ok());
}

// ---- uuids -------------------------------------------------------------------------------------

TEST(InputUuid, AcceptsLowercaseAndLowersUppercase) {
  Input in = Input::body(json_request(R"({"a":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","b":"1B4E28BA-2FA1-11D2-883F-0016D3CCA427"})"));
  EXPECT_EQ(in.uuid("a"), std::optional<std::string>(kUuid));
  EXPECT_EQ(in.uuid("b"), std::optional<std::string>(kUuid));
  EXPECT_EQ(in.uuid("c", false), std::nullopt);
  EXPECT_TRUE(in.ok());
}

TEST(InputUuid, MalformedIsAnError) {
  Input in = Input::body(json_request(
      R"({"a":"not-a-uuid","b":"1b4e28ba2fa111d2883f0016d3cca427","c":"1b4e28ba-2fa1-11d2-883f-0016d3cca42","d":"1b4e28ba-2fa1-11d2-883f-0016d3cca42g","e":7})"));
  EXPECT_EQ(in.uuid("a"), std::nullopt);
  EXPECT_EQ(in.uuid("b"), std::nullopt);
  EXPECT_EQ(in.uuid("c"), std::nullopt);
  EXPECT_EQ(in.uuid("d"), std::nullopt);
  EXPECT_EQ(in.uuid("e"), std::nullopt);
  EXPECT_EQ(in.uuid("missing"), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 6u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(e.errors()[i].type, "uuid_parsing") << i;
  EXPECT_EQ(e.errors()[4].type, "string_type");
  EXPECT_EQ(e.errors()[5].type, "missing");
}

TEST(InputUuidList, ValidListIsLowered) {
  Input in = Input::body(json_request(
      R"({"ids":["1B4E28BA-2FA1-11D2-883F-0016D3CCA427","00000000-0000-4000-8000-000000000000"],"none":[]})"));
  auto ids = in.uuid_list("ids");
  ASSERT_TRUE(ids.has_value());
  EXPECT_EQ(*ids, (std::vector<std::string>{kUuid, "00000000-0000-4000-8000-000000000000"}));
  auto none = in.uuid_list("none");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(in.uuid_list("absent", false), std::nullopt);
  EXPECT_TRUE(in.ok());
}

TEST(InputUuidList, ProblemsAreReported) {
  Input in = Input::body(json_request(
      R"({"bad":["1b4e28ba-2fa1-11d2-883f-0016d3cca427","nope"],"notlist":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","num":[1]})"));
  EXPECT_EQ(in.uuid_list("bad"), std::nullopt);
  EXPECT_EQ(in.uuid_list("notlist"), std::nullopt);
  EXPECT_EQ(in.uuid_list("num"), std::nullopt);
  EXPECT_EQ(in.uuid_list("absent"), std::nullopt);
  HttpError e = thrown_by([&] { in.check(); });
  ASSERT_EQ(e.errors().size(), 4u);
  EXPECT_EQ(e.errors()[0].type, "uuid_parsing");
  EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"body", "bad", "1"}));
  EXPECT_EQ(e.errors()[1].type, "list_type");
  EXPECT_EQ(e.errors()[2].type, "uuid_parsing");
  EXPECT_EQ(e.errors()[3].type, "missing");
}

// ---- check() -----------------------------------------------------------------------------------

TEST(InputCheck, ThrowsOne422ListingEveryErrorInOrderWithTheFirstAsDetail) {
  Input in = Input::body(json_request(R"({"username":"ab","email":5,"limit":0})"));
  in.string("username", StringRule{.min_chars = 3, .max_chars = 32});
  in.string("email");
  in.string("password");
  in.integer("limit", IntRule{.min = 1});
  in.add_error("custom", "Custom problem", "value_error");
  EXPECT_FALSE(in.ok());
  HttpError e = thrown_by([&] { in.check(); });
  EXPECT_EQ(e.status(), 422);
  ASSERT_EQ(e.errors().size(), 5u);
  EXPECT_EQ(e.detail(), e.errors()[0].msg);
  EXPECT_EQ(e.detail(), "Username must be at least 3 characters");
  std::vector<std::string> keys;
  std::vector<std::string> types;
  for (const auto& fe : e.errors()) {
    ASSERT_EQ(fe.loc.size(), 2u);
    EXPECT_EQ(fe.loc[0], "body");
    keys.push_back(fe.loc[1]);
    types.push_back(fe.type);
    EXPECT_FALSE(fe.msg.empty());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"username", "email", "password", "limit", "custom"}));
  EXPECT_EQ(types, (std::vector<std::string>{"string_too_short", "string_type", "missing", "greater_than_equal",
                                             "value_error"}));
  EXPECT_EQ(e.errors()[4].msg, "Custom problem");
}

TEST(InputCheck, NoErrorsNoThrow) {
  Input in = Input::body(json_request(R"({"username":"alice"})"));
  EXPECT_EQ(in.string("username"), std::optional<std::string>("alice"));
  EXPECT_TRUE(in.ok());
  EXPECT_NO_THROW(in.check());
}

// ---- UTF-8 helpers -----------------------------------------------------------------------------

TEST(Utf8, ValidStrings) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("caf\xC3\xA9"));
  EXPECT_TRUE(valid_utf8("\xE2\x82\xAC"));          // U+20AC
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));      // U+1F600
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF, the last code point
  EXPECT_TRUE(valid_utf8("\xED\x9F\xBF"));          // U+D7FF, just below the surrogates
  EXPECT_TRUE(valid_utf8("\xEE\x80\x80"));          // U+E000, just above them
  EXPECT_TRUE(valid_utf8(std::string("a\0b", 3)));  // NUL is a code point
}

TEST(Utf8, RefusesOverlongEncodings) {
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // '/' in two bytes
  EXPECT_FALSE(valid_utf8("\xC1\xBF"));
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));      // '/' in three bytes
  EXPECT_FALSE(valid_utf8("\xE0\x9F\xBF"));      // U+07FF in three bytes
  EXPECT_FALSE(valid_utf8("\xF0\x80\x80\xAF"));  // '/' in four bytes
  EXPECT_FALSE(valid_utf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in four bytes
}

TEST(Utf8, RefusesSurrogates) {
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));  // U+D800
  EXPECT_FALSE(valid_utf8("\xED\xBF\xBF"));  // U+DFFF
  EXPECT_FALSE(valid_utf8("\xED\xA0\xBD\xED\xB8\x80"));  // a CESU-8 pair
}

TEST(Utf8, RefusesTruncatedSequences) {
  EXPECT_FALSE(valid_utf8("\xC3"));
  EXPECT_FALSE(valid_utf8("caf\xC3"));
  EXPECT_FALSE(valid_utf8("\xE2\x82"));
  EXPECT_FALSE(valid_utf8("\xF0\x9F\x98"));
  EXPECT_FALSE(valid_utf8("\xF0\x9F\x98" "a"));
}

TEST(Utf8, RefusesStrayAndImpossibleBytes) {
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("a\xBF" "b"));
  EXPECT_FALSE(valid_utf8("\xFE"));
  EXPECT_FALSE(valid_utf8("\xFF"));
  EXPECT_FALSE(valid_utf8("\xF8\x88\x80\x80\x80"));  // five-byte form
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));      // U+110000
}

TEST(Utf8, LengthCountsCodePoints) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("caf\xC3\xA9"), 4u);
  EXPECT_EQ(utf8_length("\xE2\x82\xAC\xE2\x82\xAC"), 2u);
  EXPECT_EQ(utf8_length("\xF0\x9F\x98\x80!"), 2u);
}

TEST(Utf8, TruncateNeverCutsACodePoint) {
  EXPECT_EQ(utf8_truncate("abc", 5), "abc");
  EXPECT_EQ(utf8_truncate("abcdef", 3), "abc");
  EXPECT_EQ(utf8_truncate("ab\xc3\xa9", 3), "ab");             // é would be cut in two
  EXPECT_EQ(utf8_truncate("\xf0\x9f\x98\x80x", 3), "");       // so would the emoji
  EXPECT_EQ(utf8_truncate("\xf0\x9f\x98\x80x", 4), "\xf0\x9f\x98\x80");
  for (size_t n = 0; n < 12; ++n) EXPECT_TRUE(valid_utf8(utf8_truncate("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", n))) << n;
}

TEST(Labels, LabelOfAndTrim) {
  EXPECT_EQ(label_of("current_password"), "Current password");
  EXPECT_EQ(label_of("q"), "Q");
  EXPECT_EQ(trim_copy("  a b \t\n"), "a b");
  EXPECT_EQ(trim_copy("   "), "");
}

}  // namespace
}  // namespace chat::http
