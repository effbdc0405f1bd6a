// Request metrics: fields of the hash chat:metrics:http are "<kind>|<program>|<label>".
#include "core/http_metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/log.hpp"
#include "core/stream.hpp"

namespace chat::http {
namespace {

constexpr const char* kKey = stream::kHttpMetrics;
// The hash's per-route kinds, in the order of the families of request_metrics_page.
constexpr std::string_view kRouteKinds[] = {"route_requests", "route_db", "route_redis", "route_principal_cached"};

// One round trip for every field of a flush.
constexpr const char* kAddAll =
    "for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end return 0";

// The hash's name of each bucket: its bound as "%g" ("0.001", ..., "1"), then "+Inf".
const std::array<std::string, RequestMetrics::kBuckets.size() + 1>& le_labels() {
  static const auto labels = [] {
    std::array<std::string, RequestMetrics::kBuckets.size() + 1> out;
    for (size_t i = 0; i < RequestMetrics::kBuckets.size(); ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", RequestMetrics::kBuckets[i]);
      out[i] = buf;
    }
    out.back() = "+Inf";
    return out;
  }();
  return labels;
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

void RequestMetrics::record_round_trips(const std::string& method, const char* route, uint64_t db, uint64_t redis,
                                        uint64_t principal_cached) {
  std::lock_guard lock(mu_);
  RouteTrips& t = routes_[method + " " + route];
  ++t.requests;
  t.db += static_cast<int64_t>(db);
  t.redis += static_cast<int64_t>(redis);
  t.principal_cached += static_cast<int64_t>(principal_cached);
}

std::vector<std::pair<std::string, int64_t>> RequestMetrics::pending() const {
  std::lock_guard lock(mu_);
  return pending_locked();
}

std::vector<std::pair<std::string, int64_t>> RequestMetrics::pending_locked() const {
  std::vector<std::pair<std::string, int64_t>> out;
  if (count_ == 0) return out;
  for (const auto& [status, n] : by_status_) out.emplace_back("requests|" + program_ + "|" + std::to_string(status), n);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i] != 0) out.emplace_back("bucket|" + program_ + "|" + le_labels()[i], buckets_[i]);
  }
  out.emplace_back("sum_us|" + program_ + "|", sum_us_);
  for (const auto& [route, t] : routes_) {
    const int64_t values[] = {t.requests, t.db, t.redis, t.principal_cached};
    for (size_t k = 0; k < std::size(kRouteKinds); ++k) {
      out.emplace_back(std::string(kRouteKinds[k]) + "|" + program_ + "|" + route, values[k]);
    }
  }
  return out;
}

void RequestMetrics::flush(redis::Client& redis, bool force) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (count_ == 0 || (!force && now - last_flush_ < std::chrono::seconds(1))) return;
  last_flush_ = now;
  std::vector<std::string> args{"EVAL", kAddAll, "1", kKey};
  for (auto& [field, n] : pending_locked()) {
    args.push_back(std::move(field));
    args.push_back(std::to_string(n));
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

prom::Page render_request_metrics(redis::Client& redis) {
  redis::Reply all = redis.command({"HGETALL", kKey});
  std::vector<std::pair<std::string, std::string>> fields;
  fields.reserve(all.size() / 2);
  for (size_t i = 0; i + 1 < all.size(); i += 2) fields.emplace_back(all.element(i).str(), all.element(i + 1).str());
  return request_metrics_page(fields);
}

prom::Page request_metrics_page(const std::vector<std::pair<std::string, std::string>>& fields) {
  struct Program {
    std::map<int, int64_t> requests;  // status -> n
    std::array<uint64_t, RequestMetrics::kBuckets.size() + 1> buckets{};
    int64_t sum_us = 0;
    std::map<std::string, std::array<int64_t, 4>> routes;  // "METHOD pattern" -> requests, db, redis, cached
  };
  std::map<std::string, Program> programs;
  for (const auto& [field, text] : fields) {
    auto a = field.find('|');
    auto b = field.find('|', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string kind = field.substr(0, a), program = field.substr(a + 1, b - a - 1), label = field.substr(b + 1);
    int64_t value = 0;
    try {
      value = std::stoll(text);
    } catch (const std::exception&) {
      continue;  // not ours: HINCRBY keeps every field a number
    }
    Program& p = programs[program];
    if (kind == "requests") {
      p.requests[std::atoi(label.c_str())] = value;
    } else if (kind == "bucket") {
      const auto& les = le_labels();
      auto it = std::find(les.begin(), les.end(), label);
      if (it != les.end()) p.buckets[static_cast<size_t>(it - les.begin())] = static_cast<uint64_t>(value);
    } else if (kind == "sum_us") {
      p.sum_us = value;
    } else if (auto k = std::find(std::begin(kRouteKinds), std::end(kRouteKinds), kind); k != std::end(kRouteKinds)) {
      p.routes[label][static_cast<size_t>(k - std::begin(kRouteKinds))] = value;
    }
  }
  prom::Page page;
  page.counter("chat_http_requests_total", "HTTP requests answered by the handlers, by program and status.");
  for (const auto& [program, p] : programs) {
    for (const auto& [status, n] : p.requests) {
      page.add(static_cast<double>(n), {{"program", program}, {"status", std::to_string(status)}});
    }
  }
  page.histogram("chat_http_request_duration_seconds", "Time from accept to response, by program.");
  for (const auto& [program, p] : programs) {
    page.add_histogram(RequestMetrics::kBuckets, p.buckets, static_cast<double>(p.sum_us) / 1e6, {{"program", program}});
  }
  // Per route, so that a change adding a round trip to a route shows (tests/integration/test_round_trips.py).
  const char* route_metrics[][2] = {
      {"chat_http_route_requests_total", "Requests that matched a route, by program and route."},
      {"chat_http_route_db_round_trips_total", "PostgreSQL round trips of those requests (a pipelined flight is one)."},
      {"chat_http_route_redis_round_trips_total", "Redis round trips of those requests (a pipeline is one)."},
      {"chat_http_route_principal_cached_total",
       "Those requests whose principal came from the handler's cache: one PostgreSQL round trip saved each."}};
  for (size_t k = 0; k < std::size(route_metrics); ++k) {
    page.counter(route_metrics[k][0], route_metrics[k][1]);
    for (const auto& [program, p] : programs) {
      for (const auto& [route, v] : p.routes) {
        auto space = route.find(' ');
        page.add(static_cast<double>(v[k]),
                 {{"program", program}, {"method", route.substr(0, space)}, {"route", route.substr(space + 1)}});
      }
    }
  }
  return page;
}

}  // namespace chat::http
