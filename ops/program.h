// SPDX-License-Identifier: Apache-2.0
// Program: the validated, compiled form of an ExecuteTest `operations` array
// (docs/operations.md). Built once per run; validation collects every problem at once:
// unknown types, missing or ill-typed attributes, duplicate and unresolved labels,
// out-of-range durations, Lua syntax errors, and what each protocol family checks in its
// `arguments` and `expect`. Labels are resolved to op indices and every expression
// (including `{...}` values) is compiled once into the run's LuaSandbox, so nothing is
// parsed again while instances run.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/lua/lua_sandbox.h"
#include "ops/op_table.h"
#include "ops/base/problem.h"
#include "ops/lua/value_template.h"

namespace testrund::ops {

// Value of LUA_NOREF, without pulling lua.h into every includer.
constexpr int kNoLuaRef = -2;

// One validated operation.
struct Op {
  int idx = 0;
  const OpTypeSpec* type = nullptr;
  std::string label;                 // empty: none
  int expression_ref = kNoLuaRef;    // Slot::kExpression, compiled Lua
  // Template attributes by slot (pass, fail, abort, text, comment, seconds when `{...}`);
  // an absent attribute is an empty() template.
  std::array<ValueTemplate, static_cast<size_t>(Slot::kCount)> templates;
  int on_true = -1;                  // resolved label index; -1 = fall through
  int on_false = -1;
  // kSeconds attributes: a constant duration (when seconds_template is false), and the
  // attribute and its bound, checked again for `{...}` values.
  bool seconds_template = false;
  MonoNs duration = 0;
  std::string_view seconds_field;
  double max_seconds = 0;
  // The op as given plus "idx", for `halted[].operation`; its memory belongs to the
  // Program's document.
  rapidjson::Value echo;
  size_t echo_bytes = 0;             // echo's length as JSON text (bounds the halted list)
  // What the op's executor derived from its constant attributes, kept for every later
  // instance (http: the parsed request and expectations). Set and read only by the
  // executor of the op's own type, on first use.
  mutable std::shared_ptr<const void> prepared;

  const ValueTemplate& Template(Slot slot) const {
    return templates[static_cast<size_t>(slot)];
  }
};

class Program {
 public:
  // Validates and compiles `operations` (the ExecuteTest param) into `lua`. Every problem
  // is appended to `problems`; returns nullptr when there was at least one. Problem texts
  // quote the offending value (e.g. `unknown operation type "nosuch"`).
  static std::unique_ptr<Program> Build(const rapidjson::Value& operations, LuaSandbox& lua,
                                        const OpTable& op_types, size_t max_operations,
                                        Problems* problems);

  size_t size() const { return ops_.size(); }
  const Op& op(size_t idx) const { return ops_[idx]; }

 private:
  Program() = default;
  std::vector<Op> ops_;
  rapidjson::Document echoes_;  // the allocator of every Op::echo
};

// The longest halt or wait of any kind (as `distribution.duration`): far from where the
// nanosecond clock (int64) would overflow, which a wait of 1e10 s reached.
constexpr double kMaxSeconds = 100'000'000;

// A halt or wait duration: a number of seconds (or a decimal string) greater than 0 and at
// most `max_seconds` (and kMaxSeconds); nullopt when `value` is not one.
std::optional<double> ReadSeconds(const rapidjson::Value& value, double max_seconds);
// Why ReadSeconds refused `value`, as a problem of attribute `field`.
Problem SecondsProblem(std::string_view field, const rapidjson::Value& value,
                       double max_seconds);

}  // namespace testrund::ops
