// SPDX-License-Identifier: Apache-2.0
// Buckets: the run's time-based call distribution (docs/api.md#querytest `buckets`). Bucket j
// covers [start + j*w, start + (j+1)*w) with w = 100 ms x 2^k. When an event needs bucket
// index >= 20, neighbours merge pairwise (20 -> 10) and w doubles, as often as needed. Memory
// is fixed (two arrays of 20 counters) and every count is exact.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ops/base/clock.h"

namespace testrund::ops {

class Buckets {
 public:
  static constexpr size_t kMaxBuckets = 20;
  static constexpr MonoNs kBaseWidth = 100'000'000;  // 100 ms

  struct Bucket {
    MonoNs start;       // monotonic start of the interval (the caller converts to wall time)
    uint64_t started;   // num_calls_started
    uint64_t finished;  // num_calls_finished
  };

  // `start` is the run's monotonic start time (time_start).
  explicit Buckets(MonoNs start);

  // Counts `n` starts / finishes at monotonic time `t`. Events at t < start count in
  // bucket 0. O(1) amortised (a coarsening touches 20 counters), never allocates.
  void AddStarted(MonoNs t, uint64_t n = 1);
  void AddFinished(MonoNs t, uint64_t n = 1);

  // 1..20 buckets covering [start, end): max(1, ceil((end - start) / w)) buckets at the
  // current width w, coarsened (on a copy) while that is more than 20. Never fewer buckets
  // than those holding events, so the counts always sum to the totals even when an event
  // was recorded at t >= end. `width`, when given, receives their width.
  std::vector<Bucket> Snapshot(MonoNs end, MonoNs* width = nullptr) const;

  // Adds `other`'s counts. Both must have the same start (CHECKed); the result has the
  // wider of the two widths.
  void Merge(const Buckets& other);

  MonoNs start() const { return start_; }
  MonoNs width() const { return width_; }
  uint64_t total_started() const { return total_started_; }
  uint64_t total_finished() const { return total_finished_; }

 private:
  // The bucket index for `t`, coarsening first when it would be >= kMaxBuckets.
  size_t IndexFor(MonoNs t);
  // Merges neighbours pairwise and doubles the width.
  void Coarsen();

  MonoNs start_;
  MonoNs width_ = kBaseWidth;
  size_t used_ = 1;  // buckets [0, used_) may hold events
  std::array<uint64_t, kMaxBuckets> started_{};
  std::array<uint64_t, kMaxBuckets> finished_{};
  uint64_t total_started_ = 0;
  uint64_t total_finished_ = 0;
};

}  // namespace testrund::ops
