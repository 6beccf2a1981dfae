// SPDX-License-Identifier: Apache-2.0
// Buckets: the doubling time buckets (see buckets.h).
#include "ops/stats/buckets.h"

#include <algorithm>

#include "ops/base/check.h"

namespace testrund::ops {

Buckets::Buckets(MonoNs start) : start_(start) {}

size_t Buckets::IndexFor(MonoNs t) {
  if (t <= start_) return 0;
  MonoNs offset = t - start_;
  // Widths only grow, so at most ~36 doublings over a run's life.
  while (offset / width_ >= static_cast<MonoNs>(kMaxBuckets)) Coarsen();
  size_t index = static_cast<size_t>(offset / width_);
  used_ = std::max(used_, index + 1);
  return index;
}

void Buckets::Coarsen() {
  for (size_t i = 0; i < kMaxBuckets / 2; ++i) {
    started_[i] = started_[2 * i] + started_[2 * i + 1];
    finished_[i] = finished_[2 * i] + finished_[2 * i + 1];
  }
  for (size_t i = kMaxBuckets / 2; i < kMaxBuckets; ++i) {
    started_[i] = 0;
    finished_[i] = 0;
  }
  used_ = (used_ + 1) / 2;
  width_ *= 2;
}

void Buckets::AddStarted(MonoNs t, uint64_t n) {
  started_[IndexFor(t)] += n;
  total_started_ += n;
}

void Buckets::AddFinished(MonoNs t, uint64_t n) {
  finished_[IndexFor(t)] += n;
  total_finished_ += n;
}

std::vector<Buckets::Bucket> Buckets::Snapshot(MonoNs end, MonoNs* width) const {
  Buckets copy = *this;
  MonoNs span = std::max<MonoNs>(end - start_, 0);
  auto needed = [&copy, span]() {
    MonoNs n = (span + copy.width_ - 1) / copy.width_;
    return std::max<MonoNs>({n, 1, static_cast<MonoNs>(copy.used_)});
  };
  while (needed() > static_cast<MonoNs>(kMaxBuckets)) copy.Coarsen();
  size_t count = static_cast<size_t>(needed());
  if (width != nullptr) *width = copy.width_;
  std::vector<Bucket> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    out.push_back(
        Bucket{start_ + static_cast<MonoNs>(i) * copy.width_, copy.started_[i], copy.finished_[i]});
  }
  return out;
}

void Buckets::Merge(const Buckets& other) {
  CHECK(other.start_ == start_);
  Buckets theirs = other;
  while (theirs.width_ < width_) theirs.Coarsen();
  while (width_ < theirs.width_) Coarsen();
  for (size_t i = 0; i < kMaxBuckets; ++i) {
    started_[i] += theirs.started_[i];
    finished_[i] += theirs.finished_[i];
  }
  used_ = std::max(used_, theirs.used_);
  total_started_ += theirs.total_started_;
  total_finished_ += theirs.total_finished_;
}

}  // namespace testrund::ops
