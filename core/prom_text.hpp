// The Prometheus text exposition (format 0.0.4) of every /metrics page: the handlers' (aggregated across
// processes from Redis), each realtime daemon's and each worker's. The families are built here and written by
// prometheus-cpp's TextSerializer, which owns the format's details (HELP/TYPE lines, label escaping, number
// formatting, cumulative histogram buckets and +Inf). The values themselves are recorded by each program's
// own cheap counters (a registry's labelled lookup on every request would cost more than the request's
// recording does now, and it could not hand the per-process deltas to Redis): this is only the last step.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chat::prom {

// Content-Type of a /metrics answer.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Where every program of ours serves its page: /metrics (and /metrics/), without the query string.
inline bool is_metrics_path(std::string_view path) { return path == "/metrics" || path == "/metrics/"; }

// Label name, value: in the order given (the order the page shows them).
using Labels = std::vector<std::pair<std::string, std::string>>;

class Page {
 public:
  // Starts a family; the samples added next belong to it. A family without samples still shows its HELP and
  // TYPE, so that a scrape sees the metric exists before anything happened.
  Page& counter(std::string name, std::string help);
  Page& gauge(std::string name, std::string help);
  Page& histogram(std::string name, std::string help);

  // A sample of the current counter or gauge family.
  Page& add(double value, const Labels& labels = {});
  // A sample of the current histogram family: `counts` has one count per bound (observations above the
  // previous bound and up to this one, not cumulative) and one more for those above the last (+Inf);
  // the sample count is their total.
  Page& add_histogram(std::span<const double> bounds, std::span<const uint64_t> counts, double sum,
                      const Labels& labels = {});

  std::string text() const;

 private:
  Page& start(std::string name, std::string help, prometheus::MetricType type);
  prometheus::ClientMetric& sample(const Labels& labels, prometheus::MetricType expected);

  std::vector<prometheus::MetricFamily> families_;
};

}  // namespace chat::prom
