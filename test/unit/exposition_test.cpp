// SPDX-License-Identifier: Apache-2.0
// The metrics text formats in process (daemon/exposition.h, daemon/histogram_metric.h):
// family headers in 0.0.4 and OpenMetrics, escaping and UTF-8 repair of label values and
// help texts, exact numbers, content negotiation, and histograms whose cumulative counts
// equal a brute-force count of the recorded values. The real consumers (promtool, the
// Python parsers, a Prometheus server) read the daemon's output in test/metrics/.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "daemon/exposition.h"
#include "daemon/histogram_metric.h"
#include "ops/stats/latency_histogram.h"

namespace testrund::daemon {
namespace {

TEST_CASE("exposition: a counter, a gauge and an info family in 0.0.4", "[unit]") {
  Exposition out(ExpositionFormat::kPrometheus);
  out.Family("t_calls", MetricType::kCounter, "Calls.");
  out.Sample("_total", Labels().Add("m", "Q"), uint64_t{18446744073709551615u});
  out.Family("t_open", MetricType::kGauge, "Open now.");
  out.Sample("", Labels(), 0.5);
  out.Family("t_build", MetricType::kInfo, "Build.");
  out.Sample("_info", Labels().Add("version", "1.0"), uint64_t{1});
  out.Family("t_wait_seconds", MetricType::kHistogram, "Waits.", "seconds");
  CHECK(out.Finish() ==
        "# HELP t_calls_total Calls.\n"
        "# TYPE t_calls_total counter\n"
        "t_calls_total{m=\"Q\"} 18446744073709551615\n"
        "# HELP t_open Open now.\n"
        "# TYPE t_open gauge\n"
        "t_open 0.5\n"
        "# HELP t_build_info Build.\n"
        "# TYPE t_build_info gauge\n"
        "t_build_info{version=\"1.0\"} 1\n"
        "# HELP t_wait_seconds Waits.\n"
        "# TYPE t_wait_seconds histogram\n");
}

TEST_CASE("exposition: the same families in OpenMetrics", "[unit]") {
  Exposition out(ExpositionFormat::kOpenMetrics);
  out.Family("t_calls", MetricType::kCounter, "Calls.");
  out.Sample("_total", Labels(), uint64_t{3});
  out.Family("t_build", MetricType::kInfo, "Build.");
  out.Sample("_info", Labels().Add("version", "1.0"), uint64_t{1});
  out.Family("t_wait_seconds", MetricType::kHistogram, "Waits.", "seconds");
  CHECK(out.Finish() ==
        "# HELP t_calls Calls.\n"
        "# TYPE t_calls counter\n"
        "t_calls_total 3\n"
        "# HELP t_build Build.\n"
        "# TYPE t_build info\n"
        "t_build_info{version=\"1.0\"} 1\n"
        "# HELP t_wait_seconds Waits.\n"
        "# TYPE t_wait_seconds histogram\n"
        "# UNIT t_wait_seconds seconds\n"
        "# EOF\n");
}

TEST_CASE("exposition: label values and help texts are escaped, and repaired to UTF-8",
          "[unit]") {
  Labels labels;
  labels.Add("reason", "say \"hi\" \\ then\nnext").Add("bad", "a\xff" "b").Add("n", int64_t{-1});
  CHECK(labels.text() ==
        "reason=\"say \\\"hi\\\" \\\\ then\\nnext\",bad=\"a\xEF\xBF\xBD" "b\",n=\"-1\"");
  Exposition out(ExpositionFormat::kPrometheus);
  out.Family("t", MetricType::kGauge, "back\\slash \"quoted\"\nline");
  CHECK(out.Finish() ==
        "# HELP t back\\\\slash \"quoted\"\\nline\n"
        "# TYPE t gauge\n");
}

TEST_CASE("exposition: numbers are exact and locale-free", "[unit]") {
  CHECK(ExpositionNumber(0) == "0");
  CHECK(ExpositionNumber(0.1) == "0.1");
  CHECK(ExpositionNumber(1796558150.594878) == "1796558150.594878");
  CHECK(ExpositionNumber(1e300) == "1e+300");
  CHECK(ExpositionNumber(1.0 / 0.0) == "+Inf");
  CHECK(ExpositionNumber(-1.0 / 0.0) == "-Inf");
  CHECK(ExpositionNumber(0.0 / 0.0) == "NaN");
}

TEST_CASE("exposition: the Accept header picks the format", "[unit]") {
  CHECK(NegotiateExposition("") == ExpositionFormat::kPrometheus);
  CHECK(NegotiateExposition("text/plain;version=0.0.4") == ExpositionFormat::kPrometheus);
  CHECK(NegotiateExposition("application/openmetrics-text") == ExpositionFormat::kOpenMetrics);
  CHECK(NegotiateExposition("Application/OpenMetrics-Text; version=1.0.0,text/plain;q=0.5") ==
        ExpositionFormat::kOpenMetrics);
  CHECK(ExpositionContentType(ExpositionFormat::kPrometheus) ==
        "text/plain; version=0.0.4; charset=utf-8");
  CHECK(ExpositionContentType(ExpositionFormat::kOpenMetrics) ==
        "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

// The `le` values and counts of the `_bucket` lines of `text`.
std::vector<std::pair<std::string, uint64_t>> Buckets(const std::string& text) {
  std::vector<std::pair<std::string, uint64_t>> out;
  size_t at = 0;
  while ((at = text.find("le=\"", at)) != std::string::npos) {
    size_t end = text.find('"', at + 4);
    std::string le = text.substr(at + 4, end - at - 4);
    size_t value = text.find("} ", end) + 2;
    out.emplace_back(le, std::stoull(text.substr(value, text.find('\n', value) - value)));
    at = end;
  }
  return out;
}

TEST_CASE("histogram metric: every le counts exactly the values at or below it", "[unit]") {
  std::mt19937_64 random(11);
  std::lognormal_distribution<double> latency(15.0, 2.0);  // ~3 ms, over many octaves
  ops::LatencyHistogram h;
  std::vector<ops::MonoNs> values;
  for (int k = 0; k < 5000; ++k) {
    values.push_back(static_cast<ops::MonoNs>(latency(random)));
    h.Record(values.back());
  }
  for (ops::MonoNs edge : HistogramMetricEdges()) {  // values on and next to every edge
    for (ops::MonoNs v : {edge - 1, edge}) {
      values.push_back(v);
      h.Record(v);
    }
  }
  Exposition out(ExpositionFormat::kPrometheus);
  out.Family("t_seconds", MetricType::kHistogram, "T.", "seconds");
  WriteHistogram(out, Labels().Add("op_idx", int64_t{0}), h);
  std::string text = out.Finish();
  auto buckets = Buckets(text);
  REQUIRE(buckets.size() == HistogramMetricEdges().size() + 1);
  CHECK(HistogramMetricEdges().size() == 89);
  CHECK(buckets.front().first == "0.000016383");
  CHECK(buckets[buckets.size() - 2].first == "68.719476735");
  CHECK(buckets.back() == std::make_pair(std::string("+Inf"), uint64_t{values.size()}));
  for (size_t k = 0; k + 1 < buckets.size(); ++k) {
    ops::MonoNs at_most = HistogramMetricEdges()[k] - 1;
    INFO("le " << buckets[k].first);
    CHECK(buckets[k].second ==
          static_cast<uint64_t>(std::count_if(values.begin(), values.end(),
                                              [&](ops::MonoNs v) { return v <= at_most; })));
  }
  CHECK(text.find("t_seconds_count{op_idx=\"0\"} " + std::to_string(values.size()) + "\n") !=
        std::string::npos);
}

}  // namespace
}  // namespace testrund::daemon
