// SPDX-License-Identifier: Apache-2.0
// OpContext: what an op executor may do — the instance it executes, the op, and a narrow
// view of their Run: evaluate the op's expressions, record checks and aborts, trace, and
// park the instance (on a timer, a halt, or outside I/O). Executors (ops/op_logic.cpp, the
// protocol families) see the Run only through it. It is a small value (three pointers):
// an op waiting on I/O keeps a copy until its wait is over.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/instance.h"
#include "ops/lua/lua_sandbox.h"
#include "ops/op_table.h"
#include "ops/stats/check_log.h"
#include "ops/stats/trace_log.h"

namespace testrund::ops {

class IoContext;  // ops/net/io_context.h
class Run;
struct Op;

class OpContext {
 public:
  using Allocator = rapidjson::Document::AllocatorType;

  OpContext(Run& run, Instance& instance, const Op& op)
      : run_(&run), instance_(&instance), op_(&op) {}

  // (The accessors below are defined inline after Run, in ops/run.h: executors include it.)
  Instance& instance() const { return *instance_; }
  const Op& op() const { return *op_; }
  inline LuaSandbox& lua() const;
  inline Clock& clock() const;
  // The wall time of now as every time of the run reads it (derived from the run's start,
  // so a trace entry never reads later than the run's finish).
  inline WallTime wall_now() const;
  // The sockets of protocol ops; never null while an op whose type needs_io executes.
  inline IoContext* io() const;
  // What protocol ops share across the run's instances (null until one creates it).
  inline std::unique_ptr<RunIo>& run_io() const;
  // The run's definition (ExecuteTest's params as read).
  inline const struct RunDefinition& definition() const;
  inline int trace_level() const;
  // Turbo runs evaluate asserts only in the first call.
  inline bool turbo_skips_asserts() const;
  // Whether the instance keeps a trace log (see SummaryLogs::Traces).
  inline bool traces() const;

  // Calls the op's compiled expression. True: its value is on the Lua stack (the caller
  // pops it). False: the instance has been aborted (a text naming the op); the executor
  // returns StepOutcome::kFinished.
  bool CallExpression();
  // The same for an executor that ignores the value: nothing is left on the stack.
  bool RunExpression();
  // Evaluates template `slot` of the op as a string / as JSON into `out` (built with
  // `alloc`). False: the instance has been aborted.
  bool EvaluateText(Slot slot, std::string* out);
  bool EvaluateValue(Slot slot, rapidjson::Value& out, Allocator& alloc);

  // Records a pass or fail check (a fail marks the instance failed and feeds first_fails).
  void Check(CheckStatus status, CheckText text);
  // Records an abort check and ends the instance as aborted (do not touch it afterwards,
  // but through the I/O completion that called this).
  void Abort(std::string_view text);
  // A `path` entry ("trace.notice", "trace.debug", "trace.spam") with `text` in the
  // instance's trace log, when it keeps one. The caller applies trace_level.
  void Trace(std::string_view path, std::string_view text);
  // Where protocol messages are traced: the instance's trace log when trace_messages is on
  // and it keeps one, else nullptr.
  TraceLog* MessageLog();

  // Parks the instance for `duration`: a wait continues at the next op when it expires; a
  // halt is listed in `halted` and aborts when it expires unless resumed.
  void Park(MonoNs duration, bool halt);
  // Parks the instance on outside I/O: the op's in-flight object (kept in instance().io)
  // calls FinishIo exactly once, or is destroyed with the instance when it is cancelled.
  void ParkIo();
  // From an I/O or timeout callback: the wait is over. Records the op's latency and calls
  // `complete`, which records checks and fills `i` and returns true to continue at the next
  // op, or false after it aborted the instance. The instance continues (or is freed, with
  // its sockets) on the next loop turn.
  void FinishIo(const std::function<bool()>& complete);

 private:
  Run* run_;
  Instance* instance_;
  const Op* op_;
};

}  // namespace testrund::ops
