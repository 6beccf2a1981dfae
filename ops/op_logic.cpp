// SPDX-License-Identifier: Apache-2.0
// The logic and control ops (docs/operations.md): eval, assert, branch, halt, wait,
// comment — their executors and their rows of the op table.
//
// Tracing (first call only): a halt's comment is always a trace.notice when the halt
// starts; a comment op's text is a trace.notice at trace_level >= 1; trace_level >= 2 adds a
// trace.debug "op <idx> (<type>)" for every op executed (ops/run.cpp); trace_level 3 adds a
// trace.spam with the JSON value of every eval/assert/branch expression.
#include <cmath>
#include <string>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/base/json_numbers.h"
#include "ops/base/json_writer.h"
#include "ops/run.h"  // OpContext and its inline accessors
#include "ops/op_table.h"
#include "ops/program.h"

namespace testrund::ops {
namespace {

constexpr StaticText kAssertTrue{"Assert tested TRUE."};
constexpr StaticText kAssertFalse{"Assert tested FALSE."};

// Calls the op's expression and reads its truth (Lua truthiness). False: the instance
// aborted.
bool Truth(OpContext& ctx, bool* truth) {
  if (!ctx.CallExpression()) return false;
  lua_State* L = ctx.lua().state();
  *truth = lua_toboolean(L, -1) != 0;
  lua_pop(L, 1);
  return true;
}

// The duration of a halt/wait: the constant, or the `{...}` value checked now. False: the
// instance aborted (bad value).
bool Duration(OpContext& ctx, MonoNs* duration) {
  const Op& op = ctx.op();
  if (!op.seconds_template) {
    *duration = op.duration;
    return true;
  }
  rapidjson::Document doc;
  if (!ctx.EvaluateValue(Slot::kSeconds, doc, doc.GetAllocator())) return false;
  std::optional<double> seconds = ReadSeconds(doc, op.max_seconds);
  if (!seconds) {
    ctx.Abort(SecondsProblem(op.seconds_field, doc, op.max_seconds).Text());
    return false;
  }
  *duration = std::max<MonoNs>(1, std::llround(*seconds * kNsPerSecond));
  return true;
}

StepOutcome ExecuteEval(OpContext& ctx) {
  if (!ctx.RunExpression()) return StepOutcome::kFinished;
  ++ctx.instance().pc;
  return StepOutcome::kNext;
}

StepOutcome ExecuteAssert(OpContext& ctx) {
  const Op& op = ctx.op();
  if (ctx.turbo_skips_asserts()) {
    ++ctx.instance().pc;
    return StepOutcome::kNext;
  }
  bool truth = false;
  if (!Truth(ctx, &truth)) return StepOutcome::kFinished;
  std::string text;
  if (truth) {
    if (op.Template(Slot::kPass).empty()) {
      ctx.Check(CheckStatus::kPass, kAssertTrue);  // no copy
    } else if (!ctx.EvaluateText(Slot::kPass, &text)) {
      return StepOutcome::kFinished;
    } else {
      ctx.Check(CheckStatus::kPass, text);
    }
  } else if (!op.Template(Slot::kAbort).empty()) {
    // `abort` present: a false result ends the instance and `fail` is ignored.
    if (!ctx.EvaluateText(Slot::kAbort, &text)) return StepOutcome::kFinished;
    ctx.Abort(text);
    return StepOutcome::kFinished;
  } else if (op.Template(Slot::kFail).empty()) {
    ctx.Check(CheckStatus::kFail, kAssertFalse);
  } else if (!ctx.EvaluateText(Slot::kFail, &text)) {
    return StepOutcome::kFinished;
  } else {
    ctx.Check(CheckStatus::kFail, text);
  }
  ++ctx.instance().pc;
  return StepOutcome::kNext;
}

StepOutcome ExecuteBranch(OpContext& ctx) {
  bool truth = false;
  if (!Truth(ctx, &truth)) return StepOutcome::kFinished;
  int target = truth ? ctx.op().on_true : ctx.op().on_false;
  Instance& instance = ctx.instance();
  instance.pc = target >= 0 ? target : instance.pc + 1;
  return StepOutcome::kNext;
}

StepOutcome ExecuteHalt(OpContext& ctx) {
  MonoNs duration = 0;
  if (!Duration(ctx, &duration)) return StepOutcome::kFinished;
  if (ctx.traces() && !ctx.op().Template(Slot::kComment).empty()) {
    std::string comment;
    if (!ctx.EvaluateText(Slot::kComment, &comment)) return StepOutcome::kFinished;
    ctx.Trace("trace.notice", comment);
  }
  ctx.Park(duration, /*halt=*/true);
  return StepOutcome::kParked;
}

StepOutcome ExecuteWait(OpContext& ctx) {
  MonoNs duration = 0;
  if (!Duration(ctx, &duration)) return StepOutcome::kFinished;
  ctx.Park(duration, /*halt=*/false);
  return StepOutcome::kParked;
}

StepOutcome ExecuteComment(OpContext& ctx) {
  if (ctx.trace_level() >= 1 && ctx.traces() && !ctx.op().Template(Slot::kText).empty()) {
    std::string text;
    if (!ctx.EvaluateText(Slot::kText, &text)) return StepOutcome::kFinished;
    ctx.Trace("trace.notice", text);
  }
  ++ctx.instance().pc;
  return StepOutcome::kNext;
}

constexpr double kMaxHaltSeconds = 600;
constexpr double kDefaultHaltSeconds = 60;

constexpr AttributeSpec kEvalAttributes[] = {
    {"expression", AttrKind::kLua, true, Slot::kExpression},
};
constexpr AttributeSpec kAssertAttributes[] = {
    {"expression", AttrKind::kLua, true, Slot::kExpression},
    {"pass", AttrKind::kTemplate, false, Slot::kPass},
    {"fail", AttrKind::kTemplate, false, Slot::kFail},
    {"abort", AttrKind::kTemplate, false, Slot::kAbort},
};
constexpr AttributeSpec kBranchAttributes[] = {
    {"expression", AttrKind::kLua, true, Slot::kExpression},
    {"on_true", AttrKind::kLabel, false, Slot::kOnTrue},
    {"on_false", AttrKind::kLabel, false, Slot::kOnFalse},
};
constexpr AttributeSpec kHaltAttributes[] = {
    {"arguments.seconds", AttrKind::kSeconds, false, Slot::kSeconds, kMaxHaltSeconds,
     kDefaultHaltSeconds},
    {"arguments.comment", AttrKind::kTemplate, false, Slot::kComment},
};
constexpr AttributeSpec kWaitAttributes[] = {
    {"arguments.seconds", AttrKind::kSeconds, true, Slot::kSeconds},
};
constexpr AttributeSpec kCommentAttributes[] = {
    {"text", AttrKind::kTemplate, false, Slot::kText},
};

constexpr OpTypeSpec kLogicOps[] = {
    {"eval", kEvalAttributes, &ExecuteEval, false},
    {"assert", kAssertAttributes, &ExecuteAssert, false},
    {"branch", kBranchAttributes, &ExecuteBranch, false},
    {"halt", kHaltAttributes, &ExecuteHalt, true},
    {"wait", kWaitAttributes, &ExecuteWait, true},
    {"comment", kCommentAttributes, &ExecuteComment, false},
};

}  // namespace

std::span<const OpTypeSpec> LogicOpTypes() { return kLogicOps; }

}  // namespace testrund::ops
