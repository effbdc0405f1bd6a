// What the handlers' metrics cost, for choosing how they are recorded and written (docs/metrics.md, "Cost"):
//   record   ns per request of the recording path, 2 threads: RequestMetrics (a mutex and two small maps, flushed to
//            Redis once a second) against prometheus-cpp's own registry (a labelled Family::Add lookup per metric,
//            Counter::Increment, Histogram::Observe), which the handlers would need per request to record with it.
//   scrape   µs per /metrics page of the handlers (HGETALL of the Redis hash, parse, write the text) for a hash
//            filled as 7 groups x 2 processes x 40 routes leave it: needs a Redis of its own at REDIS_URL
//            (it overwrites the hash).
// Build against a built tree (docs/metrics.md, "Cost", builds the old page code with it for a before/after):
//   g++ -std=c++20 -O2 -I. tests/bench/metrics_cost.cpp build/core/libchat_core.a \
//       $(pkg-config --libs prometheus-cpp-core hiredis libcjson) -lpthread -o /tmp/metrics_cost
//   REDIS_URL=unix:///path/redis.sock /tmp/metrics_cost
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/http_metrics.hpp"
#include "core/redis.hpp"
#include "core/stream.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kThreads = 2;
constexpr int kPerThread = 1'000'000;
const char* kRoutes[] = {"/api/v1/messages/{id}", "/api/v1/channels/{id}/messages", "/api/v1/users/me",
                         "/api/v1/conversations/{id}/messages"};

template <typename Fn>
double ns_per_op(Fn fn) {
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&fn, t] {
      for (int i = 0; i < kPerThread; ++i) fn(t, i);
    });
  for (auto& th : threads) th.join();
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / (kThreads * kPerThread);
}

void record_bench() {
  chat::http::RequestMetrics ours("chat-messages");
  const std::string post = "POST";
  double a = ns_per_op([&](int, int i) {
    ours.record(i % 50 ? 201 : 503, 800 + i % 5000);
    ours.record_round_trips(post, kRoutes[i % 4], 5, 2);
  });

  auto registry = std::make_shared<prometheus::Registry>();
  auto& requests = prometheus::BuildCounter().Name("chat_http_requests_total").Register(*registry);
  auto& latency = prometheus::BuildHistogram().Name("chat_http_request_duration_seconds").Register(*registry);
  auto& route_requests = prometheus::BuildCounter().Name("chat_http_route_requests_total").Register(*registry);
  auto& route_db = prometheus::BuildCounter().Name("chat_http_route_db_round_trips_total").Register(*registry);
  auto& route_redis = prometheus::BuildCounter().Name("chat_http_route_redis_round_trips_total").Register(*registry);
  const prometheus::Histogram::BucketBoundaries bounds(chat::http::RequestMetrics::kBuckets.begin(),
                                                       chat::http::RequestMetrics::kBuckets.end());
  double b = ns_per_op([&](int, int i) {
    const std::string status = i % 50 ? "201" : "503";
    requests.Add({{"program", "chat-messages"}, {"status", status}}).Increment();
    latency.Add({{"program", "chat-messages"}}, bounds).Observe((800 + i % 5000) / 1e6);
    const prometheus::Labels route{{"program", "chat-messages"}, {"method", "POST"}, {"route", kRoutes[i % 4]}};
    route_requests.Add(route).Increment();
    route_db.Add(route).Increment(5);
    route_redis.Add(route).Increment(2);
  });
  std::printf("record: RequestMetrics %.0f ns/request, prometheus-cpp registry %.0f ns/request (%d threads)\n", a, b,
              kThreads);
}

void scrape_bench(const char* url) {
  chat::redis::Client redis(url);
  redis.command({"DEL", chat::stream::kHttpMetrics});
  for (const char* group : {"auth", "users", "channels", "messages", "conversations", "admin", "system"}) {
    for (int proc = 0; proc < 2; ++proc) {
      chat::http::RequestMetrics m(std::string("chat-") + group);
      for (int r = 0; r < 40; ++r) {
        for (int status : {200, 201, 404, 422}) m.record(status, 300 + r * 700);
        m.record_round_trips("GET", ("/api/v1/" + std::string(group) + "/r" + std::to_string(r)).c_str(), 2, 1);
      }
      m.flush(redis, true);
    }
  }
  auto text = [](auto page) {
    if constexpr (std::is_same_v<decltype(page), std::string>)
      return page;
    else
      return page.text();
  };
  // The best of 5 rounds: the machine is shared, and the best is the code's own cost.
  size_t bytes = 0;
  double best_us = 1e18;
  for (int round = 0; round < 5; ++round) {
    constexpr int kScrapes = 100;
    auto t0 = Clock::now();
    for (int i = 0; i < kScrapes; ++i) bytes = text(chat::http::render_request_metrics(redis)).size();
    best_us = std::min(best_us, std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / kScrapes);
  }
  std::printf("scrape: %.0f us per page of %zu bytes (HGETALL + parse + text)\n", best_us, bytes);
  redis.command({"DEL", chat::stream::kHttpMetrics});
}

}  // namespace

int main() {
  record_bench();
  if (const char* url = std::getenv("REDIS_URL"))
    scrape_bench(url);
  else
    std::puts("scrape: skipped (no REDIS_URL)");
}
