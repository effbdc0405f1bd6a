// Tests core/router.hpp: captures, literal-over-capture precedence, 404, 405 with Allow, slash normalization and the root route.
#include "core/router.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/context.hpp"

namespace chat::http {
namespace {

// Each handler is a distinct function so a match can be identified by its pointer.
Response h_users_list(Context&, Request&) { return Response::json(200, std::string("list")); }
Response h_users_create(Context&, Request&) { return Response::json(201, std::string("create")); }
Response h_user_get(Context&, Request&) { return Response::json(200, std::string("get")); }
Response h_user_put(Context&, Request&) { return Response::json(200, std::string("put")); }
Response h_user_patch(Context&, Request&) { return Response::json(200, std::string("patch")); }
Response h_me(Context&, Request&) { return Response::json(200, std::string("me")); }
Response h_search_query(Context&, Request&) { return Response::json(200, std::string("search-q")); }
Response h_message(Context&, Request&) { return Response::json(200, std::string("message")); }
Response h_reaction(Context&, Request&) { return Response::json(200, std::string("reaction")); }
Response h_root(Context&, Request&) { return Response::json(200, std::string("root")); }
Response h_health(Context&, Request&) { return Response::json(200, std::string("health")); }

Router make_router() {
  return Router({
      {"GET", "/", h_root},
      {"GET", "/health", h_health},
      {"GET", "/api/v1/users", h_users_list},
      {"POST", "/api/v1/users", h_users_create},
      {"GET", "/api/v1/users/me", h_me},
      {"GET", "/api/v1/users/:id", h_user_get},
      {"PUT", "/api/v1/users/:id", h_user_put},
      {"PATCH", "/api/v1/users/:id", h_user_patch},
      {"GET", "/api/v1/users/search/:query", h_search_query},
      {"GET", "/api/v1/channels/:channel_id/messages/:message_id", h_message},
      {"POST", "/api/v1/messages/:id/reactions/:emoji", h_reaction},
  });
}

TEST(Router, FindsAnExactLiteralRoute) {
  Router r = make_router();
  Match m = r.match("GET", "/api/v1/users");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_users_list);
  EXPECT_TRUE(m.params.empty());
  m = r.match("POST", "/api/v1/users");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_users_create);
}

TEST(Router, CapturesASegment) {
  Router r = make_router();
  Match m = r.match("GET", "/api/v1/users/1b4e28ba-2fa1-11d2-883f-0016d3cca427");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_user_get);
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
}

TEST(Router, CapturesSeveralSegmentsInOrder) {
  Router r = make_router();
  Match m = r.match("GET", "/api/v1/channels/c-1/messages/m-2");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_message);
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>{"channel_id", "c-1"}));
  EXPECT_EQ(m.params[1], (std::pair<std::string, std::string>{"message_id", "m-2"}));
}

TEST(Router, LiteralSegmentBeatsACapture) {
  Router r = make_router();
  Match m = r.match("GET", "/api/v1/users/me");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_me);
  EXPECT_TRUE(m.params.empty());
}

TEST(Router, LiteralBeatsCaptureWhateverTheTableOrder) {
  Router r({{"GET", "/users/:id", h_user_get}, {"GET", "/users/me", h_me}});
  EXPECT_EQ(r.match("GET", "/users/me").handler, &h_me);
  EXPECT_EQ(r.match("GET", "/users/42").handler, &h_user_get);
  Router r2({{"GET", "/users/me", h_me}, {"GET", "/users/:id", h_user_get}});
  EXPECT_EQ(r2.match("GET", "/users/me").handler, &h_me);
  EXPECT_EQ(r2.match("GET", "/users/42").handler, &h_user_get);
}

TEST(Router, LeftmostLiteralDecides) {
  Router r({{"GET", "/a/:x/c", h_user_get}, {"GET", "/:y/b/c", h_me}});
  Match m = r.match("GET", "/a/b/c");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_user_get);
}

TEST(Router, UnknownPathIsNotFound) {
  Router r = make_router();
  EXPECT_EQ(r.match("GET", "/api/v1/nothing").kind, Match::Kind::kNotFound);
  EXPECT_EQ(r.match("GET", "/api/v1/users/a/b/c").kind, Match::Kind::kNotFound);
  EXPECT_EQ(r.match("GET", "/api").kind, Match::Kind::kNotFound);
  EXPECT_EQ(r.match("DELETE", "/api/v1/nothing").kind, Match::Kind::kNotFound);
  EXPECT_EQ(r.match("GET", "/api/v1/users/search/a/b").kind, Match::Kind::kNotFound);
}

TEST(Router, WrongMethodIsMethodNotAllowedWithEveryMethodOfTheWinningPattern) {
  Router r = make_router();
  Match m = r.match("DELETE", "/api/v1/users/42");
  ASSERT_EQ(m.kind, Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allow, "GET, PUT, PATCH");
  m = r.match("DELETE", "/api/v1/users");
  ASSERT_EQ(m.kind, Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(Router, WrongMethodOnALiteralRouteIsNotRoutedToTheCapture) {
  Router r = make_router();
  // PUT /users/:id exists, but /users/me is a literal route that only has GET.
  Match m = r.match("PUT", "/api/v1/users/me");
  ASSERT_EQ(m.kind, Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET");
  EXPECT_EQ(r.match("PATCH", "/api/v1/users/me").kind, Match::Kind::kMethodNotAllowed);
}

TEST(Router, MethodIsCaseSensitive) {
  Router r = make_router();
  EXPECT_EQ(r.match("get", "/health").kind, Match::Kind::kMethodNotAllowed);
}

TEST(Router, TrailingSlashIsTheSameRoute) {
  Router r = make_router();
  EXPECT_EQ(r.match("GET", "/api/v1/users/").handler, &h_users_list);
  Match m = r.match("GET", "/api/v1/users/42/");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_user_get);
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].second, "42");
  EXPECT_EQ(r.match("GET", "/api/v1/users/me/").handler, &h_me);
}

TEST(Router, DoubledSlashesAreIgnored) {
  Router r = make_router();
  EXPECT_EQ(r.match("GET", "//api//v1///users").handler, &h_users_list);
  Match m = r.match("GET", "/api/v1/users//7");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_user_get);
  EXPECT_EQ(m.params[0].second, "7");
}

TEST(Router, TrailingSlashInThePatternDoesNotMatter) {
  Router r({{"GET", "/api/v1/users/", h_users_list}});
  EXPECT_EQ(r.match("GET", "/api/v1/users").handler, &h_users_list);
  EXPECT_EQ(r.match("GET", "/api/v1/users/").handler, &h_users_list);
}

TEST(Router, RootRoute) {
  Router r = make_router();
  EXPECT_EQ(r.match("GET", "/").handler, &h_root);
  EXPECT_EQ(r.match("GET", "").handler, &h_root);
  EXPECT_EQ(r.match("GET", "//").handler, &h_root);
  Match m = r.match("POST", "/");
  ASSERT_EQ(m.kind, Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET");
}

TEST(Router, NoRootRouteMeansRootIsNotFound) {
  Router r({{"GET", "/health", h_health}});
  EXPECT_EQ(r.match("GET", "/").kind, Match::Kind::kNotFound);
}

TEST(Router, CaptureValueIsTakenVerbatim) {
  Router r = make_router();
  Match m = r.match("GET", "/api/v1/users/search/Al%20ice");
  ASSERT_EQ(m.kind, Match::Kind::kFound);
  EXPECT_EQ(m.handler, &h_search_query);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>{"query", "Al%20ice"}));
}

TEST(Router, DuplicateMethodsAreListedOnce) {
  Router r({{"GET", "/x", h_root}, {"GET", "/x", h_health}, {"POST", "/x", h_me}});
  Match m = r.match("DELETE", "/x");
  ASSERT_EQ(m.kind, Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, POST");
  EXPECT_EQ(r.match("GET", "/x").handler, &h_root);  // the first row wins
}

TEST(RouteTable, OpenApiPathsAreThePathsTheRouterReads) {
  EXPECT_EQ(openapi_path("/api/v1/users/:id"), "/api/v1/users/{id}");
  EXPECT_EQ(openapi_path("/api/v1/channels/:id/members/:user_id/"), "/api/v1/channels/{id}/members/{user_id}");
  EXPECT_EQ(openapi_path("/api/v1//users/"), "/api/v1/users");
  EXPECT_EQ(openapi_path("/"), "/");
}

TEST(RouteTable, JsonListsEveryRowInTableOrder) {
  EXPECT_EQ(routes_json({{"GET", "/", h_root}, {"PUT", "/api/v1/users/:id", h_user_put}, {"GET", "/health/", h_health}}),
            R"([{"method":"GET","path":"/"},{"method":"PUT","path":"/api/v1/users/{id}"},)"
            R"({"method":"GET","path":"/health"}])");
  EXPECT_EQ(routes_json({}), "[]");
}

TEST(SplitPath, DropsEmptySegments) {
  EXPECT_EQ(split_path("/a//b/"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_TRUE(split_path("/").empty());
  EXPECT_TRUE(split_path("").empty());
  EXPECT_EQ(split_path("a"), (std::vector<std::string_view>{"a"}));
}

}  // namespace
}  // namespace chat::http
