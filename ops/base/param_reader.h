// SPDX-License-Identifier: Apache-2.0
// ParamReader: the one reader of JSON objects a client sends — a method's params,
// ExecuteTest's top level and its `distribution`, an op's `arguments` and `expect`. Each
// getter reads one member and, when it is wrong, records a Problem instead of failing, so
// that one -32602 answer lists everything wrong at once (docs/api.md#error-codes). Integers and
// numbers also accept decimal strings (ops/base/json_numbers.h); unknown members are
// ignored unless UnknownMembers() is asked.
//
//   ParamReader p(params);
//   std::string_view run_id = p.RequiredString("run_id");
//   int64_t instance_id = p.RequiredInt("instance_id", {.min = 0});
//   if (!p.ok()) return InvalidParams(p.problems(), ...);
//
// Problem texts: "is required", "must be <what>, got <QuoteValue>", "must be <range>, got
// <value>" ("between 0 and 3", "at least 1", "at most 40", "greater than 0 and at most
// 600"), with the field named separately ("distribution.rate", "arguments.port").
//
// An op's attributes are read twice by the same code: when ExecuteTest validates the op as
// given, where a string wholly in `{...}` is an expression not known yet (Place::
// defer_expressions: every getter passes it over), and when the op executes, on the values
// its expressions produced (then the first problem aborts the instance).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/problem.h"

namespace testrund::ops {

struct IntRange {
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
};

struct NumberRange {
  double min = -std::numeric_limits<double>::max();
  double max = std::numeric_limits<double>::max();
  bool min_exclusive = false;  // min itself is refused ("greater than 0")
};

// True when `value` is a string wholly wrapped in `{...}`: a Lua expression in an op
// attribute (docs/operations.md#expressions).
bool IsExpression(const rapidjson::Value& value);

// One value read as a number in `range` (ParseNumber); nullopt when it is not one.
std::optional<double> ReadNumber(const rapidjson::Value& value, NumberRange range);
// Why ReadNumber refused `value`: "must be <what>, got <value>" or "must be <range>, got
// <value>".
std::string NumberProblem(const rapidjson::Value& value, NumberRange range,
                          std::string_view what = "a number");

class ParamReader {
 public:
  // Where the object sits, for the problems' op_idx and field.
  struct Place {
    int op_idx = -1;
    std::string prefix{};  // prepended to member names: "distribution.", "arguments."
    bool defer_expressions = false;
  };

  // Reads `object` (borrowed: it must outlive the reader and every view it returns),
  // keeping its problems itself.
  explicit ParamReader(const rapidjson::Value& object);
  // The same, appending problems to `problems` (shared with other readers).
  ParamReader(const rapidjson::Value& object, Problems* problems, Place place);
  // Reads `object`, the member (or element) `name` of what `outer` reads: problems go to
  // outer's list, fields are prefixed "<outer's prefix><name>.".
  ParamReader(const rapidjson::Value& object, ParamReader& outer, std::string_view name);
  ParamReader(const ParamReader&) = delete;
  ParamReader& operator=(const ParamReader&) = delete;

  // Every getter: an absent member, or one that is JSON null, is "not given" (and so is an
  // expression when they are deferred). A required one not given, or any given with the
  // wrong type or out of range, records a problem; the getter then returns nullopt / an
  // empty or zero value / nullptr. A reader of something that is not an object reads
  // nothing and records nothing (its owner reported that).

  // The member's value, or nullptr when absent or null. Records nothing.
  const rapidjson::Value* Get(std::string_view name) const;
  // Whether `value` is an expression this reader passes over.
  bool Deferred(const rapidjson::Value& value) const;
  // Whether this reader reads a definition as given (expressions deferred), not the values
  // an executing op evaluated.
  bool defers_expressions() const { return place_.defer_expressions; }

  // A JSON string (a view into the object; may contain NUL bytes).
  std::optional<std::string_view> OptionalString(std::string_view name);
  std::string_view RequiredString(std::string_view name);
  // A JSON integer, an integral number or a decimal string ("41", "-3").
  std::optional<int64_t> OptionalInt(std::string_view name, IntRange range = {});
  int64_t RequiredInt(std::string_view name, IntRange range = {});
  // A finite JSON number or a string holding one ("0.5"). `what` names it in the type
  // problem ("a number", "a number of seconds").
  std::optional<double> OptionalNumber(std::string_view name, NumberRange range = {},
                                       std::string_view what = "a number");
  double RequiredNumber(std::string_view name, NumberRange range = {},
                        std::string_view what = "a number");
  // true/false, or 0/1 as a number or string (N2SVCD's flags).
  std::optional<bool> OptionalFlag(std::string_view name);
  // true or false only.
  std::optional<bool> OptionalBool(std::string_view name);
  const rapidjson::Value* OptionalObject(std::string_view name);
  const rapidjson::Value* RequiredObject(std::string_view name);
  const rapidjson::Value* OptionalArray(std::string_view name);
  const rapidjson::Value* RequiredArray(std::string_view name);

  // Records `problem` about member `name` ("" for the object itself).
  void AddProblem(std::string_view name, std::string problem);
  // Records "is required" for `name`.
  void Missing(std::string_view name);
  // Records "is unknown" for every member not in `known`.
  void UnknownMembers(std::initializer_list<std::string_view> known);
  // "must be <what>, got <value>" for `name`.
  void WrongType(std::string_view name, std::string_view what, const rapidjson::Value& value);

  // The field a problem about member `name` carries: prefix + name.
  std::string Field(std::string_view name) const;

  // No problem was recorded (in the shared list, by anyone).
  bool ok() const { return problems_->empty(); }
  const Problems& problems() const { return *problems_; }
  const rapidjson::Value& object() const { return object_; }

 private:
  const rapidjson::Value& object_;
  Problems own_;
  Problems* problems_;
  Place place_;
};

}  // namespace testrund::ops
