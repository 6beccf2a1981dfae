// SPDX-License-Identifier: Apache-2.0
// Thresholds: reading ExecuteTest's `thresholds`, measuring and judging them (threshold.h).
#include "ops/stats/threshold.h"

#include <array>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "ops/base/clock.h"
#include "ops/stats/run_snapshot.h"

namespace testrund::ops {
namespace {

struct MetricSpec {
  ThresholdMetric metric;
  std::string_view name;
  double quantile;  // latency quantiles; 0 for the others
};

constexpr std::array<MetricSpec, 11> kMetrics = {{
    {ThresholdMetric::kFailedRatio, "failed_ratio", 0},
    {ThresholdMetric::kAbortedRatio, "aborted_ratio", 0},
    {ThresholdMetric::kLateRatio, "late_ratio", 0},
    {ThresholdMetric::kStartedRate, "started_rate", 0},
    {ThresholdMetric::kLatencyP50, "latency_p50", 0.5},
    {ThresholdMetric::kLatencyP90, "latency_p90", 0.9},
    {ThresholdMetric::kLatencyP95, "latency_p95", 0.95},
    {ThresholdMetric::kLatencyP99, "latency_p99", 0.99},
    {ThresholdMetric::kLatencyP999, "latency_p999", 0.999},
    {ThresholdMetric::kLatencyMax, "latency_max", 1.0},
    {ThresholdMetric::kLatencyMean, "latency_mean", 0},
}};

const MetricSpec& SpecOf(ThresholdMetric metric) {
  return kMetrics[static_cast<size_t>(metric)];
}

std::string MetricNames() {
  std::string names;
  for (const MetricSpec& m : kMetrics) {
    names += names.empty() ? "one of " : ", ";
    names += fmt::format("\"{}\"", m.name);
  }
  return names;
}

std::optional<ThresholdMetric> ReadMetric(ParamReader& p) {
  const rapidjson::Value* value = p.Get("metric");
  if (value == nullptr) {
    p.Missing("metric");
    return std::nullopt;
  }
  if (value->IsString()) {
    std::string_view name(value->GetString(), value->GetStringLength());
    for (const MetricSpec& m : kMetrics) {
      if (m.name == name) return m.metric;
    }
  }
  p.WrongType("metric", MetricNames(), *value);
  return std::nullopt;
}

// op_idx: required for a latency metric, naming an operation that records latencies;
// refused otherwise.
void ReadOpIdx(ParamReader& p, ThresholdMetric metric, const std::vector<bool>& latency_ops,
               Threshold* t) {
  if (!IsLatencyMetric(metric)) {
    if (p.Get("op_idx") != nullptr) {
      p.AddProblem("op_idx", fmt::format("applies only to the latency metrics, not \"{}\"",
                                         ThresholdMetricName(metric)));
    }
    return;
  }
  if (p.Get("op_idx") == nullptr) {
    p.AddProblem("op_idx", fmt::format("is required for \"{}\" (the op whose latency it bounds)",
                                       ThresholdMetricName(metric)));
    return;
  }
  int64_t last = latency_ops.empty() ? 0 : static_cast<int64_t>(latency_ops.size()) - 1;
  std::optional<int64_t> op_idx = p.OptionalInt("op_idx", {.min = 0, .max = last});
  if (!op_idx || static_cast<size_t>(*op_idx) >= latency_ops.size()) return;
  if (!latency_ops[*op_idx]) {
    p.AddProblem("op_idx", fmt::format("names op {}, which records no latency (protocol ops "
                                       "and wait do)", *op_idx));
    return;
  }
  t->op_idx = static_cast<int>(*op_idx);
}

// max / min: at least one, each >= 0 (every metric is a ratio, a rate or seconds), a ratio's
// at most 1, and min <= max.
void ReadBounds(ParamReader& p, ThresholdMetric metric, Threshold* t) {
  bool ratio = metric == ThresholdMetric::kFailedRatio ||
               metric == ThresholdMetric::kAbortedRatio || metric == ThresholdMetric::kLateRatio;
  NumberRange range{.min = 0, .max = ratio ? 1.0 : std::numeric_limits<double>::max()};
  t->max = p.OptionalNumber("max", range);
  t->min = p.OptionalNumber("min", range);
  if (p.Get("max") == nullptr && p.Get("min") == nullptr) {
    p.AddProblem("", "needs a bound: \"max\", \"min\" or both");
  } else if (t->max && t->min && *t->min > *t->max) {
    p.AddProblem("min", fmt::format("must not be above max ({}), got {}", *t->max, *t->min));
  }
}

Threshold ReadOne(ParamReader& p, const std::vector<bool>& latency_ops) {
  Threshold t;
  std::optional<ThresholdMetric> metric = ReadMetric(p);
  if (metric) {
    t.metric = *metric;
    ReadOpIdx(p, *metric, latency_ops, &t);
    ReadBounds(p, *metric, &t);
  }
  t.abort = p.OptionalBool("abort").value_or(false);
  t.after = p.OptionalNumber("after", {.min = 0, .max = 1e8}, "a number of seconds").value_or(0);
  t.interval = p.OptionalNumber("interval", {.min = Threshold::kMinInterval, .max = 86400},
                                "a number of seconds")
                   .value_or(Threshold::kDefaultInterval);
  p.UnknownMembers({"metric", "op_idx", "max", "min", "abort", "after", "interval"});
  return t;
}

double Ratio(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

std::string Number(double value) { return fmt::format("{:.6g}", value); }

}  // namespace

std::string_view ThresholdMetricName(ThresholdMetric metric) { return SpecOf(metric).name; }

bool IsLatencyMetric(ThresholdMetric metric) {
  return metric >= ThresholdMetric::kLatencyP50;
}

std::vector<Threshold> ReadThresholds(ParamReader& p, const std::vector<bool>& latency_ops) {
  std::vector<Threshold> thresholds;
  const rapidjson::Value* array = p.OptionalArray("thresholds");
  if (array == nullptr) return thresholds;
  if (array->Size() > Threshold::kMaxPerRun) {
    p.AddProblem("thresholds", fmt::format("has {} entries, more than the limit of {}",
                                           array->Size(), Threshold::kMaxPerRun));
    return thresholds;
  }
  for (rapidjson::SizeType i = 0; i < array->Size(); ++i) {
    std::string name = fmt::format("thresholds[{}]", i);
    const rapidjson::Value& json = (*array)[i];
    if (!json.IsObject()) {
      p.WrongType(name, "an object", json);
      continue;
    }
    ParamReader entry(json, p, name);
    thresholds.push_back(ReadOne(entry, latency_ops));
  }
  return thresholds;
}

std::string ThresholdText(const Threshold& t) {
  std::string metric(ThresholdMetricName(t.metric));
  if (IsLatencyMetric(t.metric)) metric += fmt::format("[{}]", t.op_idx);
  if (t.max && t.min) return fmt::format("{} <= {} <= {}", Number(*t.min), metric, Number(*t.max));
  if (t.min) return fmt::format("{} >= {}", metric, Number(*t.min));
  return fmt::format("{} <= {}", metric, Number(t.max.value_or(0)));
}

std::optional<double> MeasureThreshold(const Threshold& t, const ThresholdInputs& in) {
  const RunCounts& c = *in.counts;
  switch (t.metric) {
    case ThresholdMetric::kFailedRatio: return Ratio(c.failed + c.aborted, c.finished);
    case ThresholdMetric::kAbortedRatio: return Ratio(c.aborted, c.finished);
    case ThresholdMetric::kLateRatio: return Ratio(c.late, c.started);
    case ThresholdMetric::kStartedRate: return in.started_rate;
    default: break;
  }
  if (in.latency == nullptr || in.latency->count() == 0) return std::nullopt;
  if (t.metric == ThresholdMetric::kLatencyMean) return in.latency->mean() / 1e9;
  return ToSeconds(in.latency->Percentile(SpecOf(t.metric).quantile));
}

bool ThresholdHolds(const Threshold& t, std::optional<double> value, bool final) {
  if (!value) return !final;
  if (t.max && *value > *t.max) return false;
  if (t.min && *value < *t.min) return false;
  return true;
}

std::string ThresholdFailureReason(const std::vector<const ThresholdResult*>& failed,
                                   std::string_view when) {
  std::string list;
  for (const ThresholdResult* r : failed) {
    if (!list.empty()) list += "; ";
    list += ThresholdText(r->threshold);
    list += r->value ? fmt::format(" (value {})", Number(*r->value)) : " (no samples)";
  }
  return fmt::format("{} failed {}: {}.", failed.size() == 1 ? "Threshold" : "Thresholds", when,
                     list);
}

}  // namespace testrund::ops
