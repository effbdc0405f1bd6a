// Tests realtime/upgrade_stage.hpp: the refusals of docs/api.md#connecting in their order, the token hand-off, and the
// admission of an authenticated upgrade (its own refusal, racing revocations, a shutdown).
#include "realtime/upgrade_stage.hpp"

#include <gtest/gtest.h>

#include <string>

namespace chat::realtime {
namespace {

using Kind = RequestStep::Kind;

ws::Request get(const std::string& target, bool upgrade = true) {
  ws::Request r;
  r.method = "GET";
  r.target = target;
  r.version = "HTTP/1.1";
  r.headers["host"] = "chat.example";
  if (upgrade) {
    r.headers["upgrade"] = "websocket";
    r.headers["connection"] = "Upgrade";
    r.headers["sec-websocket-version"] = "13";
    r.headers["sec-websocket-key"] = "dGhlIHNhbXBsZSBub25jZQ==";
  }
  return r;
}

Config config_allowing(const std::string& origin) {
  Config c;
  c.cors_origins = {origin};
  return c;
}

const std::string* header(const ws::HeaderList& headers, const std::string& name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

class RequestStepTest : public ::testing::Test {
 protected:
  Config config = config_allowing("http://allowed.example");
};

TEST_F(RequestStepTest, AValidUpgradeWithATokenGoesToTheWorker) {
  RequestStep s = request_step(get("/ws?token=abc&last_event_id=5-0"), config, false);
  ASSERT_EQ(s.kind, Kind::kAuthenticate);
  EXPECT_EQ(s.token, "abc");
  EXPECT_EQ(s.accept_key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") << "RFC 6455 §1.3's example key";
  ASSERT_TRUE(s.last_event_id);
  EXPECT_EQ(*s.last_event_id, "5-0");
  EXPECT_EQ(request_step(get("/ws/?token=abc"), config, false).kind, Kind::kAuthenticate);
  EXPECT_FALSE(request_step(get("/ws?token=abc"), config, false).last_event_id);
}

TEST_F(RequestStepTest, MetricsIsPlainHttpAndGetOnly) {
  EXPECT_EQ(request_step(get("/metrics", false), config, false).kind, Kind::kMetrics);
  EXPECT_EQ(request_step(get("/metrics/", false), config, false).kind, Kind::kMetrics);
  ws::Request post = get("/metrics", false);
  post.method = "POST";
  RequestStep s = request_step(post, config, false);
  EXPECT_EQ(s.kind, Kind::kPlain);
  EXPECT_EQ(s.refusal.status, 405);
  ASSERT_TRUE(header(s.refusal.headers, "Allow"));
  EXPECT_EQ(*header(s.refusal.headers, "Allow"), "GET");
}

TEST_F(RequestStepTest, OtherPathsAre404PlainOrRefusedUpgrades) {
  RequestStep plain = request_step(get("/other", false), config, false);
  EXPECT_EQ(plain.kind, Kind::kPlain);
  EXPECT_EQ(plain.refusal.status, 404);
  RequestStep upgrade = request_step(get("/other?token=abc"), config, false);
  EXPECT_EQ(upgrade.kind, Kind::kRefuse) << "an upgrade elsewhere is counted as a refused upgrade";
  EXPECT_EQ(upgrade.refusal.status, 404);
}

TEST_F(RequestStepTest, TheWsPathWithoutUpgradeHeadersIsABadUpgrade) {
  RequestStep s = request_step(get("/ws?token=abc", false), config, false);
  EXPECT_EQ(s.kind, Kind::kRefuse);
  EXPECT_EQ(s.refusal.status, 400);
}

TEST_F(RequestStepTest, ABadUpgradeComesBeforeTheOriginAndTheToken) {
  ws::Request r = get("/ws");  // no token
  r.headers["origin"] = "http://evil.example";
  r.headers["sec-websocket-version"] = "8";
  RequestStep s = request_step(r, config, false);
  EXPECT_EQ(s.refusal.status, 426);
  ASSERT_TRUE(header(s.refusal.headers, "Sec-WebSocket-Version"));
}

TEST_F(RequestStepTest, TheOriginComesBeforeTheToken) {
  ws::Request r = get("/ws");
  r.headers["origin"] = "http://evil.example";
  RequestStep s = request_step(r, config, false);
  EXPECT_EQ(s.kind, Kind::kRefuse);
  EXPECT_EQ(s.refusal.status, 403);
  EXPECT_EQ(s.refusal.detail, "Origin not allowed");
  r.headers["origin"] = "http://allowed.example";
  r.target = "/ws?token=abc";
  EXPECT_EQ(request_step(r, config, false).kind, Kind::kAuthenticate);
}

TEST_F(RequestStepTest, NoTokenIs401WithBearer) {
  for (const char* target : {"/ws", "/ws?token=", "/ws?last_event_id=1-0"}) {
    RequestStep s = request_step(get(target), config, false);
    EXPECT_EQ(s.kind, Kind::kRefuse) << target;
    EXPECT_EQ(s.refusal.status, 401) << target;
    EXPECT_EQ(s.refusal.detail, "Not authenticated");
    ASSERT_TRUE(header(s.refusal.headers, "WWW-Authenticate"));
    EXPECT_EQ(*header(s.refusal.headers, "WWW-Authenticate"), "Bearer");
  }
}

TEST_F(RequestStepTest, ShuttingDownRefusesOnlyWhatWouldOtherwiseBeAuthenticated) {
  RequestStep s = request_step(get("/ws?token=abc"), config, true);
  EXPECT_EQ(s.kind, Kind::kRefuse);
  EXPECT_EQ(s.refusal.status, 503);
  EXPECT_EQ(request_step(get("/ws"), config, true).refusal.status, 401);
  EXPECT_EQ(request_step(get("/metrics", false), config, true).kind, Kind::kMetrics);
}

constexpr int64_t kT = 1'800'000'000'000;

AuthResult authenticated(const std::string& session = "s1", const std::string& user = "u1", int64_t created = kT - 1) {
  AuthResult r;
  r.user_id = user;
  r.session_id = session;
  r.session_created_ms = created;
  return r;
}

TEST(Admission, AnAuthenticatedUpgradeOpens) {
  Revocations rev;
  EXPECT_FALSE(admission(authenticated(), rev, false, kT));
}

TEST(Admission, TheWorkersRefusalStandsWith401Bearer) {
  Revocations rev;
  AuthResult r;
  r.status = 401;
  r.detail = "Could not validate credentials";
  auto refusal = admission(r, rev, false, kT);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 401);
  EXPECT_EQ(refusal->detail, "Could not validate credentials");
  ASSERT_TRUE(header(refusal->headers, "WWW-Authenticate"));

  r.status = 403;
  r.detail = "Inactive user";
  refusal = admission(r, rev, true, kT);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 403) << "the worker's answer before the shutdown";
  EXPECT_FALSE(header(refusal->headers, "WWW-Authenticate"));
}

TEST(Admission, ASessionRevokedWhileTheWorkerCheckedIs401) {
  Revocations rev;
  rev.revoke_session("s1", kT);
  auto refusal = admission(authenticated("s1"), rev, false, kT + 10);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 401);
  EXPECT_EQ(refusal->detail, "Could not validate credentials");
  EXPECT_TRUE(header(refusal->headers, "WWW-Authenticate"));
}

TEST(Admission, ARevokeAllWhileTheWorkerCheckedIs403ForOlderSessionsOnly) {
  Revocations rev;
  rev.revoke_user("u1", kT);
  auto refusal = admission(authenticated("s1", "u1", kT - 1), rev, false, kT + 10);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 403);
  EXPECT_EQ(refusal->detail, "Inactive user");
  EXPECT_FALSE(admission(authenticated("s2", "u1", kT + 1), rev, false, kT + 10));
}

TEST(Admission, ShuttingDownRefusesWith503) {
  Revocations rev;
  auto refusal = admission(authenticated(), rev, true, kT);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 503);
  EXPECT_EQ(refusal->detail, "Service unavailable");
}

TEST(RequestFacts, RequestIdIsNginxsWhenSane) {
  ws::Request r = get("/ws");
  r.headers["x-request-id"] = "abc-123.4:5";
  EXPECT_EQ(request_id_of(r), "abc-123.4:5");
  r.headers["x-request-id"] = "has space";
  EXPECT_NE(request_id_of(r), "has space");
  EXPECT_EQ(request_id_of(r).size(), 36u) << "a fresh UUID";
  r.headers["x-request-id"] = std::string(129, 'a');
  EXPECT_EQ(request_id_of(r).size(), 36u);
}

TEST(RequestFacts, PeerIpIsXRealIpWhenPresent) {
  ws::Request r = get("/ws");
  EXPECT_EQ(peer_ip_of(r, "unix"), "unix");
  r.headers["x-real-ip"] = "203.0.113.7";
  EXPECT_EQ(peer_ip_of(r, "unix"), "203.0.113.7");
  r.headers["x-real-ip"] = std::string(64, '1');
  EXPECT_EQ(peer_ip_of(r, "10.0.0.1"), "10.0.0.1");
}

TEST(RequestFacts, DetailBodyIsApiJson) {
  EXPECT_EQ(detail_body("Not \"Found\""), R"({"detail":"Not \"Found\""})");
}

}  // namespace
}  // namespace chat::realtime
