// SPDX-License-Identifier: Apache-2.0
// Params: reads a method's by-name params and collects every problem, so that a handler
// answers one -32602 listing them all (SPEC §2: data is [{"op_idx"?, "field", "problem"}],
// each problem quoting the offending value). Integers also accept a decimal string ("41"),
// because N2SVCD clients send both. Unknown params are ignored.
//
//   Params p(params);
//   std::string_view run_id = p.RequiredString("run_id");
//   int64_t instance_id = p.RequiredInt("instance_id", {.min = 0});
//   if (!p.ok()) return p.Error(ctx.allocator);
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/problem.h"
#include "rpc/errors.h"
#include "rpc/methods.h"

namespace testrund::rpc {

struct IntRange {
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
};

struct NumberRange {
  double min = -std::numeric_limits<double>::max();
  double max = std::numeric_limits<double>::max();
};

class Params {
 public:
  // `object` must be a JSON object (a handler's params always are); borrowed, must outlive
  // this and every view/pointer returned.
  explicit Params(const rapidjson::Value& object) : object_(object) {}

  // Every getter: an absent parameter or one that is JSON null is "not given". A required
  // one not given, or any given with the wrong type or out of range, records a problem;
  // the getter then returns nullopt / an empty or zero value / nullptr.

  // A JSON string (views into the request; may contain NUL bytes).
  std::optional<std::string_view> OptionalString(std::string_view name);
  std::string_view RequiredString(std::string_view name);

  // A JSON integer, a number with an integral value, or a decimal string ("41", "-3").
  std::optional<int64_t> OptionalInt(std::string_view name, IntRange range = {});
  int64_t RequiredInt(std::string_view name, IntRange range = {});

  // A finite JSON number or a string holding one ("0.5").
  std::optional<double> OptionalNumber(std::string_view name, NumberRange range = {});
  double RequiredNumber(std::string_view name, NumberRange range = {});

  // true/false, or 0/1 as a number or string (N2SVCD's flags).
  std::optional<bool> OptionalFlag(std::string_view name);

  const rapidjson::Value* OptionalObject(std::string_view name);
  const rapidjson::Value* RequiredObject(std::string_view name);
  const rapidjson::Value* OptionalArray(std::string_view name);
  const rapidjson::Value* RequiredArray(std::string_view name);

  // Records a problem a handler found itself (e.g. a run_id with a forbidden character).
  void AddProblem(std::string field, std::string problem, int op_idx = -1);

  bool ok() const { return problems_.empty(); }
  const ops::Problems& problems() const { return problems_; }

  // The -32602 error for the problems recorded so far (call only when !ok()); `data` is
  // built in `allocator`.
  RpcError Error(Allocator& allocator) const;

 private:
  // The member's value, or nullptr when absent or null.
  const rapidjson::Value* Get(std::string_view name) const;
  void Missing(std::string_view name);
  void WrongType(std::string_view name, std::string_view expected, const rapidjson::Value& v);

  const rapidjson::Value& object_;
  ops::Problems problems_;
};

// The -32602 error for `problems` (non-empty): message "Invalid params: <field> <problem>"
// for the first few, data the whole list [{"op_idx"? , "field", "problem"}] (op_idx only
// when >= 0). Used by Params and by handlers that get problems from the engine.
RpcError InvalidParams(const ops::Problems& problems, Allocator& allocator);

// A short human quote of a JSON value for a problem text: strings JSON-quoted (long ones
// cut, marked with "..."), numbers as written, "true"/"false"/"null", "an object",
// "an array".
std::string DescribeValue(const rapidjson::Value& v);

}  // namespace testrund::rpc
