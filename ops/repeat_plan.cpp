// SPDX-License-Identifier: Apache-2.0
// ExecuteTest `repeat` (see repeat_plan.h).
#include "ops/repeat_plan.h"

#include <fmt/format.h>

namespace testrund::ops {

std::optional<RepeatPlan> ReadRepeatPlan(ParamReader& p) {
  const rapidjson::Value* object = p.OptionalObject("repeat");
  if (object == nullptr) return std::nullopt;
  ParamReader r(*object, p, "repeat");
  size_t problems_before = r.problems().size();
  RepeatPlan plan;
  int64_t count = r.RequiredInt("count", {.min = 0, .max = kMaxRepeatCount});
  std::optional<double> interval =
      r.OptionalNumber("interval", {.min = 0, .max = kMaxRepeatInterval}, "seconds");
  std::optional<std::string_view> from = r.OptionalString("from");
  r.UnknownMembers({"count", "interval", "from"});
  if (from && *from != "end" && *from != "start") {
    r.AddProblem("from", fmt::format("must be \"end\" or \"start\", got \"{}\"", *from));
    return std::nullopt;
  }
  plan.from = from && *from == "start" ? RepeatPlan::From::kStart : RepeatPlan::From::kEnd;
  plan.interval = interval.value_or(0);
  if (plan.from == RepeatPlan::From::kStart && r.Get("interval") == nullptr) {
    r.Missing("interval");
    return std::nullopt;
  }
  if (plan.from == RepeatPlan::From::kStart && interval && *interval < kMinCadenceInterval) {
    r.AddProblem("interval", fmt::format("must be at least {} s with from \"start\", got {}",
                                         kMinCadenceInterval, *interval));
    return std::nullopt;
  }
  if (r.problems().size() != problems_before) return std::nullopt;
  plan.count = static_cast<uint64_t>(count);
  return plan;
}

}  // namespace testrund::ops
