// SPDX-License-Identifier: Apache-2.0
// RepeatPlan: ExecuteTest's `repeat: {count, interval, from}` (docs/api.md#repeat), the
// schedule of a run's repetitions. With `from: "end"` each repetition starts `interval`
// seconds after the one before ended; with `from: "start"` repetition n starts at
// anchor + (n - 1) × interval, the anchor being `start_at` or else the first start, and a
// start that comes while the one before still runs is skipped (ops/run_series.h).
#pragma once

#include <cstdint>
#include <optional>

#include "ops/base/param_reader.h"

namespace testrund::ops {

struct RepeatPlan {
  enum class From : uint8_t { kEnd, kStart };
  uint64_t count = 1;     // repetitions, skipped ones included; 0 = until cancelled
  double interval = 0;    // seconds
  From from = From::kEnd;

  bool unbounded() const { return count == 0; }
  // Whether repetition `n` (1-based) is within the plan.
  bool Planned(uint64_t n) const { return unbounded() || n <= count; }
  // `from: "start"`: the Unix time repetition `n` starts at, given the anchor.
  double CadenceStart(double anchor, uint64_t n) const {
    return anchor + static_cast<double>(n - 1) * interval;
  }
};

// The bounds of `repeat`: count at most kMaxRepeatCount; interval at most a year, and on a
// fixed cadence at least kMinCadenceInterval (a start every instant would only be skipped).
constexpr int64_t kMaxRepeatCount = 1'000'000'000;
constexpr double kMaxRepeatInterval = 366 * 86400.0;
constexpr double kMinCadenceInterval = 0.1;

// Reads `repeat` from ExecuteTest's params (nullopt when absent or wrong, with the problems
// in `p`).
std::optional<RepeatPlan> ReadRepeatPlan(ParamReader& p);

}  // namespace testrund::ops
