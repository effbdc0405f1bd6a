// Tests core/http_metrics.hpp without Redis: what two processes of one program flush, added up field by field as
// HINCRBY does in the hash, is one program's figures on the page (the sum across processes /metrics shows).
#include "core/http_metrics.hpp"

#include <gtest/gtest.h>

#include <map>

namespace chat::http {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// The hash after every process's flush (HINCRBY of each field).
Fields hash_of(std::initializer_list<const RequestMetrics*> processes) {
  std::map<std::string, int64_t> hash;
  for (const auto* p : processes) {
    for (const auto& [field, n] : p->pending()) hash[field] += n;
  }
  Fields out;
  for (const auto& [field, n] : hash) out.emplace_back(field, std::to_string(n));
  return out;
}

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(RequestMetrics, NothingRecordedIsNothingToFlush) {
  RequestMetrics m("chat-auth");
  EXPECT_TRUE(m.pending().empty());
}

TEST(RequestMetrics, ThePageSumsTheProcessesOfAProgram) {
  RequestMetrics a("chat-auth"), b("chat-auth"), other("chat-users");
  a.record(200, 800);   // 0.8 ms: le 0.001
  a.record(200, 3000);  // 3 ms: le 0.005
  b.record(200, 900);
  b.record(503, 2'000'000);  // 2 s: +Inf only
  other.record(404, 100);
  a.record_round_trips("POST", "/api/v1/auth/login", 2, 1);
  b.record_round_trips("POST", "/api/v1/auth/login", 2, 0);
  a.record_round_trips("GET", "/api/v1/auth/me", 1, 0, 1);

  const std::string text = request_metrics_page(hash_of({&a, &b, &other})).text();
  EXPECT_TRUE(has(text, "chat_http_requests_total{program=\"chat-auth\",status=\"200\"} 3")) << text;
  EXPECT_TRUE(has(text, "chat_http_requests_total{program=\"chat-auth\",status=\"503\"} 1")) << text;
  EXPECT_TRUE(has(text, "chat_http_requests_total{program=\"chat-users\",status=\"404\"} 1")) << text;
  EXPECT_TRUE(has(text, "chat_http_request_duration_seconds_bucket{program=\"chat-auth\",le=\"0.001\"} 2")) << text;
  EXPECT_TRUE(has(text, "chat_http_request_duration_seconds_bucket{program=\"chat-auth\",le=\"0.005\"} 3")) << text;
  EXPECT_TRUE(has(text, "chat_http_request_duration_seconds_bucket{program=\"chat-auth\",le=\"1\"} 3")) << text;
  EXPECT_TRUE(has(text, "chat_http_request_duration_seconds_bucket{program=\"chat-auth\",le=\"+Inf\"} 4")) << text;
  EXPECT_TRUE(has(text, "chat_http_request_duration_seconds_count{program=\"chat-auth\"} 4")) << text;
  EXPECT_TRUE(has(text, "chat_http_request_duration_seconds_sum{program=\"chat-auth\"} 2.0047")) << text;
  EXPECT_TRUE(
      has(text, "chat_http_route_requests_total{program=\"chat-auth\",method=\"POST\",route=\"/api/v1/auth/login\"} 2"))
      << text;
  EXPECT_TRUE(
      has(text,
          "chat_http_route_db_round_trips_total{program=\"chat-auth\",method=\"POST\",route=\"/api/v1/auth/login\"} 4"))
      << text;
  EXPECT_TRUE(has(
      text,
      "chat_http_route_redis_round_trips_total{program=\"chat-auth\",method=\"POST\",route=\"/api/v1/auth/login\"} 1"))
      << text;
  EXPECT_TRUE(has(
      text, "chat_http_route_principal_cached_total{program=\"chat-auth\",method=\"GET\",route=\"/api/v1/auth/me\"} 1"))
      << text;
  EXPECT_TRUE(has(
      text,
      "chat_http_route_principal_cached_total{program=\"chat-auth\",method=\"POST\",route=\"/api/v1/auth/login\"} 0"))
      << text;
}

TEST(RequestMetrics, AnEmptyHashStillNamesEveryFamily) {
  const std::string text = request_metrics_page({}).text();
  for (const char* family : {"chat_http_requests_total counter", "chat_http_request_duration_seconds histogram",
                             "chat_http_route_requests_total counter", "chat_http_route_db_round_trips_total counter",
                             "chat_http_route_redis_round_trips_total counter",
                             "chat_http_route_principal_cached_total counter"}) {
    EXPECT_TRUE(has(text, std::string("# TYPE ") + family)) << text;
  }
}

TEST(RequestMetrics, FieldsThatAreNotOursAreSkipped) {
  const std::string text =
      request_metrics_page({{"nonsense", "1"}, {"requests|chat-auth|200", "x"}, {"requests|chat-auth|201", "7"}})
          .text();
  EXPECT_TRUE(has(text, "chat_http_requests_total{program=\"chat-auth\",status=\"201\"} 7")) << text;
  EXPECT_EQ(text.find("status=\"200\""), std::string::npos) << text;
}

}  // namespace
}  // namespace chat::http
