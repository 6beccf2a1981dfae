// SPDX-License-Identifier: Apache-2.0
// ThresholdChecks: when a run's thresholds are checked, and what they judged (see
// threshold_checks.h).
#include "ops/stats/threshold_checks.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "ops/stats/run_snapshot.h"

namespace testrund::ops {
namespace {

MonoNs IntervalNs(const Threshold& t) { return static_cast<MonoNs>(t.interval * 1e9); }

double PerSecond(uint64_t count, MonoNs ns) {
  return ns <= 0 ? 0.0 : static_cast<double>(count) / ToSeconds(ns);
}

}  // namespace

ThresholdChecks::ThresholdChecks(std::vector<Threshold> thresholds, MonoNs start) {
  for (Threshold& t : thresholds) {
    windows_.push_back(Window{start + IntervalNs(t), start, 0});
    results_.push_back(ThresholdResult{std::move(t), std::nullopt, true});
  }
}

MonoNs ThresholdChecks::next_check() const {
  MonoNs earliest = std::numeric_limits<MonoNs>::max();
  for (const Window& w : windows_) earliest = std::min(earliest, w.next);
  return earliest;
}

void ThresholdChecks::Judge(ThresholdResult& result, double started_rate,
                            const RunCounts& counts, Latencies latency, bool final) {
  const Threshold& t = result.threshold;
  const LatencyHistogram* histogram = nullptr;
  if (t.op_idx >= 0 && static_cast<size_t>(t.op_idx) < latency.size()) {
    histogram = latency[t.op_idx].get();
  }
  result.value = MeasureThreshold(t, {&counts, histogram, started_rate});
  result.ok = ThresholdHolds(t, result.value, final);
}

std::vector<const ThresholdResult*> ThresholdChecks::CheckDue(MonoNs now, MonoNs active_ns,
                                                              const RunCounts& counts,
                                                              Latencies latency) {
  std::vector<const ThresholdResult*> ending;
  for (size_t i = 0; i < results_.size(); ++i) {
    Window& w = windows_[i];
    if (w.next > now) continue;
    ThresholdResult& result = results_[i];
    Judge(result, PerSecond(counts.started - w.started_then, now - w.since), counts, latency,
          false);
    w = Window{now + IntervalNs(result.threshold), now, counts.started};
    const Threshold& t = result.threshold;
    if (!result.ok && t.abort && ToSeconds(active_ns) >= t.after) ending.push_back(&result);
  }
  return ending;
}

void ThresholdChecks::SkipDue(MonoNs now, const RunCounts& counts) {
  for (size_t i = 0; i < results_.size(); ++i) {
    if (windows_[i].next > now) continue;
    windows_[i] = Window{now + IntervalNs(results_[i].threshold), now, counts.started};
  }
}

std::vector<const ThresholdResult*> ThresholdChecks::CheckFinal(MonoNs active_ns,
                                                                const RunCounts& counts,
                                                                Latencies latency) {
  std::vector<const ThresholdResult*> failed;
  for (ThresholdResult& result : results_) {
    Judge(result, PerSecond(counts.started, active_ns), counts, latency, true);
    if (!result.ok) failed.push_back(&result);
  }
  return failed;
}

}  // namespace testrund::ops
