// SPDX-License-Identifier: Apache-2.0
// LatencyHistogram: a log-linear (HDR-style) histogram of latencies in nanoseconds for one
// op (docs/api.md#querytest `latency`). Values below 64 ns are counted exactly; above, each
// power of two [2^e, 2^(e+1)) is split into 64 equal sub-buckets, so a bucket's midpoint is
// within 1/128 (< 0.8%) of every value in it. Values from 0 to 2^43 ns (~2.4 h) are covered;
// larger ones (and negative ones, as 0) clamp into the end buckets, while min and max stay
// exact and every percentile is clamped to [min, max].
//
// Memory: the object is ~350 bytes; the 64 counters of a power of two are allocated the
// first time a value falls in it (at most 38 x 512 bytes, typically a few KiB). Record()
// never allocates once the range it sees has been touched.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "ops/base/clock.h"
#include "ops/base/status.h"

namespace testrund::ops {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSubBuckets = 1 << kSubBits;  // 64
  static constexpr int kGroups = 38;                 // group 0: [0, 64); g >= 1: [2^(g+5), 2^(g+6))
  static constexpr MonoNs kMaxTracked = (MonoNs{1} << (kGroups + kSubBits - 1)) - 1;  // 2^43 - 1

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram& other);
  LatencyHistogram& operator=(const LatencyHistogram& other);
  LatencyHistogram(LatencyHistogram&&) noexcept = default;
  LatencyHistogram& operator=(LatencyHistogram&&) noexcept = default;

  // Records one latency (ns). Negative values count as 0.
  void Record(MonoNs latency) { Record(latency, 1); }
  void Record(MonoNs latency, uint64_t n);

  uint64_t count() const { return count_; }
  // Exact smallest / largest recorded value; 0 when empty.
  MonoNs min() const { return count_ ? min_ : 0; }
  MonoNs max() const { return count_ ? max_ : 0; }
  // Exact mean (from the exact sum); 0 when empty.
  double mean() const;

  // The value at quantile q (0..1): the midpoint of the bucket holding the ceil(q*count)-th
  // smallest value, clamped to [min, max]; q <= 0 gives min, q >= 1 max; 0 when empty.
  // Relative error <= 1/128 for values >= 64 ns, exact below.
  MonoNs Percentile(double q) const;

  // Exact sum of the recorded values (ns), negative ones as 0.
  long double sum() const { return sum_; }

  // Whether a bucket starts at `edge` (0 <= edge <= kMaxTracked): every integer below 64,
  // above that the multiples of a power of two's bucket width. Counts below such an edge
  // are exact.
  static bool IsBucketEdge(MonoNs edge) {
    if (edge < 0 || edge > kMaxTracked) return false;
    if (edge <= kSubBuckets) return true;
    int e = std::bit_width(static_cast<uint64_t>(edge)) - 1;
    return edge % (MonoNs{1} << (e - kSubBits)) == 0;  // a multiple of the bucket width
  }
  // For each of `edges` (ascending bucket edges), how many recorded values are below it:
  // exact and cumulative. out.size() must equal edges.size().
  void CountBelow(std::span<const MonoNs> edges, std::span<uint64_t> out) const;

  // What was recorded after `earlier`, a copy of this histogram taken before (bucket-wise
  // differences; count and sum exact). min and max are the edges of the lowest and highest
  // bucket that gained values, so percentiles keep their bucket error.
  LatencyHistogram Since(const LatencyHistogram& earlier) const;

  // Adds every count of `other` (bucket-wise); min/max/count/sum combine exactly.
  void Merge(const LatencyHistogram& other);

  // Calls f(low, count) for every bucket holding values, ascending; `low` is the bucket's
  // smallest value, which names it.
  template <typename F>
  void ForEachBucket(F f) const {
    for (int g = 0; g < kGroups; ++g) {
      if (!groups_[g]) continue;
      for (int s = 0; s < kSubBuckets; ++s) {
        if ((*groups_[g])[s] != 0) f(BucketLow(g, s), (*groups_[g])[s]);
      }
    }
  }

  // A histogram as ForEachBucket and the exact count, sum, min and max described it (what
  // a shard sends: docs/api.md#mergeable-results). Error: a `low` that names no bucket, or
  // a count, min or max that does not fit the buckets.
  struct BucketCount {
    MonoNs low;
    uint64_t count;
  };
  static Result<LatencyHistogram> FromBuckets(std::span<const BucketCount> buckets,
                                              uint64_t count, long double sum, MonoNs min,
                                              MonoNs max);

  // Bytes allocated for counters (not counting sizeof(*this)).
  size_t allocated_bytes() const;

 private:
  using Group = std::array<uint64_t, kSubBuckets>;
  static void Locate(MonoNs v, int* group, int* sub);
  static MonoNs Midpoint(int group, int sub);
  // The smallest value of bucket (group, sub), and the width of a bucket of `group`.
  static MonoNs BucketLow(int group, int sub);
  static MonoNs BucketWidth(int group) { return group == 0 ? 1 : MonoNs{1} << (group - 1); }

  std::array<std::unique_ptr<Group>, kGroups> groups_{};
  uint64_t count_ = 0;
  MonoNs min_ = 0;
  MonoNs max_ = 0;
  long double sum_ = 0;  // exact to 2^64 ns, then within 1e-19 relative
};

}  // namespace testrund::ops
