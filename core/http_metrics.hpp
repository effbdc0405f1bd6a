// Request counters and latency histograms of the FastCGI handlers, kept per process and added to a
// Redis hash once a second by the process's flusher thread, so /metrics sees every process without a
// round trip per request, and an idle process's last requests are not held back until its next one.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/prom_text.hpp"
#include "core/redis.hpp"

namespace chat::http {

class RequestMetrics {
 public:
  // Upper bounds of the latency histogram, in seconds (Prometheus `le`).
  static constexpr std::array<double, 10> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

  explicit RequestMetrics(std::string program) : program_(std::move(program)) {}

  // Thread-safe: every handler thread of the process records here.
  void record(int status, int64_t micros);
  // The PostgreSQL and Redis round trips one request of a route took (its answer's, not the metrics').
  // `principal_cached`: 1 when its principal came from the cache, which saved the principal's round trip.
  void record_round_trips(const std::string& method, const char* route, uint64_t db, uint64_t redis,
                          uint64_t principal_cached = 0);
  // Adds what was recorded to Redis when a second has passed (or `force`); keeps it on failure.
  void flush(redis::Client& redis, bool force = false);
  // The hash fields and increments the next flush adds (what was recorded since the last one).
  std::vector<std::pair<std::string, int64_t>> pending() const;

 private:
  std::vector<std::pair<std::string, int64_t>> pending_locked() const;

  std::string program_;
  mutable std::mutex mu_;  // held by flush() for its one Redis round trip a second: the recorders barely wait
  std::map<int, int64_t> by_status_;
  std::array<int64_t, kBuckets.size() + 1> buckets_{};  // the last one is +Inf
  int64_t sum_us_ = 0;
  int64_t count_ = 0;
  struct RouteTrips {
    int64_t requests = 0, db = 0, redis = 0, principal_cached = 0;
  };
  std::map<std::string, RouteTrips> routes_;  // "METHOD pattern"
  std::chrono::steady_clock::time_point last_flush_ = std::chrono::steady_clock::now();
};

// The Prometheus families of every handler's request metrics, summed over the processes of each program (chat_http_requests_total,
// chat_http_request_duration_seconds, and per route chat_http_route_requests_total with the round trips
// chat_http_route_db_round_trips_total / chat_http_route_redis_round_trips_total) from the Redis hash.
// Throws RedisError.
prom::Page render_request_metrics(redis::Client& redis);
// The same from the hash's fields and values (HGETALL's pairs): the sum over processes is HINCRBY's.
prom::Page request_metrics_page(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace chat::http
