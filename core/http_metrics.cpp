// Request metrics: fields of the hash chat:metrics:http are "<kind>|<program>|<label>".
#include "core/http_metrics.hpp"

#include <cstdio>
#include <vector>

#include "core/log.hpp"
#include "core/stream.hpp"

namespace chat::http {
namespace {

constexpr const char* kKey = stream::kHttpMetrics;

// One round trip for every field of a flush.
constexpr const char* kAddAll =
    "for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end return 0";

std::string le_label(size_t i) {
  if (i >= RequestMetrics::kBuckets.size()) return "+Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", RequestMetrics::kBuckets[i]);
  return buf;
}

}  // namespace

void RequestMetrics::record(int status, int64_t micros) {
  std::lock_guard lock(mu_);
  ++by_status_[status];
  size_t i = 0;
  while (i < kBuckets.size() && static_cast<double>(micros) > kBuckets[i] * 1e6) ++i;
  ++buckets_[i];
  sum_us_ += micros;
  ++count_;
}

void RequestMetrics::record_round_trips(const std::string& method, const char* route, uint64_t db, uint64_t redis) {
  std::lock_guard lock(mu_);
  RouteTrips& t = routes_[method + " " + route];
  ++t.requests;
  t.db += static_cast<int64_t>(db);
  t.redis += static_cast<int64_t>(redis);
}

void RequestMetrics::flush(redis::Client& redis, bool force) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (count_ == 0 || (!force && now - last_flush_ < std::chrono::seconds(1))) return;
  last_flush_ = now;
  std::vector<std::string> args{"EVAL", kAddAll, "1", kKey};
  for (const auto& [status, n] : by_status_) {
    args.push_back("requests|" + program_ + "|" + std::to_string(status));
    args.push_back(std::to_string(n));
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i] == 0) continue;
    args.push_back("bucket|" + program_ + "|" + le_label(i));
    args.push_back(std::to_string(buckets_[i]));
  }
  args.push_back("sum_us|" + program_ + "|");
  args.push_back(std::to_string(sum_us_));
  args.push_back("count|" + program_ + "|");
  args.push_back(std::to_string(count_));
  for (const auto& [route, t] : routes_) {
    args.insert(args.end(), {"route_requests|" + program_ + "|" + route, std::to_string(t.requests),
                             "route_db|" + program_ + "|" + route, std::to_string(t.db),
                             "route_redis|" + program_ + "|" + route, std::to_string(t.redis)});
  }
  try {
    if (redis.command(args).is_error()) return;
  } catch (const redis::RedisError& e) {
    log::debug("metrics_flush_failed", {{"error", e.what()}});
    return;  // kept for the next flush
  }
  by_status_.clear();
  buckets_.fill(0);
  sum_us_ = 0;
  count_ = 0;
  routes_.clear();
}

std::string render_request_metrics(redis::Client& redis) {
  redis::Reply all = redis.command({"HGETALL", kKey});
  struct Program {
    std::map<std::string, std::string> requests;  // status -> n
    std::map<std::string, int64_t> buckets;       // le -> n (not cumulative yet)
    std::string sum_us = "0";
    std::string count = "0";
    std::map<std::string, std::array<std::string, 3>> routes;  // "METHOD pattern" -> requests, db, redis
  };
  std::map<std::string, Program> programs;
  for (size_t i = 0; i + 1 < all.size(); i += 2) {
    std::string field = all.element(i).str();
    std::string value = all.element(i + 1).str();
    auto a = field.find('|');
    auto b = field.find('|', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string kind = field.substr(0, a), program = field.substr(a + 1, b - a - 1), label = field.substr(b + 1);
    Program& p = programs[program];
    if (kind == "requests") p.requests[label] = value;
    else if (kind == "bucket") p.buckets[label] = std::stoll(value);
    else if (kind == "sum_us") p.sum_us = value;
    else if (kind == "count") p.count = value;
    else if (kind == "route_requests") p.routes[label][0] = value;
    else if (kind == "route_db") p.routes[label][1] = value;
    else if (kind == "route_redis") p.routes[label][2] = value;
  }
  std::string out =
      "# HELP chat_http_requests_total HTTP requests answered by the handlers, by program and status.\n"
      "# TYPE chat_http_requests_total counter\n";
  for (const auto& [program, p] : programs) {
    for (const auto& [status, n] : p.requests) {
      out += "chat_http_requests_total{program=\"" + program + "\",status=\"" + status + "\"} " + n + "\n";
    }
  }
  out +=
      "# HELP chat_http_request_duration_seconds Time from accept to response, by program.\n"
      "# TYPE chat_http_request_duration_seconds histogram\n";
  for (const auto& [program, p] : programs) {
    int64_t cumulative = 0;
    for (size_t i = 0; i <= RequestMetrics::kBuckets.size(); ++i) {
      auto it = p.buckets.find(le_label(i));
      if (it != p.buckets.end()) cumulative += it->second;
      out += "chat_http_request_duration_seconds_bucket{program=\"" + program + "\",le=\"" + le_label(i) + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(std::stoll(p.sum_us)) / 1e6);
    out += "chat_http_request_duration_seconds_sum{program=\"" + program + "\"} " + sum + "\n";
    out += "chat_http_request_duration_seconds_count{program=\"" + program + "\"} " + p.count + "\n";
  }
  // Per route, so that a change adding a round trip to a route shows (tests/integration/test_round_trips.py).
  const char* route_metrics[][2] = {
      {"chat_http_route_requests_total", "Requests that matched a route, by program and route."},
      {"chat_http_route_db_round_trips_total", "PostgreSQL round trips of those requests (a pipelined flight is one)."},
      {"chat_http_route_redis_round_trips_total", "Redis round trips of those requests (a pipeline is one)."}};
  for (size_t k = 0; k < 3; ++k) {
    out += std::string("# HELP ") + route_metrics[k][0] + " " + route_metrics[k][1] + "\n# TYPE " + route_metrics[k][0] +
           " counter\n";
    for (const auto& [program, p] : programs) {
      for (const auto& [route, v] : p.routes) {
        auto space = route.find(' ');
        out += std::string(route_metrics[k][0]) + "{program=\"" + program + "\",method=\"" + route.substr(0, space) +
               "\",route=\"" + route.substr(space + 1) + "\"} " + (v[k].empty() ? "0" : v[k]) + "\n";
      }
    }
  }
  return out;
}

}  // namespace chat::http
