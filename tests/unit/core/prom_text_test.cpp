// Tests core/prom_text.hpp: the page prometheus-cpp writes from our families (types, label order and escaping,
// cumulative buckets, +Inf), and the mistakes it refuses.
#include "core/prom_text.hpp"

#include <gtest/gtest.h>

#include <array>
#include <stdexcept>

namespace chat::prom {
namespace {

TEST(PromPage, CountersAndGaugesWithHelpTypeAndLabelsInTheirOrder) {
  Page page;
  page.counter("chat_x_total", "Things.")
      .add(3, {{"program", "auth"}, {"status", "200"}})
      .add(0, {{"program", "a"}, {"status", "5"}});
  page.gauge("chat_y", "A level.").add(1.5);
  EXPECT_EQ(page.text(),
            "# HELP chat_x_total Things.\n"
            "# TYPE chat_x_total counter\n"
            "chat_x_total{program=\"auth\",status=\"200\"} 3\n"
            "chat_x_total{program=\"a\",status=\"5\"} 0\n"
            "# HELP chat_y A level.\n"
            "# TYPE chat_y gauge\n"
            "chat_y 1.5\n");
}

TEST(PromPage, AFamilyWithoutSamplesStillShowsItsHelpAndType) {
  Page page;
  page.counter("chat_none_total", "Nothing yet.");
  EXPECT_EQ(page.text(), "# HELP chat_none_total Nothing yet.\n# TYPE chat_none_total counter\n");
}

TEST(PromPage, LabelValuesAreEscaped) {
  Page page;
  page.gauge("chat_g", "G.").add(1, {{"route", "a\"b\\c\nd"}});
  EXPECT_NE(page.text().find("chat_g{route=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << page.text();
}

TEST(PromPage, HistogramBucketsAreCumulativeWithInfTheTotal) {
  constexpr std::array<double, 3> bounds{0.001, 0.0025, 1};
  constexpr std::array<uint64_t, 4> counts{2, 0, 3, 1};  // one above the last bound
  Page page;
  page.histogram("chat_h_seconds", "Latency.").add_histogram(bounds, counts, 4.25, {{"program", "auth"}});
  const std::string text = page.text();
  for (const char* line :
       {"# TYPE chat_h_seconds histogram\n", "chat_h_seconds_bucket{program=\"auth\",le=\"0.001\"} 2\n",
        "chat_h_seconds_bucket{program=\"auth\",le=\"0.0025\"} 2\n",
        "chat_h_seconds_bucket{program=\"auth\",le=\"1\"} 5\n",
        "chat_h_seconds_bucket{program=\"auth\",le=\"+Inf\"} 6\n", "chat_h_seconds_sum{program=\"auth\"} 4.25\n",
        "chat_h_seconds_count{program=\"auth\"} 6\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing " << line << "in\n" << text;
  }
}

TEST(PromPage, RefusesASampleOfNoFamilyOrOfTheWrongShape) {
  constexpr std::array<double, 1> bounds{1};
  constexpr std::array<uint64_t, 2> counts{1, 1};
  constexpr std::array<uint64_t, 1> short_counts{1};
  Page empty;
  EXPECT_THROW(empty.add(1), std::logic_error);
  Page counter;
  counter.counter("chat_c_total", "C.");
  EXPECT_THROW(counter.add_histogram(bounds, counts, 0), std::logic_error);
  Page histogram;
  histogram.histogram("chat_h", "H.");
  EXPECT_THROW(histogram.add(1), std::logic_error);
  EXPECT_THROW(histogram.add_histogram(bounds, short_counts, 0), std::logic_error);
}

TEST(PromPage, MetricsPathIsExact) {
  EXPECT_TRUE(is_metrics_path("/metrics"));
  EXPECT_TRUE(is_metrics_path("/metrics/"));
  EXPECT_FALSE(is_metrics_path("/metricsx"));
  EXPECT_FALSE(is_metrics_path("/"));
}

}  // namespace
}  // namespace chat::prom
