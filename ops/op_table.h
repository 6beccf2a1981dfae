// SPDX-License-Identifier: Apache-2.0
// The operation types as data: for every type its name, the attributes it knows (dotted
// path, kind, required, bounds, default), whether it waits on something outside (a latency
// histogram per op) or needs sockets, and the functions that check and execute it. Program
// validation, execution and the documentation's tests all read these rows
// (docs/operations.md). Each op family owns its rows (ops/op_logic.cpp; the protocol
// families in ops/protocol/); an OpTable is the set of families an engine runs, so the core
// builds and runs without the protocol ops.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "ops/base/param_reader.h"

namespace testrund::ops {

class OpContext;

// Where a validated attribute is kept in an Op (ops/program.h).
enum class Slot : uint8_t {
  kExpression,  // Lua code (eval, assert, branch)
  kPass,        // assert texts
  kFail,
  kAbort,
  kText,        // comment text
  kOnTrue,      // branch labels
  kOnFalse,
  kSeconds,     // halt / wait duration
  kComment,     // halt comment
  kArguments,   // protocol ops: `arguments`, `expect`, `mandatory`
  kExpect,
  kMandatory,
  kCount,
};

enum class AttrKind : uint8_t {
  kLua,       // a string of Lua code, compiled at validation (docs/operations.md)
  kTemplate,  // any JSON; strings wholly in `{...}` are Lua (ValueTemplate)
  kObject,    // a template that must be an object (or an expression yielding one)
  kFlag,      // a template that must be true or false (or an expression yielding one)
  kLabel,     // a string naming another op's `label`, resolved to its index
  kSeconds,   // a number (or decimal string) in (0, max]; `{...}` is checked at execution
};

struct AttributeSpec {
  std::string_view path;  // dotted path inside the op, e.g. "arguments.seconds"
  AttrKind kind;
  bool required;
  Slot slot;
  double max_seconds = std::numeric_limits<double>::infinity();  // kSeconds only
  double default_seconds = 0;                                     // kSeconds, when absent
};

// What executing one op did to the instance.
enum class StepOutcome : uint8_t {
  kNext,      // continue at the instance's pc (the executor set it)
  kParked,    // the instance now waits (timer or resume); the executor parked it
  kFinished,  // the instance ended (abort); the executor aborted it
};

// Executes the op of `ctx` for its instance. Precondition: the instance's pc is the op's
// index. The executor sets pc to the next op for kNext. It never frees the instance (the
// Run does, after the step).
using OpExecutor = StepOutcome (*)(OpContext& ctx);

// Checks what the attribute rows cannot express inside an op's `arguments` and `expect`
// objects (a URL's scheme, a port's range, `hex` and `text` together, ...), at ExecuteTest
// on the op as given: the readers defer `{...}` values, checked when the op executes.
using OpValidator = void (*)(ParamReader& arguments, ParamReader& expect);

struct OpTypeSpec {
  std::string_view name;
  std::span<const AttributeSpec> attributes;
  OpExecutor execute;
  bool records_latency;  // waits on something outside: gets a latency histogram per op
  // Uses sockets: without an IoContext the instance aborts before the executor runs, and
  // `arguments`, `expect` or `mandatory` given to a type without such a row are refused.
  bool needs_io = false;
  OpValidator validate = nullptr;
};

// The op types one engine knows: the families it was built with.
class OpTable {
 public:
  // Every row of every family, in order. Names must be unique (CHECKed).
  explicit OpTable(std::initializer_list<std::span<const OpTypeSpec>> families);

  // The type named `name`, or nullptr.
  const OpTypeSpec* Find(std::string_view name) const;
  // Every type, in family order (documentation, tests).
  const std::vector<const OpTypeSpec*>& types() const { return types_; }

 private:
  std::vector<const OpTypeSpec*> types_;
};

// The logic family's rows: eval, assert, branch, halt, wait, comment (ops/op_logic.cpp).
std::span<const OpTypeSpec> LogicOpTypes();
// A table of the logic family alone: an engine without protocol ops.
const OpTable& LogicOpTable();

}  // namespace testrund::ops
