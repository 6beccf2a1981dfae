// SPDX-License-Identifier: Apache-2.0
// RunHistory: one run over time, one point per interval, for the operator page's charts
// (docs/ui.md#live-data). A point holds what happened in its interval alone: starts,
// finishes, failures and aborts, and each op's latency percentiles of that interval (from
// the difference of two cumulative histograms, so they are exact to the histogram's 1 %,
// not a running average). The last kMaxPoints points are kept; their ids count up from 1,
// so a client that reconnects says which it has and gets the rest.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ops/base/clock.h"
#include "ops/stats/latency_histogram.h"
#include "ops/stats/run_snapshot.h"

namespace testrund::daemon {

struct IntervalPoint {
  struct OpLatency {
    int op_idx = 0;
    uint64_t count = 0;
    ops::MonoNs p50 = 0;
    ops::MonoNs p90 = 0;
    ops::MonoNs p99 = 0;
  };
  uint64_t id = 0;
  ops::WallTime end;     // when the interval ended
  double seconds = 0;    // its length
  uint64_t started = 0;  // in this interval
  uint64_t finished = 0;
  uint64_t failed = 0;
  uint64_t aborted = 0;
  std::vector<OpLatency> latency;  // ops with a sample in this interval

  // {"id", "time": [sec, usec], "seconds", "started", "finished", "failed", "aborted",
  //  "latency": [{"op_idx", "count", "p50", "p90", "p99"}]} (latencies in seconds).
  std::string Json() const;
};

class RunHistory {
 public:
  static constexpr size_t kMaxPoints = 900;  // 15 minutes at one point a second

  // Adds the interval since the previous sample (the first: since the run's start) from
  // `run` (a snapshot with ops::kSnapshotHistograms). After the run completed, one last
  // point covers up to its finish and later calls add nothing; a scheduled run (waiting for
  // its start_at) has no history yet, so its first point starts at its start. Returns the
  // new point, or nullptr when none was added.
  const IntervalPoint* Sample(const ops::RunSnapshot& run);

  const std::deque<IntervalPoint>& points() const { return points_; }
  // The points after `id`, oldest first, when the history still holds every one of them;
  // nullopt when some fell out of the window (or `id` was never given): send everything.
  std::optional<std::vector<const IntervalPoint*>> After(uint64_t id) const;

 private:
  std::deque<IntervalPoint> points_;
  uint64_t next_id_ = 1;
  bool done_ = false;  // the point up to the finish has been taken
  ops::RunCounts previous_;
  std::optional<ops::WallTime> previous_time_;
  std::map<int, std::shared_ptr<const ops::LatencyHistogram>> previous_histograms_;
};

}  // namespace testrund::daemon
