// SPDX-License-Identifier: Apache-2.0
// Program: the validated, compiled form of an ExecuteTest `operations` array (DESIGN.md
// "The engine"). Built once per run; validation collects every problem at once (SPEC §2,
// §4): unknown types, missing or ill-typed attributes, duplicate and unresolved labels,
// out-of-range durations and Lua syntax errors. Labels are resolved to op indices and every
// expression (including `{...}` values) is compiled once into the run's LuaSandbox, so
// nothing is parsed again while instances run.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/base/json_writer.h"  // JsonText, used with problems everywhere
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
  // kSeconds attributes: a constant duration (when seconds_template is false), with its
  // JSON-number text for messages ("1", "0.5").
  bool seconds_template = false;
  MonoNs duration = 0;
  std::string seconds_text;
  double max_seconds = 0;            // the bound checked again for `{...}` values
  // The op as given plus "idx", for `halted[].operation` (SPEC §3); its memory belongs to
  // the Program's document.
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
                                        size_t max_operations, Problems* problems);

  size_t size() const { return ops_.size(); }
  const Op& op(size_t idx) const { return ops_[idx]; }

 private:
  Program() = default;
  std::vector<Op> ops_;
  rapidjson::Document echoes_;  // the allocator of every Op::echo
};

// A duration in seconds written as a JSON number: integral values without a fraction
// ("1"), others in shortest round-trip form ("0.5").
std::string SecondsText(double seconds);

// Parses a seconds value given as a number or a decimal string. False when it is neither.
bool ParseSeconds(const rapidjson::Value& value, double* seconds);

// The longest halt or wait of any kind (as `distribution.duration`): far from where the
// nanosecond clock (int64) would overflow, which a wait of 1e10 s reached.
constexpr double kMaxSeconds = 100'000'000;


}  // namespace testrund::ops
