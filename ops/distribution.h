// SPDX-License-Identifier: Apache-2.0
// Distribution: the ExecuteTest `distribution` parameter (docs/api.md#3-methods), parsed and
// validated. Parsing collects every problem at once as ops::Problem {op_idx -1, field
// "distribution.<member>", problem quoting the value}. Every integer member also accepts a decimal
// string ("41"); number members also accept a numeric string. Unknown members are ignored. The
// schedule built from it is in ops/schedule.h.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/problem.h"
#include "ops/stats/shard.h"

namespace testrund::ops {

enum class DistributionType { kSingle, kLoad, kLinear };

struct Distribution {
  static constexpr uint64_t kDefaultBacklog = 1000;
  static constexpr double kMinRate = 0.01;
  static constexpr double kMaxRate = 1'000'000;
  // Longest `duration` and longest sum of stage durations, so offsets fit in int64 ns.
  static constexpr double kMaxDurationSeconds = 100'000'000;
  static constexpr size_t kMaxStages = 10'000;

  struct Stage {
    double duration = 0;  // seconds, > 0
    double rate = 0;      // instances per second at the end of the stage, 0..kMaxRate
  };

  DistributionType type = DistributionType::kSingle;
  // Instances to start; 0 = until `duration` / `stages` end or cancel. `single`: always 1.
  uint64_t total = 1;
  // Most instances in progress at once (>= 1).
  uint64_t backlog = kDefaultBacklog;
  // `linear`: instances per second (kMinRate..kMaxRate); with stages, the rate before the
  // first stage (absent = 0).
  std::optional<double> rate;
  // Stop starting new instances after this many seconds (> 0).
  std::optional<double> duration;
  // Piecewise-linear rate ramp (`linear` only); empty = constant `rate`.
  std::vector<Stage> stages;
};

// Parses `value` (the `distribution` member, or nullptr when absent = {"type":"single"}).
// Appends one Problem per thing wrong to `problems` and returns what could be parsed; the
// result is meaningful only when nothing was appended. Rules:
// - `type`: "single" (default when absent), "load" or "linear".
// - `single` ignores every other member and has total 1.
// - `total`: integer >= 0; required for load/linear unless `duration` or `stages` given.
// - `backlog`: integer >= 1 (default 1000).
// - `rate`: 0.01..1,000,000; required for `linear` unless `stages` given; ignored by load.
// - `duration`: seconds, > 0 and <= kMaxDurationSeconds.
// - `stages` (`linear` only): non-empty array of {"duration" > 0, "rate" 0..1,000,000};
//   fields are named like "distribution.stages[2].rate".
Distribution ParseDistribution(const rapidjson::Value* value, Problems& problems);


}  // namespace testrund::ops
