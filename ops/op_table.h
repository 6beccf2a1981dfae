// SPDX-License-Identifier: Apache-2.0
// The operation types as data (STYLE.md "Data over code"): for every type its name, the
// attributes it knows (dotted path, kind, required, bounds, default) and the function that
// executes it. Program validation, execution and documentation all read this one table;
// adding a protocol op is one row here plus an executor file (ops/op_<family>.cpp).
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/problem.h"

namespace testrund::ops {

class Run;
struct Instance;
struct Op;

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
  kArguments,   // protocol ops: `arguments`, `expect`, `mandatory` (ops/op_protocol.h)
  kExpect,
  kMandatory,
  kCount,
};

enum class AttrKind : uint8_t {
  kLua,       // a string of Lua code, compiled at validation (SPEC §4 "Expressions")
  kTemplate,  // any JSON; strings wholly in `{...}` are Lua (ValueTemplate)
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
  kNext,      // continue at instance.pc (the executor set it)
  kParked,    // the instance now waits (timer or resume); the executor parked it
  kFinished,  // the instance ended (abort); the executor called Run::FinishInstance
};

// Executes `op` for `instance`. Precondition: instance.pc == op.idx. The executor sets pc
// to the next op for kNext. It never frees the instance itself (the Run does, after return).
using OpExecutor = StepOutcome (*)(Run& run, Instance& instance, const Op& op);

// Checks what the attribute table cannot express (a URL's scheme, a port's range, `hex` and
// `text` together, ...) in the op as given, at ExecuteTest time; values that are `{...}`
// expressions are checked when the op executes. Appends to `problems`.
using OpValidator = void (*)(const rapidjson::Value& op_json, int op_idx, Problems* problems);

struct OpTypeSpec {
  std::string_view name;
  std::span<const AttributeSpec> attributes;
  OpExecutor execute;
  bool records_latency;  // waits on something outside: gets a latency histogram per op
  OpValidator validate = nullptr;
};

// The type named `name`, or nullptr.
const OpTypeSpec* FindOpType(std::string_view name);
// Every known type, in table order (documentation, tests).
std::span<const OpTypeSpec> OpTypes();

// Executors of the logic family (ops/op_logic.cpp).
StepOutcome ExecuteEval(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteAssert(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteBranch(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteHalt(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteWait(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteComment(Run& run, Instance& instance, const Op& op);

// Protocol ops (ops/op_http.cpp): executor and validator of each.
StepOutcome ExecuteHttp(Run& run, Instance& instance, const Op& op);
void ValidateHttp(const rapidjson::Value& op_json, int op_idx, Problems* problems);
// ops/op_jsonrpc.cpp
StepOutcome ExecuteJsonRpc(Run& run, Instance& instance, const Op& op);
void ValidateJsonRpc(const rapidjson::Value& op_json, int op_idx, Problems* problems);

// Raw socket ops (ops/op_tcp.cpp, ops/op_udp.cpp).
StepOutcome ExecuteTcpConnect(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteTcpSend(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteTcpReceive(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteTcpClose(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteUdpSend(Run& run, Instance& instance, const Op& op);
StepOutcome ExecuteUdpReceive(Run& run, Instance& instance, const Op& op);
void ValidateTcpConnect(const rapidjson::Value& op_json, int op_idx, Problems* problems);
void ValidateTcpSend(const rapidjson::Value& op_json, int op_idx, Problems* problems);
void ValidateTcpReceive(const rapidjson::Value& op_json, int op_idx, Problems* problems);
void ValidateTcpClose(const rapidjson::Value& op_json, int op_idx, Problems* problems);
void ValidateUdpSend(const rapidjson::Value& op_json, int op_idx, Problems* problems);
void ValidateUdpReceive(const rapidjson::Value& op_json, int op_idx, Problems* problems);

}  // namespace testrund::ops
