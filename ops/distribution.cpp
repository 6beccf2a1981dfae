// SPDX-License-Identifier: Apache-2.0
// ParseDistribution: the ExecuteTest `distribution` object -> Distribution, every problem
// collected (see distribution.h).
#include "ops/distribution.h"

#include "ops/base/json_writer.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace testrund::ops {

namespace {

// The value as the client wrote it (compact JSON), for quoting in a problem.
std::string Quote(const rapidjson::Value& value) {
  std::string out = JsonText(value);
  constexpr size_t kMaxQuote = 80;
  if (out.size() > kMaxQuote) out = out.substr(0, kMaxQuote) + "...";
  return out;
}

// A JSON integer, an integral float, or a decimal string like "41" / "-3".
std::optional<int64_t> AsInteger(const rapidjson::Value& value) {
  if (value.IsInt64()) return value.GetInt64();
  if (value.IsUint64()) return std::nullopt;  // beyond int64: out of every range here
  if (value.IsDouble()) {
    double d = value.GetDouble();
    if (std::trunc(d) == d && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
    return std::nullopt;
  }
  if (value.IsString()) {
    std::string_view s(value.GetString(), value.GetStringLength());
    size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    if (i == s.size() || s.size() - i > 18) return std::nullopt;
    int64_t n = 0;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      n = n * 10 + (s[i] - '0');
    }
    return s[0] == '-' ? -n : n;
  }
  return std::nullopt;
}

// A JSON number or a string that is entirely a decimal number ("2.5", "1e3").
std::optional<double> AsNumber(const rapidjson::Value& value) {
  if (value.IsNumber()) return value.GetDouble();
  if (value.IsString()) {
    std::string s(value.GetString(), value.GetStringLength());
    if (s.empty() || s.find_first_not_of("0123456789.eE+-") != std::string::npos) {
      return std::nullopt;
    }
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
    return d;
  }
  return std::nullopt;
}

class Parser {
 public:
  explicit Parser(Problems& problems) : problems_(problems) {}

  void Add(std::string field, std::string problem) {
    problems_.push_back(Problem{-1, std::move(field), std::move(problem)});
  }

  const rapidjson::Value* Member(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    return it == object.MemberEnd() ? nullptr : &it->value;
  }

  // `field` names the member in problems; `what` is the member's short name.
  std::optional<int64_t> Integer(const rapidjson::Value& v, const std::string& field,
                                 const char* what, int64_t min, const char* rule) {
    std::optional<int64_t> n = AsInteger(v);
    if (!n || *n < min) {
      Add(field, std::string(what) + " must be " + rule + ", got " + Quote(v));
      return std::nullopt;
    }
    return n;
  }

  std::optional<double> Number(const rapidjson::Value& v, const std::string& field,
                               const char* what, double min, bool min_inclusive, double max,
                               const char* rule) {
    std::optional<double> d = AsNumber(v);
    if (!d || (min_inclusive ? *d < min : *d <= min) || *d > max) {
      Add(field, std::string(what) + " must be " + rule + ", got " + Quote(v));
      return std::nullopt;
    }
    return d;
  }

 private:
  Problems& problems_;
};

constexpr const char* kRateRule = "a number from 0.01 to 1000000";
constexpr const char* kStageRateRule = "a number from 0 to 1000000";
constexpr const char* kDurationRule = "a number of seconds > 0 and <= 100000000";

}  // namespace

Distribution ParseDistribution(const rapidjson::Value* value, Problems& problems) {
  Distribution d;
  if (value == nullptr) return d;
  Parser p(problems);
  if (!value->IsObject()) {
    p.Add("distribution", "distribution must be an object, got " + Quote(*value));
    return d;
  }

  if (const rapidjson::Value* type = p.Member(*value, "type")) {
    std::string_view name =
        type->IsString() ? std::string_view(type->GetString(), type->GetStringLength()) : "";
    if (name == "single") {
      d.type = DistributionType::kSingle;
    } else if (name == "load") {
      d.type = DistributionType::kLoad;
    } else if (name == "linear") {
      d.type = DistributionType::kLinear;
    } else {
      p.Add("distribution.type", "unknown distribution type " + Quote(*type) +
                                     " (expected \"single\", \"load\" or \"linear\")");
      return d;
    }
  }
  if (d.type == DistributionType::kSingle) return d;  // one instance; nothing else applies
  const char* type_name = d.type == DistributionType::kLoad ? "load" : "linear";

  if (const rapidjson::Value* backlog = p.Member(*value, "backlog")) {
    if (auto n = p.Integer(*backlog, "distribution.backlog", "backlog", 1, "an integer >= 1")) {
      d.backlog = static_cast<uint64_t>(*n);
    }
  }

  if (const rapidjson::Value* duration = p.Member(*value, "duration")) {
    d.duration = p.Number(*duration, "distribution.duration", "duration", 0, false,
                          Distribution::kMaxDurationSeconds, kDurationRule);
  }

  const rapidjson::Value* stages = p.Member(*value, "stages");
  bool stages_given = stages != nullptr;
  if (stages != nullptr && d.type != DistributionType::kLinear) {
    p.Add("distribution.stages",
          std::string("stages need type \"linear\", got type \"") + type_name + "\"");
  } else if (stages != nullptr) {
    if (!stages->IsArray() || stages->Empty()) {
      p.Add("distribution.stages", "stages must be a non-empty array, got " + Quote(*stages));
    } else if (stages->Size() > Distribution::kMaxStages) {
      p.Add("distribution.stages", "stages has " + std::to_string(stages->Size()) +
                                       " entries, more than the limit of " +
                                       std::to_string(Distribution::kMaxStages));
    } else {
      double sum = 0;
      for (rapidjson::SizeType i = 0; i < stages->Size(); ++i) {
        const rapidjson::Value& s = (*stages)[i];
        std::string field = "distribution.stages[" + std::to_string(i) + "]";
        if (!s.IsObject()) {
          p.Add(field, "stage must be an object, got " + Quote(s));
          continue;
        }
        Distribution::Stage stage;
        bool ok = true;
        if (const rapidjson::Value* sd = p.Member(s, "duration")) {
          auto v = p.Number(*sd, field + ".duration", "duration", 0, false,
                            Distribution::kMaxDurationSeconds, kDurationRule);
          ok = ok && v.has_value();
          stage.duration = v.value_or(0);
        } else {
          p.Add(field + ".duration", "duration is required in every stage");
          ok = false;
        }
        if (const rapidjson::Value* sr = p.Member(s, "rate")) {
          auto v = p.Number(*sr, field + ".rate", "rate", 0, true, Distribution::kMaxRate,
                            kStageRateRule);
          ok = ok && v.has_value();
          stage.rate = v.value_or(0);
        } else {
          p.Add(field + ".rate", "rate is required in every stage");
          ok = false;
        }
        if (ok) {
          sum += stage.duration;
          d.stages.push_back(stage);
        }
      }
      if (sum > Distribution::kMaxDurationSeconds) {
        p.Add("distribution.stages",
              fmt::format("the stages last {} seconds in all, more than 100000000", sum));
      }
    }
  }

  if (const rapidjson::Value* rate = p.Member(*value, "rate")) {
    // `load` ignores its rate: it starts as fast as backlog allows.
    if (d.type == DistributionType::kLinear) {
      d.rate = p.Number(*rate, "distribution.rate", "rate", Distribution::kMinRate, true,
                        Distribution::kMaxRate, kRateRule);
    }
  } else if (d.type == DistributionType::kLinear && !stages_given) {
    p.Add("distribution.rate", "rate is required for type \"linear\" unless stages is given");
  }

  if (const rapidjson::Value* total = p.Member(*value, "total")) {
    if (auto n = p.Integer(*total, "distribution.total", "total", 0, "a non-negative integer")) {
      d.total = static_cast<uint64_t>(*n);
    }
  } else if (!d.duration.has_value() && !stages_given && !p.Member(*value, "duration")) {
    p.Add("distribution.total", std::string("total is required for type \"") + type_name +
                                    "\" unless duration or stages is given");
  } else {
    d.total = 0;  // bounded by duration / stages
  }
  return d;
}

}  // namespace testrund::ops
