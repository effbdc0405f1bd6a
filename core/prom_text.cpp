#include "core/prom_text.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>
#include <stdexcept>

namespace chat::prom {

Page& Page::start(std::string name, std::string help, prometheus::MetricType type) {
  families_.push_back({std::move(name), std::move(help), type, {}});
  return *this;
}

Page& Page::counter(std::string name, std::string help) {
  return start(std::move(name), std::move(help), prometheus::MetricType::Counter);
}

Page& Page::gauge(std::string name, std::string help) {
  return start(std::move(name), std::move(help), prometheus::MetricType::Gauge);
}

Page& Page::histogram(std::string name, std::string help) {
  return start(std::move(name), std::move(help), prometheus::MetricType::Histogram);
}

prometheus::ClientMetric& Page::sample(const Labels& labels, prometheus::MetricType expected) {
  // A programming error (a sample before its family, or of another type): the page would be wrong, not short.
  if (families_.empty() || families_.back().type != expected)
    throw std::logic_error("prom::Page: sample of no such family");
  prometheus::ClientMetric& m = families_.back().metric.emplace_back();
  m.label.reserve(labels.size());
  for (const auto& [name, value] : labels) m.label.push_back({name, value});
  return m;
}

Page& Page::add(double value, const Labels& labels) {
  const bool counter = !families_.empty() && families_.back().type == prometheus::MetricType::Counter;
  prometheus::ClientMetric& m =
      sample(labels, counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge);
  if (counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  return *this;
}

Page& Page::add_histogram(std::span<const double> bounds, std::span<const uint64_t> counts, double sum,
                          const Labels& labels) {
  if (counts.size() != bounds.size() + 1) throw std::logic_error("prom::Page: a histogram needs bounds + 1 counts");
  prometheus::ClientMetric& m = sample(labels, prometheus::MetricType::Histogram);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += counts[i];
    m.histogram.bucket.push_back({cumulative, bounds[i]});
  }
  m.histogram.sample_count = cumulative + counts.back();  // the serializer writes it as the +Inf bucket
  m.histogram.sample_sum = sum;
  return *this;
}

std::string Page::text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families_);
  return out.str();
}

}  // namespace chat::prom
