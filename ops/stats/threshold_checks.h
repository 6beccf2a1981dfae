// SPDX-License-Identifier: Apache-2.0
// ThresholdChecks: a run's thresholds (ops/stats/threshold.h) and when each is checked next.
// The run asks it what is due, hands it what it counts, and learns which thresholds ended
// the run: a failed one with `abort` once `after` seconds of active time have passed while
// running, or any failed one at the end. Each threshold keeps its own interval and its own
// window for started_rate (the starts since its previous check).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "ops/base/clock.h"
#include "ops/stats/latency_histogram.h"
#include "ops/stats/threshold.h"

namespace testrund::ops {

struct RunCounts;

class ThresholdChecks {
 public:
  // The latency histograms of a run, by op_idx (nullptr: no sample yet).
  using Latencies = std::span<const std::shared_ptr<LatencyHistogram>>;

  ThresholdChecks() = default;
  // The first check of each threshold is due one interval after `start`.
  ThresholdChecks(std::vector<Threshold> thresholds, MonoNs start);

  bool empty() const { return results_.empty(); }
  // When the earliest check is due.
  MonoNs next_check() const;

  // Checks every threshold due at `now` (`active_ns`: the run's time running, pauses left
  // out). Returns the failed ones that end the run: `abort` set and `after` passed.
  std::vector<const ThresholdResult*> CheckDue(MonoNs now, MonoNs active_ns,
                                               const RunCounts& counts, Latencies latency);
  // While paused nothing is judged: each due check moves one interval on and its
  // started_rate window starts again at `now`.
  void SkipDue(MonoNs now, const RunCounts& counts);
  // The end of the run: every threshold on the whole run's values (started_rate: the starts
  // over `active_ns`). Returns the failed ones.
  std::vector<const ThresholdResult*> CheckFinal(MonoNs active_ns, const RunCounts& counts,
                                                 Latencies latency);

  const std::vector<ThresholdResult>& results() const { return results_; }

 private:
  struct Window {
    MonoNs next = 0;          // when the next check is due
    MonoNs since = 0;         // start of the started_rate window
    uint64_t started_then = 0;
  };
  void Judge(ThresholdResult& result, double started_rate, const RunCounts& counts,
             Latencies latency, bool final);

  std::vector<ThresholdResult> results_;
  std::vector<Window> windows_;
};

}  // namespace testrund::ops
