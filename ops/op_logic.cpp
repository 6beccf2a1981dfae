// SPDX-License-Identifier: Apache-2.0
// The logic and control ops (SPEC §4): eval, assert, branch, halt, wait, comment.
//
// Tracing (first call only): a halt's comment is always a trace.notice when the halt
// starts; a comment op's text is a trace.notice at trace_level >= 1; trace_level >= 2 adds a
// trace.debug "op <idx> (<type>)" for every op executed (ops/run.cpp); trace_level 3 adds a
// trace.spam with the JSON value of every eval/assert/branch expression.
#include <cmath>
#include <string>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/program.h"
#include "ops/run.h"

namespace testrund::ops {
namespace {

constexpr std::string_view kAssertTrue = "Assert tested TRUE.";
constexpr std::string_view kAssertFalse = "Assert tested FALSE.";

// Calls op's expression and reads its truth (Lua truthiness). False: the instance aborted.
bool Truth(Run& run, Instance& instance, const Op& op, bool* truth) {
  if (!run.CallExpression(instance, op)) return false;
  lua_State* L = run.lua().state();
  *truth = lua_toboolean(L, -1) != 0;
  lua_pop(L, 1);
  return true;
}

// The duration of a halt/wait: the constant, or the `{...}` value checked now. False: the
// instance aborted (bad value).
bool Duration(Run& run, Instance& instance, const Op& op, MonoNs* duration) {
  if (!op.seconds_template) {
    *duration = op.duration;
    return true;
  }
  rapidjson::Document doc;
  if (!run.EvaluateValue(instance, op, Slot::kSeconds, doc, doc.GetAllocator())) return false;
  double seconds = 0;
  if (!ParseSeconds(doc, &seconds) || !(seconds > 0) || seconds > op.max_seconds) {
    run.Abort(instance, op,
              std::isinf(op.max_seconds)
                  ? fmt::format("\"seconds\" must be > 0, got {}", JsonText(doc))
                  : fmt::format("\"seconds\" must be > 0 and <= {}, got {}",
                                SecondsText(op.max_seconds), JsonText(doc)));
    return false;
  }
  if (seconds > kMaxSeconds) {
    run.Abort(instance, op, fmt::format("\"seconds\" must be <= {}, got {}",
                                        SecondsText(kMaxSeconds), JsonText(doc)));
    return false;
  }
  *duration = static_cast<MonoNs>(std::llround(seconds * kNsPerSecond));
  if (*duration <= 0) *duration = 1;
  return true;
}

}  // namespace

StepOutcome ExecuteEval(Run& run, Instance& instance, const Op& op) {
  if (!run.CallExpression(instance, op)) return StepOutcome::kFinished;
  lua_pop(run.lua().state(), 1);
  ++instance.pc;
  return StepOutcome::kNext;
}

StepOutcome ExecuteAssert(Run& run, Instance& instance, const Op& op) {
  if (run.turbo_skips_asserts(instance)) {
    ++instance.pc;
    return StepOutcome::kNext;
  }
  bool truth = false;
  if (!Truth(run, instance, op, &truth)) return StepOutcome::kFinished;
  std::string text;
  if (truth) {
    if (op.Template(Slot::kPass).empty()) {
      run.CheckConstant(instance, op, CheckStatus::kPass, kAssertTrue);  // no copy
    } else if (!run.EvaluateText(instance, op, Slot::kPass, &text)) {
      return StepOutcome::kFinished;
    } else {
      run.Check(instance, op, CheckStatus::kPass, text);
    }
  } else if (!op.Template(Slot::kAbort).empty()) {
    // `abort` present: a false result ends the instance and `fail` is ignored.
    if (!run.EvaluateText(instance, op, Slot::kAbort, &text)) return StepOutcome::kFinished;
    run.Abort(instance, op, text);
    return StepOutcome::kFinished;
  } else {
    if (op.Template(Slot::kFail).empty()) {
      text = kAssertFalse;
    } else if (!run.EvaluateText(instance, op, Slot::kFail, &text)) {
      return StepOutcome::kFinished;
    }
    run.Check(instance, op, CheckStatus::kFail, text);
  }
  ++instance.pc;
  return StepOutcome::kNext;
}

StepOutcome ExecuteBranch(Run& run, Instance& instance, const Op& op) {
  bool truth = false;
  if (!Truth(run, instance, op, &truth)) return StepOutcome::kFinished;
  int target = truth ? op.on_true : op.on_false;
  instance.pc = target >= 0 ? target : instance.pc + 1;
  return StepOutcome::kNext;
}

StepOutcome ExecuteHalt(Run& run, Instance& instance, const Op& op) {
  MonoNs duration = 0;
  if (!Duration(run, instance, op, &duration)) return StepOutcome::kFinished;
  if (run.traces(instance) && !op.Template(Slot::kComment).empty()) {
    std::string comment;
    if (!run.EvaluateText(instance, op, Slot::kComment, &comment)) return StepOutcome::kFinished;
    run.Trace(instance, op, "trace.notice", comment);
  }
  run.Park(instance, duration, /*halt=*/true);
  return StepOutcome::kParked;
}

StepOutcome ExecuteWait(Run& run, Instance& instance, const Op& op) {
  MonoNs duration = 0;
  if (!Duration(run, instance, op, &duration)) return StepOutcome::kFinished;
  run.Park(instance, duration, /*halt=*/false);
  return StepOutcome::kParked;
}

StepOutcome ExecuteComment(Run& run, Instance& instance, const Op& op) {
  if (run.trace_level() >= 1 && run.traces(instance) && !op.Template(Slot::kText).empty()) {
    std::string text;
    if (!run.EvaluateText(instance, op, Slot::kText, &text)) return StepOutcome::kFinished;
    run.Trace(instance, op, "trace.notice", text);
  }
  ++instance.pc;
  return StepOutcome::kNext;
}

}  // namespace testrund::ops
