// SPDX-License-Identifier: Apache-2.0
// LatencyHistogram: log-linear latency histogram (see latency_histogram.h).
#include "ops/stats/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include <fmt/format.h>

#include "ops/base/check.h"

namespace testrund::ops {

LatencyHistogram::LatencyHistogram(const LatencyHistogram& other) { *this = other; }

LatencyHistogram& LatencyHistogram::operator=(const LatencyHistogram& other) {
  if (this == &other) return *this;
  for (int g = 0; g < kGroups; ++g) {
    groups_[g] = other.groups_[g] ? std::make_unique<Group>(*other.groups_[g]) : nullptr;
  }
  count_ = other.count_;
  min_ = other.min_;
  max_ = other.max_;
  sum_ = other.sum_;
  return *this;
}

void LatencyHistogram::Locate(MonoNs v, int* group, int* sub) {
  if (v < 0) v = 0;
  if (v > kMaxTracked) v = kMaxTracked;
  if (v < kSubBuckets) {
    *group = 0;
    *sub = static_cast<int>(v);
    return;
  }
  int e = std::bit_width(static_cast<uint64_t>(v)) - 1;  // 2^e <= v < 2^(e+1), e >= 6
  *group = e - kSubBits + 1;
  *sub = static_cast<int>((v >> (e - kSubBits)) - kSubBuckets);
}

MonoNs LatencyHistogram::BucketLow(int group, int sub) {
  if (group == 0) return sub;
  return static_cast<MonoNs>(kSubBuckets + sub) << (group - 1);
}

MonoNs LatencyHistogram::Midpoint(int group, int sub) {
  return BucketLow(group, sub) + BucketWidth(group) / 2;
}

void LatencyHistogram::Record(MonoNs latency, uint64_t n) {
  if (n == 0) return;
  if (latency < 0) latency = 0;
  int group = 0;
  int sub = 0;
  Locate(latency, &group, &sub);
  std::unique_ptr<Group>& counters = groups_[group];
  if (!counters) counters = std::make_unique<Group>();  // first value of this power of two
  (*counters)[sub] += n;
  if (count_ == 0) {
    min_ = max_ = latency;
  } else {
    min_ = std::min(min_, latency);
    max_ = std::max(max_, latency);
  }
  count_ += n;
  sum_ += static_cast<long double>(latency) * static_cast<long double>(n);
}

double LatencyHistogram::mean() const {
  return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
}

MonoNs LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  if (!(q > 0)) return min_;  // also NaN
  if (q >= 1) return max_;
  // The rank of the value asked for: the ceil(q * count)-th smallest, 1-based.
  long double exact = static_cast<long double>(q) * static_cast<long double>(count_);
  uint64_t rank = static_cast<uint64_t>(std::ceil(exact));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int g = 0; g < kGroups; ++g) {
    if (!groups_[g]) continue;
    const Group& counters = *groups_[g];
    for (int s = 0; s < kSubBuckets; ++s) {
      seen += counters[s];
      if (seen >= rank) return std::clamp(Midpoint(g, s), min_, max_);
    }
  }
  return max_;  // not reached: the counters sum to count_
}

void LatencyHistogram::CountBelow(std::span<const MonoNs> edges, std::span<uint64_t> out) const {
  CHECK(edges.size() == out.size());
  uint64_t below = 0;
  int group = 0;  // the first bucket not yet added to `below`
  int sub = 0;
  for (size_t k = 0; k < edges.size(); ++k) {
    CHECK(IsBucketEdge(edges[k]) && (k == 0 || edges[k - 1] <= edges[k]));
    int edge_group = 0;
    int edge_sub = 0;
    Locate(edges[k], &edge_group, &edge_sub);  // the bucket that starts at edges[k]
    for (; group < edge_group; ++group, sub = 0) {
      if (!groups_[group]) continue;
      for (; sub < kSubBuckets; ++sub) below += (*groups_[group])[sub];
    }
    if (groups_[group]) {
      for (; sub < edge_sub; ++sub) below += (*groups_[group])[sub];
    }
    sub = std::max(sub, edge_sub);
    out[k] = below;
  }
}

LatencyHistogram LatencyHistogram::Since(const LatencyHistogram& earlier) const {
  LatencyHistogram out;
  CHECK(earlier.count_ <= count_);
  if (earlier.count_ == count_) return out;
  for (int g = 0; g < kGroups; ++g) {
    if (!groups_[g]) continue;
    for (int s = 0; s < kSubBuckets; ++s) {
      uint64_t before = earlier.groups_[g] ? (*earlier.groups_[g])[s] : 0;
      CHECK(before <= (*groups_[g])[s]);
      uint64_t gained = (*groups_[g])[s] - before;
      if (gained == 0) continue;
      if (!out.groups_[g]) out.groups_[g] = std::make_unique<Group>();
      (*out.groups_[g])[s] = gained;
      if (out.count_ == 0) out.min_ = BucketLow(g, s);
      out.max_ = BucketLow(g, s) + BucketWidth(g) - 1;
      out.count_ += gained;
    }
  }
  out.sum_ = sum_ - earlier.sum_;
  return out;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (&other == this) {
    LatencyHistogram copy(other);
    Merge(copy);
    return;
  }
  for (int g = 0; g < kGroups; ++g) {
    if (!other.groups_[g]) continue;
    if (!groups_[g]) groups_[g] = std::make_unique<Group>();
    for (int s = 0; s < kSubBuckets; ++s) (*groups_[g])[s] += (*other.groups_[g])[s];
  }
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
}

size_t LatencyHistogram::allocated_bytes() const {
  size_t bytes = 0;
  for (const auto& g : groups_) {
    if (g) bytes += sizeof(Group);
  }
  return bytes;
}

Result<LatencyHistogram> LatencyHistogram::FromBuckets(std::span<const BucketCount> buckets,
                                                       uint64_t count, long double sum,
                                                       MonoNs min, MonoNs max) {
  LatencyHistogram out;
  uint64_t total = 0;
  for (const BucketCount& b : buckets) {
    int group = 0;
    int sub = 0;
    if (b.low < 0 || b.low > kMaxTracked) {
      return Status::Error(fmt::format("bucket {} is out of range", b.low));
    }
    Locate(b.low, &group, &sub);
    if (BucketLow(group, sub) != b.low) {
      return Status::Error(fmt::format("{} is not the lowest value of a bucket", b.low));
    }
    if (b.count == 0) continue;
    if (!out.groups_[group]) out.groups_[group] = std::make_unique<Group>();
    (*out.groups_[group])[sub] += b.count;
    total += b.count;
  }
  if (total != count) {
    return Status::Error(fmt::format("the buckets hold {} values, count says {}", total, count));
  }
  if (count > 0 && (min < 0 || max < min)) {
    return Status::Error(fmt::format("min {} and max {} do not fit", min, max));
  }
  out.count_ = count;
  out.min_ = count > 0 ? min : 0;
  out.max_ = count > 0 ? max : 0;
  out.sum_ = sum;
  return out;
}

}  // namespace testrund::ops
