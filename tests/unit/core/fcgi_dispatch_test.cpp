// Tests core/fcgi.hpp dispatch(): routing outcomes and the one place exceptions become the JSON errors of
// docs/api.md#errors.
#include "core/fcgi.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "core/config.hpp"
#include "core/db.hpp"
#include "core/redis.hpp"

namespace chat::fcgi {
namespace {

using http::Request;
using http::Response;

// What the last handler saw (handlers are plain function pointers, so they report through here).
std::string g_seen_id;
std::string g_seen_emoji;
int g_calls = 0;

Response ok_handler(Context&, Request& req) {
  ++g_calls;
  g_seen_id = req.param("id");
  g_seen_emoji = req.param("emoji");
  json::Value v = json::Value::object();
  v.set("id", req.param("id"));
  return Response::json(200, v);
}
Response created_handler(Context&, Request&) {
  ++g_calls;
  return Response::json(201, std::string(R"({"created":true})"));
}
Response no_content_handler(Context&, Request&) { return Response::no_content(); }
Response http_error_handler(Context&, Request&) {
  throw http::HttpError(401, "Not authenticated").with_header("WWW-Authenticate", "Bearer");
}
Response validation_handler(Context&, Request&) {
  http::unprocessable({{{"body", "content"}, "Content cannot be empty", "string_too_short"}});
}
Response db_lost_handler(Context&, Request&) { throw db::DbError("server closed the connection", "08006", true); }
Response db_unique_handler(Context&, Request&) {
  throw db::DbError("duplicate key value violates unique constraint", "23505", false);
}
Response db_fk_handler(Context&, Request&) { throw db::DbError("violates foreign key constraint", "23503", false); }
Response db_other_handler(Context&, Request&) { throw db::DbError("relation does not exist", "42P01", false); }
Response redis_handler(Context&, Request&) { throw redis::RedisError("could not connect to Redis"); }
Response runtime_handler(Context&, Request&) { throw std::runtime_error("secret internal detail"); }
Response logic_handler(Context&, Request&) { throw std::logic_error("no column x"); }
Response uses_redis_handler(Context& ctx, Request&) {
  // Touches the Redis client of the context: the socket does not exist, so this throws RedisError.
  ctx.redis.command({"PING"});
  return Response::json(200, std::string("{}"));
}

class DispatchTest : public ::testing::Test {
 protected:
  DispatchTest()
      : db_("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", "chat-unit-test"),
        redis_("unix:///nonexistent"),
        ctx_{config_, db_, redis_},
        router_({
            {"GET", "/api/v1/items/:id", ok_handler},
            {"PUT", "/api/v1/items/:id", ok_handler},
            {"POST", "/api/v1/items", created_handler},
            {"GET", "/api/v1/items/mine", ok_handler},
            {"POST", "/api/v1/messages/:id/reactions/:emoji", ok_handler},
            {"DELETE", "/api/v1/empty", no_content_handler},
            {"GET", "/http-error", http_error_handler},
            {"POST", "/validation", validation_handler},
            {"GET", "/db-lost", db_lost_handler},
            {"GET", "/db-unique", db_unique_handler},
            {"GET", "/db-fk", db_fk_handler},
            {"GET", "/db-other", db_other_handler},
            {"GET", "/redis", redis_handler},
            {"GET", "/runtime", runtime_handler},
            {"GET", "/logic", logic_handler},
            {"GET", "/uses-redis", uses_redis_handler},
        }) {
    g_seen_id.clear();
    g_seen_emoji.clear();
    g_calls = 0;
  }

  Response run(const char* method, const char* path) {
    Request req;
    req.method = method;
    req.path = path;
    return dispatch(ctx_, router_, req);
  }

  static std::string header(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "<absent>";
  }

  Config config_;
  db::Connection db_;
  redis::Client redis_;
  Context ctx_;
  http::Router router_;
};

TEST_F(DispatchTest, NormalReturnPassesThrough) {
  Response r = run("POST", "/api/v1/items");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"created":true})");
  EXPECT_EQ(g_calls, 1);
}

TEST_F(DispatchTest, NoContentPassesThrough) {
  Response r = run("DELETE", "/api/v1/empty/");
  EXPECT_EQ(r.status, 204);
  EXPECT_FALSE(r.has_body);
}

TEST_F(DispatchTest, CapturesReachTheHandler) {
  Response r = run("GET", "/api/v1/items/abc-123");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(g_seen_id, "abc-123");
  EXPECT_EQ(r.body, R"({"id":"abc-123"})");
  r = run("POST", "/api/v1/messages/m-9/reactions/thumbs");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(g_seen_id, "m-9");
  EXPECT_EQ(g_seen_emoji, "thumbs");
}

TEST_F(DispatchTest, LiteralRouteGetsNoCapture) {
  Response r = run("GET", "/api/v1/items/mine");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(g_seen_id, "");
}

TEST_F(DispatchTest, UnknownPathIs404NotFound) {
  Response r = run("GET", "/api/v1/nothing-here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"detail":"Not Found"})");
  EXPECT_EQ(g_calls, 0);
}

TEST_F(DispatchTest, WrongMethodIs405WithAllow) {
  Response r = run("DELETE", "/api/v1/items/abc");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, R"({"detail":"Method Not Allowed"})");
  EXPECT_EQ(header(r, "Allow"), "GET, PUT");
  EXPECT_EQ(g_calls, 0);
}

TEST_F(DispatchTest, WrongMethodOnALiteralRouteIs405) {
  Response r = run("PUT", "/api/v1/items/mine");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET");
  EXPECT_EQ(g_calls, 0);
}

TEST_F(DispatchTest, HttpErrorIsRenderedWithItsHeaders) {
  Response r = run("GET", "/http-error");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"detail":"Not authenticated"})");
  EXPECT_EQ(header(r, "WWW-Authenticate"), "Bearer");
}

TEST_F(DispatchTest, ValidationErrorIs422WithErrors) {
  Response r = run("POST", "/validation");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body,
            R"({"detail":"Content cannot be empty","errors":[{"loc":["body","content"],)"
            R"("msg":"Content cannot be empty","type":"string_too_short"}]})");
}

TEST_F(DispatchTest, LostDatabaseIs503) {
  Response r = run("GET", "/db-lost");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"detail":"Service unavailable"})");
}

TEST_F(DispatchTest, UniqueViolationIs409) {
  Response r = run("GET", "/db-unique");
  EXPECT_EQ(r.status, 409);
  auto v = json::Value::parse(r.body);
  ASSERT_TRUE(v.has_value()) << r.body;
  EXPECT_TRUE(json::as_string(json::field(v->get(), "detail")).has_value()) << r.body;
}

TEST_F(DispatchTest, ForeignKeyViolationIs404) {
  Response r = run("GET", "/db-fk");
  EXPECT_EQ(r.status, 404);
}

TEST_F(DispatchTest, OtherDatabaseErrorIs500WithoutDetails) {
  Response r = run("GET", "/db-other");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"detail":"Internal server error"})");
}

TEST_F(DispatchTest, RedisErrorIs503) {
  Response r = run("GET", "/redis");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"detail":"Service unavailable"})");
}

TEST_F(DispatchTest, UnreachableRedisIs503) {
  Response r = run("GET", "/uses-redis");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"detail":"Service unavailable"})");
}

TEST_F(DispatchTest, RuntimeErrorIs500WithoutItsMessage) {
  Response r = run("GET", "/runtime");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"detail":"Internal server error"})");
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST_F(DispatchTest, LogicErrorIs500) {
  Response r = run("GET", "/logic");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"detail":"Internal server error"})");
}

}  // namespace
}  // namespace chat::fcgi
