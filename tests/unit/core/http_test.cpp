// Tests core/http.hpp: urlencoded decoding, Request helpers and the JSON shape of rendered errors.
#include "core/http.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/json.hpp"

namespace chat::http {
namespace {

TEST(ParseUrlencoded, PlusIsASpaceAndPercentIsAByte) {
  auto m = parse_urlencoded("username=alice+smith&password=p%40ss%2Bw%C3%B6rd&empty=");
  EXPECT_EQ(m["username"], "alice smith");
  EXPECT_EQ(m["password"], "p@ss+w\xC3\xB6rd");
  ASSERT_EQ(m.count("empty"), 1u);
  EXPECT_EQ(m["empty"], "");
  EXPECT_EQ(m.size(), 3u);
}

TEST(ParseUrlencoded, RepeatedKeysKeepTheFirst) {
  auto m = parse_urlencoded("q=first&q=second&limit=5&limit=6");
  EXPECT_EQ(m["q"], "first");
  EXPECT_EQ(m["limit"], "5");
  EXPECT_EQ(m.size(), 2u);
}

TEST(ParseUrlencoded, MissingEqualsIsAnEmptyValue) {
  auto m = parse_urlencoded("flag&x=1");
  ASSERT_EQ(m.count("flag"), 1u);
  EXPECT_EQ(m["flag"], "");
  EXPECT_EQ(m["x"], "1");
}

TEST(ParseUrlencoded, EmptyPairsAreSkipped) {
  auto m = parse_urlencoded("&&a=1&&b=2&");
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m["a"], "1");
  EXPECT_EQ(m["b"], "2");
  EXPECT_TRUE(parse_urlencoded("").empty());
}

TEST(ParseUrlencoded, EncodedSeparatorsStayInTheValue) {
  auto m = parse_urlencoded("k%3D=v%26w%3Dx&a%20b=c");
  EXPECT_EQ(m["k="], "v&w=x");
  EXPECT_EQ(m["a b"], "c");
  EXPECT_EQ(m.size(), 2u);
}

TEST(ParseUrlencoded, EqualsInTheValue) {
  auto m = parse_urlencoded("token=abc==");
  EXPECT_EQ(m["token"], "abc==");
}

TEST(UrlDecode, PlusOnlyInForms) {
  EXPECT_EQ(url_decode("a+b", true), "a b");
  EXPECT_EQ(url_decode("a+b", false), "a+b");
  EXPECT_EQ(url_decode("a%20b", false), "a b");
  EXPECT_EQ(url_decode("%2b", true), "+");
  EXPECT_EQ(url_decode("%e2%82%ac", false), "\xE2\x82\xAC");
}

TEST(UrlDecode, BadPercentSequencesAreKeptAsTheyAre) {
  EXPECT_EQ(url_decode("100%", false), "100%");
  EXPECT_EQ(url_decode("%4", false), "%4");
  EXPECT_EQ(url_decode("%zz", false), "%zz");
  EXPECT_EQ(url_decode("%g1x", true), "%g1x");
  EXPECT_EQ(url_decode("a%%41", false), "a%A");
  EXPECT_EQ(url_decode("%41%", false), "A%");
}

TEST(UrlDecode, DecodesAtTheVeryEnd) { EXPECT_EQ(url_decode("ab%41", false), "abA"); }

TEST(UrlDecode, DecodesNul) { EXPECT_EQ(url_decode("a%00b", false), std::string("a\0b", 3)); }

TEST(RequestHelpers, ContentTypeStripsParametersAndLowercases) {
  Request r;
  EXPECT_EQ(r.content_type(), "");
  r.headers["content-type"] = "Application/JSON; charset=UTF-8";
  EXPECT_EQ(r.content_type(), "application/json");
  r.headers["content-type"] = "  application/x-www-form-urlencoded ;charset=utf-8";
  EXPECT_EQ(r.content_type(), "application/x-www-form-urlencoded");
  r.headers["content-type"] = "text/plain";
  EXPECT_EQ(r.content_type(), "text/plain");
}

TEST(RequestHelpers, HeaderQueryAndParam) {
  Request r;
  r.headers["authorization"] = "Bearer x";
  r.query["limit"] = "10";
  r.params["id"] = "42";
  ASSERT_NE(r.header("authorization"), nullptr);
  EXPECT_EQ(*r.header("authorization"), "Bearer x");
  EXPECT_EQ(r.header("x-request-id"), nullptr);
  ASSERT_NE(r.query_param("limit"), nullptr);
  EXPECT_EQ(*r.query_param("limit"), "10");
  EXPECT_EQ(r.query_param("offset"), nullptr);
  EXPECT_EQ(r.param("id"), "42");
  EXPECT_EQ(r.param("other"), "");
}

TEST(ResponseHelpers, JsonAndNoContent) {
  json::Value v = json::Value::object();
  v.set("ok", true);
  Response r = Response::json(201, v);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_TRUE(r.has_body);
  Response n = Response::no_content();
  EXPECT_EQ(n.status, 204);
  EXPECT_FALSE(n.has_body);
  EXPECT_TRUE(n.body.empty());
}

TEST(RenderError, PlainErrorIsJustDetail) {
  Response r = render_error(HttpError(404, "User not found"));
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.has_body);
  EXPECT_EQ(r.body, R"({"detail":"User not found"})");
}

TEST(RenderError, DetailIsEscaped) {
  Response r = render_error(HttpError(400, "Bad \"name\"\n"));
  EXPECT_EQ(r.body, R"({"detail":"Bad \"name\"\n"})");
}

TEST(RenderError, HeadersAreCarried) {
  HttpError e(401, "Not authenticated");
  e.with_header("WWW-Authenticate", "Bearer");
  Response r = render_error(e);
  EXPECT_EQ(r.status, 401);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(r.headers[0].second, "Bearer");
}

TEST(RenderError, ValidationErrorListsEveryProblem) {
  HttpError e(0, "");
  try {
    unprocessable({{{"body", "content"}, "Content cannot be empty", "string_too_short"},
                   {{"body", "channel_id"}, "Channel id is required", "missing"}});
  } catch (const HttpError& thrown) {
    e = thrown;
  }
  EXPECT_EQ(e.status(), 422);
  EXPECT_EQ(e.detail(), "Content cannot be empty");
  Response r = render_error(e);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body,
            R"({"detail":"Content cannot be empty","errors":[)"
            R"({"loc":["body","content"],"msg":"Content cannot be empty","type":"string_too_short"},)"
            R"({"loc":["body","channel_id"],"msg":"Channel id is required","type":"missing"}]})");
  // The body is JSON whose detail is a string.
  auto parsed = json::Value::parse(r.body);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(json::is_string(json::field(parsed->get(), "detail")));
  EXPECT_EQ(json::array_size(json::field(parsed->get(), "errors")), 2);
}

TEST(Shorthands, ThrowTheRightStatus) {
  auto status_of = [](auto f) {
    try {
      f();
    } catch (const HttpError& e) {
      return e.status();
    }
    return 0;
  };
  EXPECT_EQ(status_of([] { not_found(); }), 404);
  EXPECT_EQ(status_of([] { forbidden("Access denied to channel"); }), 403);
  EXPECT_EQ(status_of([] { bad_request("Username already taken"); }), 400);
  EXPECT_EQ(status_of([] { fail(429, "Too many requests"); }), 429);
  try {
    not_found();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.detail(), "Not Found");
  }
}

TEST(ReasonPhrase, CommonStatuses) {
  EXPECT_STREQ(reason_phrase(200), "OK");
  EXPECT_STREQ(reason_phrase(404), "Not Found");
  EXPECT_STREQ(reason_phrase(405), "Method Not Allowed");
  EXPECT_STREQ(reason_phrase(422), "Unprocessable Entity");
  EXPECT_STREQ(reason_phrase(503), "Service Unavailable");
}

}  // namespace
}  // namespace chat::http
