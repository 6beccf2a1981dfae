// SPDX-License-Identifier: Apache-2.0
// OpContext, and the part of Run behind it: what executors do to an instance (see
// op_context.h).
#include "ops/op_context.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/base/check.h"
#include "ops/base/json_writer.h"
#include "ops/lua/lua_json.h"
#include "ops/program.h"
#include "ops/run.h"

namespace testrund::ops {
namespace {

// Merges table 2 into table 1 (raw sets); run under lua_pcall because sets may allocate.
int MergeVarsProtected(lua_State* L) {
  lua_pushnil(L);
  while (lua_next(L, 2) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, 1);
  }
  return 0;
}

}  // namespace

// --- OpContext ---------------------------------------------------------------------------

bool OpContext::CallExpression() {
  std::string error;
  LuaFailure failure = lua().Call(op_->expression_ref, run_->ScopeOf(*instance_), &error);
  if (failure != LuaFailure::kNone) {
    run_->EvaluationFailed(*instance_, *op_, failure, error);
    return false;
  }
  if (trace_level() >= 3 && traces()) {
    rapidjson::Document doc;
    ToJson(lua().state(), -1, doc, doc.GetAllocator());
    Trace("trace.spam",
          fmt::format("op {} ({}) expression = {}", op_->idx, op_->type->name, JsonText(doc)));
  }
  return true;
}

bool OpContext::RunExpression() {
  if (trace_level() >= 3 && traces()) {  // the value is traced
    if (!CallExpression()) return false;
    lua_pop(lua().state(), 1);
    return true;
  }
  std::string error;
  LuaFailure failure =
      lua().Call(op_->expression_ref, run_->ScopeOf(*instance_), &error, /*results=*/0);
  if (failure == LuaFailure::kNone) return true;
  run_->EvaluationFailed(*instance_, *op_, failure, error);
  return false;
}

bool OpContext::EvaluateText(Slot slot, std::string* out) {
  std::string error;
  LuaFailure failure =
      op_->Template(slot).EvaluateString(lua(), run_->ScopeOf(*instance_), out, &error);
  if (failure == LuaFailure::kNone) return true;
  run_->EvaluationFailed(*instance_, *op_, failure, error);
  return false;
}

bool OpContext::EvaluateValue(Slot slot, rapidjson::Value& out, Allocator& alloc) {
  std::string error;
  LuaFailure failure =
      op_->Template(slot).Evaluate(lua(), run_->ScopeOf(*instance_), out, alloc, &error);
  if (failure == LuaFailure::kNone) return true;
  run_->EvaluationFailed(*instance_, *op_, failure, error);
  return false;
}

void OpContext::Check(CheckStatus status, CheckText text) {
  run_->Check(*instance_, *op_, status, text);
}

void OpContext::Abort(std::string_view text) { run_->Abort(*instance_, *op_, text); }

void OpContext::Trace(std::string_view path, std::string_view text) {
  run_->Trace(*instance_, *op_, path, text);
}

TraceLog* OpContext::MessageLog() {
  if (!run_->def_.trace_messages) return nullptr;
  return run_->summary_logs_.TraceOf(instance_->id, instance_->logs);
}

void OpContext::Park(MonoNs duration, bool halt) { run_->Park(*instance_, duration, halt); }

void OpContext::ParkIo() {
  instance_->state = InstanceState::kIo;
  instance_->park_start = run_->now();
}

void OpContext::FinishIo(const std::function<bool()>& complete) {
  run_->FinishIo(*instance_, complete);
}

// --- Run, as executors see it --------------------------------------------------------------

void Run::EvaluationFailed(Instance& instance, const Op& op, LuaFailure failure,
                           std::string_view error) {
  // A limit's text says which limit; the op it hit it in is added here.
  Abort(instance, op,
        failure == LuaFailure::kRuntimeError
            ? std::string(error)
            : fmt::format("{} in op {} ({})", error, op.idx, op.type->name));
}

void Run::Check(Instance& instance, const Op& op, CheckStatus status, CheckText text) {
  if (CheckLog* log = summary_logs_.ChecksOf(instance.id, instance.logs)) {
    log->Add(op.idx, instance.step, status, text);
  }
  if (status == CheckStatus::kFail && !instance.had_fail) {
    instance.had_fail = true;
    first_fails_.Add(op.idx, text.text, 1, instance.id);
    summary_logs_.OnFail(instance.id, instance.actual_start, instance.logs);
  }
}

void Run::Abort(Instance& instance, const Op& op, std::string_view text) {
  if (CheckLog* log = summary_logs_.ChecksOf(instance.id, instance.logs)) {
    log->Add(op.idx, instance.step, CheckStatus::kAbort, text);
  }
  instance.aborted = true;
  first_aborts_.Add(op.idx, text, 1, instance.id);
  summary_logs_.OnFail(instance.id, instance.actual_start, instance.logs);
  FinishInstance(instance, Outcome::kAbort);
}

void Run::Trace(Instance& instance, const Op& op, std::string_view path, std::string_view text) {
  if (TraceLog* log = summary_logs_.TraceOf(instance.id, instance.logs)) {
    (void)log->AddText(Wall(env_.clock->Now()), instance.step, op.idx, path, text);
  }
}

void Run::Park(Instance& instance, MonoNs duration, bool halt) {
  MonoNs now_ns = now();
  instance.state = halt ? InstanceState::kHalted : InstanceState::kWaiting;
  instance.park_start = now_ns;
  instance.park_duration = duration;
  if (halt) {
    ++counts_.halted;
    halted_.insert(HaltedKey(instance.id));
  }
  parked_.push_back(Parked{now_ns + duration, instance.id});
  std::push_heap(parked_.begin(), parked_.end(), std::greater<Parked>());
}

void Run::FinishIo(Instance& instance, const std::function<bool()>& complete) {
  CHECK(instance.state == InstanceState::kIo);
  MonoNs now_ns = now();
  RecordLatency(instance, now_ns);
  instance.state = InstanceState::kRunnable;
  --instance.step;  // the response's checks and traces belong to the op's own step
  if (complete()) {
    ++instance.step;
    ++instance.pc;
    runnable_.push_back(instance.id);
  }
  // Continues the instance, or frees it (finished_) and completes the run, next turn.
  if (!completed()) tick_->ArmAt(now_ns);
}

void Run::RecordLatency(Instance& instance, MonoNs now_ns) {
  auto idx = static_cast<size_t>(instance.pc);
  if (idx >= latency_.size()) return;
  std::shared_ptr<LatencyHistogram>& histogram = latency_[idx];
  if (!histogram) {
    histogram = std::make_shared<LatencyHistogram>();
  } else if (histogram.use_count() > 1) {
    histogram = std::make_shared<LatencyHistogram>(*histogram);  // a snapshot holds this one
  }
  // An instance's first wait is measured from its planned start, so that a late start
  // (a stalled system) shows in the figures instead of hiding (the open model).
  MonoNs from = instance.waited ? instance.park_start
                                : std::min(instance.park_start, instance.planned_start);
  histogram->Record(now_ns - from);
  // Set here, where it is read, so that every kind of wait (wait, halt, I/O) counts.
  instance.waited = true;
}

bool Run::MergeVars(Instance& instance, const rapidjson::Value& vars) {
  lua_State* L = def_.lua->state();
  lua_pushcfunction(L, MergeVarsProtected);
  def_.lua->PushRef(instance.v_ref);
  if (PushJson(*def_.lua, vars) != LuaFailure::kNone) {
    lua_pop(L, 2);
    return false;
  }
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    lua_pop(L, 1);
    return false;
  }
  return true;
}

}  // namespace testrund::ops
