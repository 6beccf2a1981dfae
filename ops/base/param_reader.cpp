// SPDX-License-Identifier: Apache-2.0
// ParamReader: typed reads of a client's JSON object with every problem collected (see
// param_reader.h).
#include "ops/base/param_reader.h"

#include <utility>

#include "ops/base/json_numbers.h"

namespace testrund::ops {
namespace {

std::string_view View(const rapidjson::Value& s) {
  return std::string_view(s.GetString(), s.GetStringLength());
}

std::string RangeText(int64_t min, int64_t max) {
  constexpr int64_t kLo = std::numeric_limits<int64_t>::min();
  constexpr int64_t kHi = std::numeric_limits<int64_t>::max();
  if (min != kLo && max != kHi) {
    return "between " + std::to_string(min) + " and " + std::to_string(max);
  }
  if (min != kLo) return "at least " + std::to_string(min);
  return "at most " + std::to_string(max);
}

std::string RangeText(const NumberRange& range) {
  constexpr double kHi = std::numeric_limits<double>::max();
  bool has_min = range.min != -kHi;
  bool has_max = range.max != kHi;
  if (range.min_exclusive) {
    std::string text = "greater than " + NumberText(range.min);
    if (has_max) text += " and at most " + NumberText(range.max);
    return text;
  }
  if (has_min && has_max) {
    return "between " + NumberText(range.min) + " and " + NumberText(range.max);
  }
  if (has_min) return "at least " + NumberText(range.min);
  return "at most " + NumberText(range.max);
}

bool InRange(double d, const NumberRange& range) {
  bool above_min = range.min_exclusive ? d > range.min : d >= range.min;
  return above_min && d <= range.max;
}

}  // namespace

std::optional<double> ReadNumber(const rapidjson::Value& value, NumberRange range) {
  std::optional<double> d = ParseNumber(value);
  if (!d || !InRange(*d, range)) return std::nullopt;
  return d;
}

std::string NumberProblem(const rapidjson::Value& value, NumberRange range,
                          std::string_view what) {
  std::string rule = ParseNumber(value) ? RangeText(range) : std::string(what);
  return "must be " + rule + ", got " + QuoteValue(value);
}

bool IsExpression(const rapidjson::Value& value) {
  if (!value.IsString()) return false;
  std::string_view s = View(value);
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

ParamReader::ParamReader(const rapidjson::Value& object)
    : object_(object), problems_(&own_) {}

ParamReader::ParamReader(const rapidjson::Value& object, Problems* problems, Place place)
    : object_(object), problems_(problems), place_(std::move(place)) {}

const rapidjson::Value* ParamReader::Get(std::string_view name) const {
  if (!object_.IsObject()) return nullptr;
  auto it = object_.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  if (it == object_.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

bool ParamReader::Deferred(const rapidjson::Value& value) const {
  return place_.defer_expressions && IsExpression(value);
}

std::string ParamReader::Field(std::string_view name) const {
  return place_.prefix + std::string(name);
}

ParamReader::ParamReader(const rapidjson::Value& object, ParamReader& outer,
                         std::string_view name)
    : object_(object), problems_(outer.problems_), place_(outer.place_) {
  place_.prefix = outer.Field(name) + ".";
}

void ParamReader::AddProblem(std::string_view name, std::string problem) {
  if (!object_.IsObject()) return;  // its owner reported what it is instead
  std::string field = Field(name);
  // A problem about the object itself ("arguments") has no trailing dot.
  if (name.empty() && !field.empty() && field.back() == '.') field.pop_back();
  problems_->push_back(Problem{place_.op_idx, std::move(field), std::move(problem)});
}

void ParamReader::Missing(std::string_view name) { AddProblem(name, "is required"); }

void ParamReader::WrongType(std::string_view name, std::string_view what,
                            const rapidjson::Value& value) {
  AddProblem(name, "must be " + std::string(what) + ", got " + QuoteValue(value));
}

void ParamReader::UnknownMembers(std::initializer_list<std::string_view> known) {
  if (!object_.IsObject()) return;
  for (const auto& member : object_.GetObject()) {
    std::string_view name = View(member.name);
    bool found = false;
    for (std::string_view k : known) found = found || k == name;
    if (!found) AddProblem(name, "is unknown");
  }
}

std::optional<std::string_view> ParamReader::OptionalString(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr || Deferred(*v)) return std::nullopt;
  if (!v->IsString()) {
    WrongType(name, "a string", *v);
    return std::nullopt;
  }
  return View(*v);
}

std::string_view ParamReader::RequiredString(std::string_view name) {
  if (Get(name) == nullptr) {
    Missing(name);
    return {};
  }
  return OptionalString(name).value_or(std::string_view());
}

std::optional<int64_t> ParamReader::OptionalInt(std::string_view name, IntRange range) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr || Deferred(*v)) return std::nullopt;
  std::optional<int64_t> n = ParseInteger(*v);
  // A JSON integer above INT64_MAX is an integer, just out of any range accepted.
  if (!n && !v->IsUint64()) {
    WrongType(name, "an integer", *v);
    return std::nullopt;
  }
  if (!n || *n < range.min || *n > range.max) {
    WrongType(name, RangeText(range.min, range.max), *v);
    return std::nullopt;
  }
  return n;
}

int64_t ParamReader::RequiredInt(std::string_view name, IntRange range) {
  if (Get(name) == nullptr) {
    Missing(name);
    return 0;
  }
  return OptionalInt(name, range).value_or(0);
}

std::optional<double> ParamReader::OptionalNumber(std::string_view name, NumberRange range,
                                                  std::string_view what) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr || Deferred(*v)) return std::nullopt;
  std::optional<double> d = ReadNumber(*v, range);
  if (!d) AddProblem(name, NumberProblem(*v, range, what));
  return d;
}

double ParamReader::RequiredNumber(std::string_view name, NumberRange range,
                                   std::string_view what) {
  if (Get(name) == nullptr) {
    Missing(name);
    return 0;
  }
  return OptionalNumber(name, range, what).value_or(0);
}

std::optional<bool> ParamReader::OptionalFlag(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr || Deferred(*v)) return std::nullopt;
  if (v->IsBool()) return v->GetBool();
  std::optional<int64_t> n = v->IsNumber() || v->IsString() ? ParseInteger(*v) : std::nullopt;
  if (n && (*n == 0 || *n == 1)) return *n == 1;
  WrongType(name, "0 or 1", *v);
  return std::nullopt;
}

std::optional<bool> ParamReader::OptionalBool(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr || Deferred(*v)) return std::nullopt;
  if (v->IsBool()) return v->GetBool();
  WrongType(name, "true or false", *v);
  return std::nullopt;
}

const rapidjson::Value* ParamReader::OptionalObject(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr || Deferred(*v)) return nullptr;
  if (!v->IsObject()) {
    WrongType(name, "an object", *v);
    return nullptr;
  }
  return v;
}

const rapidjson::Value* ParamReader::RequiredObject(std::string_view name) {
  if (Get(name) == nullptr) {
    Missing(name);
    return nullptr;
  }
  return OptionalObject(name);
}

const rapidjson::Value* ParamReader::OptionalArray(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr || Deferred(*v)) return nullptr;
  if (!v->IsArray()) {
    WrongType(name, "an array", *v);
    return nullptr;
  }
  return v;
}

const rapidjson::Value* ParamReader::RequiredArray(std::string_view name) {
  if (Get(name) == nullptr) {
    Missing(name);
    return nullptr;
  }
  return OptionalArray(name);
}

}  // namespace testrund::ops
