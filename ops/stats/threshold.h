// SPDX-License-Identifier: Apache-2.0
// Threshold: one pass/fail rule of ExecuteTest `thresholds` (docs/api.md#thresholds),
// evaluated by the daemon so that every client sees the same verdict — a harness talking
// JSON-RPC, the operator page, a coordinator of many daemons — not only the `testrun`
// client. A threshold bounds one metric of the run (`max` and/or `min`); the run checks it
// every `interval` seconds while running (one with `abort` ends the run as soon as it fails,
// once `after` seconds have passed) and once more when the run ends, on the whole run's
// values: a run whose threshold then fails ends `failed`.
//
// The metrics, each a function of what the run counts (ThresholdInputs):
//   failed_ratio   (failed + aborted) / finished      (`testrun --max-failed-ratio`)
//   aborted_ratio  aborted / finished
//   late_ratio     late / started
//   started_rate   instances started per second: over the last interval while running, over
//                  the whole active time at the end
//   latency_p50 | p90 | p95 | p99 | p999 | max | mean   of op `op_idx`, in seconds (from its
//                  latency histogram: quantiles within 1/128, max and mean exact)
// A ratio over nothing is 0. A latency of an op without samples has no value: it holds
// while the run goes on and fails at the end (nothing measured cannot pass a latency bound).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/param_reader.h"
#include "ops/stats/latency_histogram.h"

namespace testrund::ops {

struct RunCounts;  // ops/stats/run_snapshot.h, which holds ThresholdResults

enum class ThresholdMetric : uint8_t {
  kFailedRatio,
  kAbortedRatio,
  kLateRatio,
  kStartedRate,
  kLatencyP50,
  kLatencyP90,
  kLatencyP95,
  kLatencyP99,
  kLatencyP999,
  kLatencyMax,
  kLatencyMean,
};

// The metric's name in ExecuteTest ("failed_ratio", "latency_p99", ...).
std::string_view ThresholdMetricName(ThresholdMetric metric);
// Whether the metric is an op's latency (and so needs `op_idx`).
bool IsLatencyMetric(ThresholdMetric metric);

struct Threshold {
  static constexpr size_t kMaxPerRun = 100;
  static constexpr double kDefaultInterval = 1.0;
  static constexpr double kMinInterval = 0.1;

  ThresholdMetric metric = ThresholdMetric::kFailedRatio;
  int op_idx = -1;  // latency metrics: the op; -1 otherwise
  std::optional<double> max;
  std::optional<double> min;
  bool abort = false;
  double after = 0;                    // seconds from the start before `abort` may end the run
  double interval = kDefaultInterval;  // seconds between checks while running
};

// Reads ExecuteTest's `thresholds` (absent: none) through `p`, every problem recorded with
// the field "thresholds[N].<member>". `latency_ops` has one entry per operation: whether it
// records a latency, which a latency threshold's `op_idx` must name.
std::vector<Threshold> ReadThresholds(ParamReader& p, const std::vector<bool>& latency_ops);

// The rule as text: "failed_ratio <= 0.01", "latency_p99[3] <= 0.25", "started_rate >= 100",
// "10 <= started_rate <= 20".
std::string ThresholdText(const Threshold& threshold);

// What a threshold is measured on.
struct ThresholdInputs {
  const RunCounts* counts = nullptr;
  const LatencyHistogram* latency = nullptr;  // the threshold's op; nullptr: no samples yet
  double started_rate = 0;                    // per second, as the caller measured it
};

// The metric's value now; nullopt for a latency metric whose op has no samples.
std::optional<double> MeasureThreshold(const Threshold& threshold,
                                       const ThresholdInputs& inputs);

// Whether `value` is within the bounds; no value holds unless `final` (the run's end).
bool ThresholdHolds(const Threshold& threshold, std::optional<double> value, bool final);

// A threshold with its latest check (RunSnapshot::thresholds).
struct ThresholdResult {
  Threshold threshold;
  std::optional<double> value;  // nullopt: not checked yet, or no samples
  bool ok = true;
};

// The status_reason of a run that failed `failed` (one or more), e.g. "Threshold
// latency_p99[3] <= 0.25 failed: value 0.312." `when` says where it happened ("at the
// end", or "after 12.0 s; the run was ended").
std::string ThresholdFailureReason(const std::vector<const ThresholdResult*>& failed,
                                   std::string_view when);

}  // namespace testrund::ops
