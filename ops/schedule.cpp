// SPDX-License-Identifier: Apache-2.0
// Schedule: planned start offsets of a run's instances, open model (see schedule.h).
#include "ops/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace testrund::ops {

namespace {

__extension__ typedef __int128 Int128;

constexpr int64_t kNanoPerUnit = 1'000'000'000;  // rates: nano-instances per second
constexpr Int128 kRateTimeScale = Int128{kNanoPerUnit} * kNsPerSecond;  // 1e18
constexpr Int128 kStageScale = 2 * kRateTimeScale;  // one instance in stage units
constexpr MonoNs kMaxMono = std::numeric_limits<MonoNs>::max();

int64_t RateNano(double rate) { return std::llround(rate * kNanoPerUnit); }
MonoNs SecondsToNs(double s) { return std::max<MonoNs>(1, std::llround(s * kNsPerSecond)); }

// ceil(a / b) for a >= 0, b > 0.
Int128 CeilDiv(Int128 a, Int128 b) { return (a + b - 1) / b; }

uint64_t ToCount(Int128 n) {
  if (n <= 0) return 0;
  if (n >= static_cast<Int128>(Schedule::kUnbounded)) return Schedule::kUnbounded;
  return static_cast<uint64_t>(n);
}

}  // namespace

Schedule::Schedule(const Distribution& d) {
  if (d.duration) end_offset_ = SecondsToNs(*d.duration);
  switch (d.type) {
    case DistributionType::kSingle:
      total_ = 1;
      limit_ = 1;
      total_planned_ = 1;
      end_offset_.reset();
      return;
    case DistributionType::kLoad:
      total_ = d.total;
      limit_ = total_ > 0 ? total_ : kUnbounded;
      // With a duration, how many start depends on the system under test.
      if (total_ > 0 && !end_offset_) total_planned_ = total_;
      return;
    case DistributionType::kLinear:
      break;
  }
  paced_ = true;
  total_ = d.total;
  uint64_t limit = total_ > 0 ? total_ : kUnbounded;
  if (d.stages.empty()) {
    rate_nano_ = RateNano(d.rate.value_or(Distribution::kMinRate));
    if (end_offset_) limit = std::min(limit, CountBefore(*end_offset_));
  } else {
    staged_ = true;
    int64_t previous = RateNano(d.rate.value_or(0));
    MonoNs start = 0;
    Int128 before = 0;
    segments_.reserve(d.stages.size());
    for (const Distribution::Stage& stage : d.stages) {
      Segment s;
      s.start = start;
      s.length = SecondsToNs(stage.duration);
      s.r0_nano = previous;
      s.r1_nano = RateNano(stage.rate);
      s.before = before;
      s.within = (Int128{s.r0_nano} + s.r1_nano) * s.length;
      segments_.push_back(s);
      start += s.length;
      before += s.within;
      previous = s.r1_nano;
    }
    // k starts iff the integral passes k before the end: k < integral, exclusive end.
    limit = std::min(limit, ToCount(CeilDiv(before, kStageScale)));
    end_offset_ = end_offset_ ? std::min(*end_offset_, start) : start;
    if (*end_offset_ < start) limit = std::min(limit, CountBefore(*end_offset_));
  }
  limit_ = limit;
  if (limit_ != kUnbounded) total_planned_ = limit_;
}

std::optional<MonoNs> Schedule::OffsetUnbounded(uint64_t k) const {
  if (!staged_) {
    // floor(k / rate) in ns: then "offset < duration" is exactly "k / rate < duration".
    Int128 offset = Int128{k} * kRateTimeScale / rate_nano_;
    if (offset > kMaxMono) return std::nullopt;
    return static_cast<MonoNs>(offset);
  }
  Int128 target = Int128{k} * kStageScale;
  // The first stage whose end integral exceeds k; 0 -> 0 stages never qualify.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), target,
                             [](Int128 t, const Segment& s) { return t < s.before + s.within; });
  if (it == segments_.end()) return std::nullopt;
  const Segment& s = *it;
  // Solve (r1 - r0) / L * tau^2 + 2 r0 tau = m (stage units) for tau in [0, L), in the
  // cancellation-free form tau = m / (r0 + sqrt(r0^2 + (r1 - r0) * m / L)).
  long double m = static_cast<long double>(target - s.before);
  long double r0 = s.r0_nano;
  long double slope = static_cast<long double>(s.r1_nano - s.r0_nano) / s.length;
  long double denominator = r0 + std::sqrt(std::max(0.0L, r0 * r0 + slope * m));
  long double tau = denominator > 0 ? m / denominator : 0;
  MonoNs within = static_cast<MonoNs>(std::floor(tau));
  // Exact membership says tau < L; keep rounding from crossing the stage's edges.
  within = std::clamp<MonoNs>(within, 0, s.length - 1);
  return s.start + within;
}

uint64_t Schedule::CountBefore(MonoNs end_exclusive) const {
  if (end_exclusive <= 0) return 0;
  if (!staged_) {
    // floor(k * 1e18 / R) < end  <=>  k * 1e18 < end * R.
    return ToCount(CeilDiv(Int128{end_exclusive} * rate_nano_, kRateTimeScale));
  }
  // Offsets are non-decreasing in k: binary search the first k at or after the end.
  uint64_t lo = 0;
  uint64_t hi = ToCount(CeilDiv(segments_.back().before + segments_.back().within, kStageScale));
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    std::optional<MonoNs> offset = OffsetUnbounded(mid);
    if (offset && *offset < end_exclusive) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::optional<MonoNs> Schedule::PlannedOffset(uint64_t k) const {
  if (k >= limit_) return std::nullopt;
  if (!paced_) return 0;
  return OffsetUnbounded(k);
}

uint64_t Schedule::DueCount(MonoNs offset) const {
  if (offset < 0) return 0;
  if (!paced_) return limit_;
  MonoNs end = offset == kMaxMono ? kMaxMono : offset + 1;
  return std::min(limit_, CountBefore(end));
}

std::optional<double> Schedule::PercentComplete(uint64_t started, MonoNs active_elapsed,
                                                Shard shard) const {
  auto clamp = [](double p) { return std::clamp(p, 0.0, 100.0); };
  if (total_planned_) {
    uint64_t planned = shard.Share(*total_planned_);
    if (planned == 0) return 100.0;
    return clamp(100.0 * static_cast<double>(started) / static_cast<double>(planned));
  }
  std::optional<double> best;
  if (uint64_t total = shard.Share(total_); total > 0) {
    best = 100.0 * static_cast<double>(started) / static_cast<double>(total);
  }
  if (end_offset_) {
    double by_time =
        100.0 * static_cast<double>(active_elapsed) / static_cast<double>(*end_offset_);
    best = best ? std::max(*best, by_time) : by_time;
  }
  if (!best) return std::nullopt;
  return clamp(*best);
}

std::optional<MonoNs> Schedule::PlannedAt(uint64_t k, MonoNs run_start, MonoNs paused_total) const {
  std::optional<MonoNs> offset = PlannedOffset(k);
  if (!offset) return std::nullopt;
  return run_start + *offset + paused_total;
}

}  // namespace testrund::ops
