// SPDX-License-Identifier: Apache-2.0
// Schedule: when each instance of a run is due (docs/api.md#executetest, an open model). Instance k
// (0-based) is due when the integral of the rate since the run's start first exceeds k: at k/rate
// for a constant rate (instance 0 at 0), and for stages along piecewise-linear ramps (a stage whose
// rate goes 0 -> 0 starts nothing). Offsets are integer nanoseconds of *active* time since the
// run's start: the Run adds the total time spent paused (so UnpauseTest shifts the schedule and no
// burst of catch-up starts follows) — PlannedAt() does that sum.
//
// Exactness: rates are held in integer nano-instances per second and durations in integer
// ns, and counts use 128-bit integer arithmetic, so no instance is lost or duplicated by
// rounding. The planned offset of k is floor(t_k) in ns, where t_k is the exact real due
// time; k starts iff k < total (when total > 0), t_k < duration (exclusive: for a constant
// rate r and duration d, exactly ceil(r*d) instances, i.e. every k with k/r < d) and t_k <
// end of the last stage (exclusive: exactly ceil(integral of the stages) instances, minus
// those beyond `duration` or `total`).
//
// `load` and `single` have no schedule: every instance is due at offset 0 (gated only by
// backlog); `load` stops starting at `duration` (see EndOffset()).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ops/base/clock.h"
#include "ops/distribution.h"

namespace testrund::ops {

class Schedule {
 public:
  static constexpr uint64_t kUnbounded = UINT64_MAX;

  explicit Schedule(const Distribution& distribution);

  // True for `linear` (constant rate or stages): starts follow planned offsets. False for
  // `load` / `single`: every instance is due at once.
  bool Paced() const { return paced_; }

  // Planned offset (ns of active time since the run's start) of instance k; nullopt when k
  // will never start (k >= total, or its due time is at/after `duration` or the end of the
  // stages). Non-decreasing in k. For load/single: 0 for every k that may start (the Run
  // must still stop starting `load` instances at EndOffset()).
  std::optional<MonoNs> PlannedOffset(uint64_t k) const;

  // How many instances are due by active offset `offset` (inclusive): the number of k with
  // PlannedOffset(k) <= offset. Exactly consistent with PlannedOffset. 0 for offset < 0.
  // For load/single: TotalPlanned() or kUnbounded. Use it to batch starts per timer tick.
  uint64_t DueCount(MonoNs offset) const;

  // The active offset at which starting ends (exclusive): min(duration, end of the last
  // stage); nullopt when neither is set.
  std::optional<MonoNs> EndOffset() const { return end_offset_; }

  // The exact number of instances that will start (barring cancel, pause-free), when known:
  // nullopt for an unbounded run (total 0 without duration/stages, or `load` bounded only
  // by duration).
  std::optional<uint64_t> TotalPlanned() const { return total_planned_; }
  bool Finite() const { return total_planned_.has_value(); }

  // percent_complete: by started / TotalPlanned() when known, else by elapsed active time /
  // EndOffset(); nullopt when neither is known. Clamped to [0, 100]. For a shard, `started`
  // counts its own starts and is compared with its share of the totals.
  std::optional<double> PercentComplete(uint64_t started, MonoNs active_elapsed,
                                        Shard shard = {}) const;

  // The monotonic time instance k is planned for, given the run's monotonic start and the
  // total time paused so far: run_start + PlannedOffset(k) + paused_total.
  std::optional<MonoNs> PlannedAt(uint64_t k, MonoNs run_start, MonoNs paused_total) const;

 private:
  __extension__ typedef __int128 Int128;
  // One stage, precomputed. Integrals are scaled: one instance = 2e18 units (rate in
  // nano-instances/s times ns, times 2), exact in 128 bits.
  struct Segment {
    MonoNs start = 0;     // active offset of the stage's start
    MonoNs length = 0;    // ns, >= 1
    int64_t r0_nano = 0;  // rate at the start, nano-instances per second
    int64_t r1_nano = 0;  // rate at the end
    Int128 before = 0;    // scaled integral of every earlier stage
    Int128 within = 0;    // scaled integral of this stage: (r0 + r1) * length
  };

  std::optional<MonoNs> OffsetUnbounded(uint64_t k) const;  // ignoring total/duration
  uint64_t CountBefore(MonoNs end_exclusive) const;         // #k with offset < end

  bool paced_ = false;
  bool staged_ = false;
  uint64_t total_ = 0;             // 0 = unbounded
  int64_t rate_nano_ = 0;          // constant rate, nano-instances per second
  std::vector<Segment> segments_;  // stages
  std::optional<MonoNs> end_offset_;
  std::optional<uint64_t> total_planned_;
  uint64_t limit_ = kUnbounded;  // k < limit_ start (paced); = TotalPlanned or kUnbounded
};

}  // namespace testrund::ops
