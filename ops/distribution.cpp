// SPDX-License-Identifier: Apache-2.0
// ParseDistribution: the ExecuteTest `distribution` object -> Distribution, every problem
// collected (see distribution.h).
#include "ops/distribution.h"

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "ops/base/json_numbers.h"
#include "ops/base/param_reader.h"

namespace testrund::ops {
namespace {

constexpr NumberRange kRate{.min = Distribution::kMinRate, .max = Distribution::kMaxRate};
constexpr NumberRange kStageRate{.min = 0, .max = Distribution::kMaxRate};
constexpr NumberRange kDuration{
    .min = 0, .max = Distribution::kMaxDurationSeconds, .min_exclusive = true};
constexpr std::string_view kSeconds = "a number of seconds";

std::optional<DistributionType> ReadType(ParamReader& p) {
  const rapidjson::Value* type = p.Get("type");
  if (type == nullptr) return DistributionType::kSingle;
  std::string_view name =
      type->IsString() ? std::string_view(type->GetString(), type->GetStringLength()) : "";
  if (name == "single") return DistributionType::kSingle;
  if (name == "load") return DistributionType::kLoad;
  if (name == "linear") return DistributionType::kLinear;
  p.WrongType("type", R"(one of "single", "load", "linear")", *type);
  return std::nullopt;
}

// `stages` of a linear distribution into d->stages. Returns whether stages were given.
bool ReadStages(ParamReader& p, std::string_view type_name, Distribution* d) {
  const rapidjson::Value* stages = p.Get("stages");
  if (stages == nullptr) return false;
  if (d->type != DistributionType::kLinear) {
    p.AddProblem("stages", fmt::format(R"(needs type "linear", got type "{}")", type_name));
    return true;
  }
  if (!stages->IsArray() || stages->Empty()) {
    p.WrongType("stages", "a non-empty array", *stages);
    return true;
  }
  if (stages->Size() > Distribution::kMaxStages) {
    p.AddProblem("stages", fmt::format("has {} entries, more than the limit of {}",
                                       stages->Size(), Distribution::kMaxStages));
    return true;
  }
  double sum = 0;
  for (rapidjson::SizeType i = 0; i < stages->Size(); ++i) {
    std::string name = fmt::format("stages[{}]", i);
    const rapidjson::Value& json = (*stages)[i];
    if (!json.IsObject()) {
      p.WrongType(name, "an object", json);
      continue;
    }
    ParamReader stage(json, p, name);
    size_t before = p.problems().size();
    Distribution::Stage parsed;
    parsed.duration = stage.RequiredNumber("duration", kDuration, kSeconds);
    parsed.rate = stage.RequiredNumber("rate", kStageRate);
    if (p.problems().size() != before) continue;
    sum += parsed.duration;
    d->stages.push_back(parsed);
  }
  if (sum > Distribution::kMaxDurationSeconds) {
    p.AddProblem("stages", fmt::format("last {} seconds in all, more than {}", sum,
                                       NumberText(Distribution::kMaxDurationSeconds)));
  }
  return true;
}

}  // namespace

Distribution ParseDistribution(const rapidjson::Value* value, Problems& problems) {
  Distribution d;
  if (value == nullptr || value->IsNull()) return d;
  if (!value->IsObject()) {
    problems.push_back({-1, "distribution", "must be an object, got " + QuoteValue(*value)});
    return d;
  }
  ParamReader p(*value, &problems, {.prefix = "distribution."});
  std::optional<DistributionType> type = ReadType(p);
  if (!type) return d;
  d.type = *type;
  if (d.type == DistributionType::kSingle) return d;  // one instance; nothing else applies
  std::string_view type_name = d.type == DistributionType::kLoad ? "load" : "linear";

  if (auto backlog = p.OptionalInt("backlog", {.min = 1})) {
    d.backlog = static_cast<uint64_t>(*backlog);
  }
  bool duration_given = p.Get("duration") != nullptr;
  d.duration = p.OptionalNumber("duration", kDuration, kSeconds);
  bool stages_given = ReadStages(p, type_name, &d);
  if (p.Get("rate") != nullptr) {
    // `load` ignores its rate: it starts as fast as backlog allows.
    if (d.type == DistributionType::kLinear) d.rate = p.OptionalNumber("rate", kRate);
  } else if (d.type == DistributionType::kLinear && !stages_given) {
    p.AddProblem("rate", R"(is required for type "linear" unless stages is given)");
  }
  if (p.Get("total") != nullptr) {
    if (auto total = p.OptionalInt("total", {.min = 0})) d.total = static_cast<uint64_t>(*total);
  } else if (!duration_given && !stages_given) {
    p.AddProblem("total", fmt::format(R"(is required for type "{}" unless duration or stages )"
                                      "is given",
                                      type_name));
  } else {
    d.total = 0;  // bounded by duration / stages
  }
  return d;
}

}  // namespace testrund::ops
