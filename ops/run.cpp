// SPDX-License-Identifier: Apache-2.0
// Run: scheduler, instance execution, parking and aggregates (see run.h for the tick cycle
// and the counting rules).
#include "ops/run.h"

#include <algorithm>
#include <functional>
#include <utility>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/base/check.h"
#include "ops/lua/lua_json.h"

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

std::string_view RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning: return "running";
    case RunStatus::kPaused: return "paused";
    case RunStatus::kCompleted: return "completed";
    case RunStatus::kCancelled: return "cancelled";
    case RunStatus::kFailed: return "failed";
  }
  return "unknown";
}

Run::Run(RunDefinition definition, RunEnvironment env)
    : def_(std::move(definition)),
      env_(std::move(env)),
      schedule_(def_.distribution),
      buckets_(0),
      finished_(*env_.clock) {
  CHECK(env_.clock != nullptr && env_.limits != nullptr && env_.instances_live != nullptr);
  CHECK(def_.lua != nullptr && def_.program != nullptr);
  tick_ = env_.clock->NewTimer([this] { OnTick(); });
  latency_.resize(def_.program->size());
  // Halts trace their comment and protocol ops their messages whatever trace_level is;
  // wait and the other logic ops trace only from trace_level 1.
  candidates_trace_ = def_.trace_level >= 1;
  for (size_t idx = 0; idx < def_.program->size() && !candidates_trace_; ++idx) {
    const OpTypeSpec& type = *def_.program->op(idx).type;
    candidates_trace_ = type.records_latency && type.name != "wait";
  }
}

Run::~Run() {
  tick_.reset();
  // Instances still alive leave the server-wide gauge; their Lua refs die with the state.
  *env_.instances_live -= instances_.size();
  instances_.clear();
  finished_.Flush();
}

void Run::Start() {
  start_ = now();
  wall_start_ = env_.clock->WallNow();
  buckets_ = Buckets(start_);
  ArmTick();
  // A schedule that starts nothing at all (stages whose rate stays 0) leaves ArmTick nothing
  // to wait for; one tick at once completes the run instead of leaving it running forever.
  if (!MoreStarts()) tick_->ArmAt(start_);
}

// --- Scheduling --------------------------------------------------------------------------

bool Run::MoreStarts() const {
  if (completed() || stop_starting_) return false;
  if (!schedule_.Paced()) {
    if (auto total = schedule_.TotalPlanned(); total && next_k_ >= *total) return false;
    if (auto end = schedule_.EndOffset()) {
      MonoNs active = (status_ == RunStatus::kPaused ? paused_at_ : now()) - start_ -
                      paused_total_;
      if (active >= *end) return false;
    }
    return true;
  }
  return schedule_.PlannedOffset(next_k_).has_value();
}

uint64_t Run::backlog_room() const {
  uint64_t live = instances_.size();
  uint64_t room = live >= def_.distribution.backlog ? 0 : def_.distribution.backlog - live;
  uint64_t server_live = *env_.instances_live;
  uint64_t server_room = server_live >= env_.limits->max_instances
                             ? 0 : env_.limits->max_instances - server_live;
  return std::min(room, server_room);
}

void Run::StartDue(MonoNs now_ns) {
  if (status_ != RunStatus::kRunning || stop_starting_) return;
  MonoNs active = now_ns - start_ - paused_total_;
  uint64_t due = schedule_.DueCount(active);
  if (!schedule_.Paced()) {
    if (auto end = schedule_.EndOffset(); end && active >= *end) due = next_k_;
  }
  uint64_t room = backlog_room();
  // Starts per turn are bounded too, so a huge backlog cannot stall the loop.
  uint64_t budget = env_.limits->steps_per_turn;
  while (next_k_ < due && budget > 0) {
    if (room == 0) {
      // Every instance already due now waits for the backlog: each counts as late.
      if (schedule_.Paced()) late_until_ = std::max(late_until_, due);
      return;
    }
    MonoNs planned = now_ns;
    if (schedule_.Paced()) {
      planned = schedule_.PlannedAt(next_k_, start_, paused_total_).value_or(now_ns);
    }
    StartInstance(next_k_, planned, now_ns);
    ++next_k_;
    --room;
    --budget;
  }
}

void Run::StartInstance(uint64_t k, MonoNs planned, MonoNs now_ns) {
  auto owned = std::make_unique<Instance>();
  Instance& instance = *owned;
  instance.id = static_cast<int64_t>(k);
  instance.planned_start = planned;
  instance.actual_start = now_ns;
  instance.rng = LuaSandbox::SeedInstanceRng(def_.seed, instance.id);
  instances_.emplace(instance.id, std::move(owned));
  ++*env_.instances_live;
  ++counts_.started;
  ++counts_.running;
  if (k < late_until_) ++counts_.late;
  buckets_.AddStarted(now_ns);
  if (k == 0) {
    first_call_logs_ = std::make_unique<InstanceLogs>();
    first_call_logs_->trace_log = std::make_unique<TraceLog>();
    first_call_start_ = now_ns;
    first_call_started_ = true;
  }
  instance.v_ref = def_.lua->NewInstanceVars();
  if (instance.v_ref == kNoLuaRef) {
    Abort(instance, def_.program->op(0),
          fmt::format("Lua memory limit ({} bytes) exceeded creating instance {}'s v",
                      def_.lua->limits().memory_limit, k));
    return;
  }
  runnable_.push_back(instance.id);
}

// --- The tick ----------------------------------------------------------------------------

void Run::OnTick() {
  if (completed()) return;
  in_tick_ = true;
  MonoNs now_ns = now();
  turn_deadline_ = now_ns + env_.limits->turn_ns;
  ExpireParked(now_ns);
  uint64_t budget = env_.limits->steps_per_turn;
  // Finishing instances frees backlog room: start and run again while the turn has budget.
  while (true) {
    uint64_t started_before = next_k_;
    StartDue(now_ns);
    RunRunnable(&budget);
    if (budget == 0 || next_k_ == started_before || completed()) break;
  }
  in_tick_ = false;
  finished_.Flush();
  MaybeComplete();
  if (!completed()) ArmTick();
}

void Run::ArmTick() {
  if (completed()) return;
  MonoNs now_ns = now();
  std::optional<MonoNs> next;
  auto consider = [&next](MonoNs t) { next = next ? std::min(*next, t) : t; };
  if (runnable_head_ < runnable_.size()) consider(now_ns);
  if (!parked_.empty()) consider(parked_.front().deadline);
  if (status_ == RunStatus::kRunning && MoreStarts() && backlog_room() > 0) {
    if (schedule_.Paced()) {
      if (auto at = schedule_.PlannedAt(next_k_, start_, paused_total_)) {
        consider(std::max(now_ns, *at));
      }
    } else {
      consider(now_ns);
    }
  }
  if (next) {
    tick_->ArmAt(*next);
  } else {
    tick_->Cancel();
  }
}

void Run::ExpireParked(MonoNs now_ns) {
  while (!parked_.empty() && parked_.front().deadline <= now_ns) {
    std::pop_heap(parked_.begin(), parked_.end(), std::greater<Parked>());
    Parked entry = parked_.back();
    parked_.pop_back();
    auto it = instances_.find(entry.id);
    if (it == instances_.end()) continue;
    Instance& instance = *it->second;
    if (instance.park_generation != entry.generation) continue;  // resumed since
    if (instance.state == InstanceState::kWaiting) {
      RecordLatency(instance, now_ns);
      ++instance.pc;
      instance.state = InstanceState::kRunnable;
      runnable_.push_back(instance.id);
    } else if (instance.state == InstanceState::kHalted) {
      const Op& op = def_.program->op(static_cast<size_t>(instance.pc));
      --instance.step;  // the abort belongs to the halt's own step
      Abort(instance, op, fmt::format("Halt timed out after {} seconds.",
                                      SecondsText(static_cast<double>(instance.park_duration) /
                                                  kNsPerSecond)));
    }
  }
}

void Run::RunRunnable(uint64_t* budget) {
  bool first = true;
  while (runnable_head_ < runnable_.size() && *budget > 0) {
    // One instance may take a whole Lua budget (milliseconds), so the clock is read before
    // each one (a vDSO call, about 1 % of the cheapest instance).
    if (!first && now() >= turn_deadline_) {
      *budget = 0;  // the turn is over; OnTick re-arms at now
      break;
    }
    first = false;
    int64_t id = runnable_[runnable_head_++];
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second->state != InstanceState::kRunnable) continue;
    Execute(*it->second, budget);
  }
  if (runnable_head_ == runnable_.size()) {
    runnable_.clear();
    runnable_head_ = 0;
  } else if (runnable_head_ > 4096 && runnable_head_ * 2 > runnable_.size()) {
    runnable_.erase(runnable_.begin(), runnable_.begin() + static_cast<ptrdiff_t>(runnable_head_));
    runnable_head_ = 0;
  }
}

void Run::Execute(Instance& instance, uint64_t* budget) {
  const Program& program = *def_.program;
  const uint64_t max_steps = env_.limits->max_steps_without_wait;
  while (true) {
    if (instance.pc < 0 || static_cast<size_t>(instance.pc) >= program.size()) {
      FinishInstance(instance, Outcome::kPass);
      return;
    }
    if (*budget == 0) {
      runnable_.push_back(instance.id);  // continues next turn
      return;
    }
    const Op& op = program.op(static_cast<size_t>(instance.pc));
    if (instance.steps_since_wait >= max_steps) {
      Abort(instance, op,
            fmt::format("Instance executed {} steps without waiting (max_steps_without_wait) "
                        "at op {} ({})",
                        max_steps, op.idx, op.type->name));
      return;
    }
    if (def_.trace_level >= 2 && traces(instance)) {
      Trace(instance, op, "trace.debug", fmt::format("op {} ({})", op.idx, op.type->name));
    }
    StepOutcome outcome = op.type->execute(*this, instance, op);
    --*budget;
    if (outcome == StepOutcome::kFinished) return;  // the instance is in finished_
    ++instance.step;
    ++instance.steps_since_wait;
    if (outcome == StepOutcome::kParked) {
      instance.steps_since_wait = 0;
      return;
    }
  }
}

// --- Executor API ------------------------------------------------------------------------

EvalScope Run::ScopeOf(Instance& instance) const {
  return EvalScope{instance.v_ref, instance.i_ref, instance.id, &instance.rng};
}

bool Run::CallExpression(Instance& instance, const Op& op) {
  std::string error;
  LuaFailure failure = def_.lua->Call(op.expression_ref, ScopeOf(instance), &error);
  if (failure == LuaFailure::kNone) {
    if (def_.trace_level >= 3 && traces(instance)) {
      rapidjson::Document doc;
      ToJson(def_.lua->state(), -1, doc, doc.GetAllocator());
      Trace(instance, op, "trace.spam",
            fmt::format("op {} ({}) expression = {}", op.idx, op.type->name, JsonText(doc)));
    }
    return true;
  }
  Abort(instance, op,
        failure == LuaFailure::kRuntimeError
            ? error
            : fmt::format("{} in op {} ({})", error, op.idx, op.type->name));
  return false;
}

bool Run::EvaluateText(Instance& instance, const Op& op, Slot slot, std::string* out) {
  std::string error;
  LuaFailure failure =
      op.Template(slot).EvaluateString(*def_.lua, ScopeOf(instance), out, &error);
  if (failure == LuaFailure::kNone) return true;
  Abort(instance, op,
        failure == LuaFailure::kRuntimeError
            ? error
            : fmt::format("{} in op {} ({})", error, op.idx, op.type->name));
  return false;
}

bool Run::EvaluateValue(Instance& instance, const Op& op, Slot slot, rapidjson::Value& out,
                        rapidjson::Document::AllocatorType& alloc) {
  std::string error;
  LuaFailure failure =
      op.Template(slot).Evaluate(*def_.lua, ScopeOf(instance), out, alloc, &error);
  if (failure == LuaFailure::kNone) return true;
  Abort(instance, op,
        failure == LuaFailure::kRuntimeError
            ? error
            : fmt::format("{} in op {} ({})", error, op.idx, op.type->name));
  return false;
}

InstanceLogs* Run::LogsFor(Instance& instance, bool allocate) {
  if (instance.id == 0) return first_call_logs_.get();
  if (instance.id == first_fail_id_) return first_fail_logs_.get();
  // Once the first failing instance is known the others are no longer candidates; their
  // logs are freed with them (not here: an op may still hold their trace_log).
  if (first_fail_id_ >= 0) return nullptr;
  if (!instance.logs && allocate) {
    if (!spare_logs_.empty()) {
      instance.logs = std::move(spare_logs_.back());
      spare_logs_.pop_back();
    } else {
      instance.logs = std::make_unique<InstanceLogs>();
    }
  }
  return instance.logs.get();
}

TraceLog* Run::TraceLogOf(const Instance& instance) const {
  const InstanceLogs* logs = nullptr;
  if (instance.id == 0) {
    logs = first_call_logs_.get();
  } else if (instance.id == first_fail_id_) {
    logs = first_fail_logs_.get();
  } else if (first_fail_id_ < 0) {
    logs = instance.logs.get();
  }
  return logs != nullptr ? logs->trace_log.get() : nullptr;
}

void Run::CaptureFirstFail(Instance& instance) {
  if (first_fail_id_ >= 0) return;
  first_fail_id_ = instance.id;
  first_fail_start_ = instance.actual_start;
  if (instance.id != 0) {
    first_fail_logs_ = instance.logs ? std::move(instance.logs)
                                     : std::make_unique<InstanceLogs>();
    if (first_fail_logs_->trace_log) first_fail_logs_->trace_log->EncodeDeferredHex();
  }
}

void Run::Check(Instance& instance, const Op& op, CheckStatus status, std::string_view text) {
  if (InstanceLogs* logs = LogsFor(instance, true)) {
    logs->check_log.Add(op.idx, instance.step, status, text);
  }
  if (status == CheckStatus::kFail && !instance.had_fail) {
    instance.had_fail = true;
    first_fails_.Add(op.idx, text);
    CaptureFirstFail(instance);
  }
}

void Run::CheckConstant(Instance& instance, const Op& op, CheckStatus status,
                        std::string_view text) {
  if (InstanceLogs* logs = LogsFor(instance, true)) {
    logs->check_log.AddConstant(op.idx, instance.step, status, text);
  }
  if (status == CheckStatus::kFail && !instance.had_fail) {
    instance.had_fail = true;
    first_fails_.Add(op.idx, text);
    CaptureFirstFail(instance);
  }
}

void Run::Abort(Instance& instance, const Op& op, std::string_view text) {
  if (InstanceLogs* logs = LogsFor(instance, true)) {
    logs->check_log.Add(op.idx, instance.step, CheckStatus::kAbort, text);
  }
  instance.aborted = true;
  first_aborts_.Add(op.idx, text);
  CaptureFirstFail(instance);
  FinishInstance(instance, Outcome::kAbort);
}

TraceLog* Run::TraceLogFor(Instance& instance) {
  TraceLog* log = TraceLogOf(instance);
  if (log == nullptr && candidates_trace_ && traces(instance)) {
    // A candidate for first_fail_summary (and then the first failing instance) traces like
    // the first call; its log is allocated on its first entry, so that instances that never
    // trace (thousands parked on a halt without a comment) carry none.
    InstanceLogs* logs = LogsFor(instance, true);
    if (!logs->trace_log) {
      logs->trace_log = std::make_unique<TraceLog>();
      // Read only if this instance becomes the first failing one (CaptureFirstFail).
      if (instance.id != first_fail_id_) logs->trace_log->DeferHex();
    }
    log = logs->trace_log.get();
  }
  return log;
}

void Run::Trace(Instance& instance, const Op& op, std::string_view path, std::string_view text) {
  if (TraceLog* log = TraceLogFor(instance)) {
    (void)log->AddText(env_.clock->WallNow(), instance.step, op.idx, path, text);
  }
}

void Run::Park(Instance& instance, MonoNs duration, bool halt) {
  MonoNs now_ns = now();
  instance.state = halt ? InstanceState::kHalted : InstanceState::kWaiting;
  instance.park_start = now_ns;
  instance.park_duration = duration;
  ++instance.park_generation;
  if (halt) {
    ++counts_.halted;
    halted_ids_.insert(instance.id);
  }
  parked_.push_back(Parked{now_ns + duration, instance.id, instance.park_generation});
  std::push_heap(parked_.begin(), parked_.end(), std::greater<Parked>());
}

TraceLog* Run::MessageLog(Instance& instance) {
  return def_.trace_messages ? TraceLogFor(instance) : nullptr;
}

void Run::ParkIo(Instance& instance) {
  instance.state = InstanceState::kIo;
  instance.park_start = now();
  ++instance.park_generation;
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
  if (!latency_[idx]) latency_[idx] = std::make_unique<LatencyHistogram>();
  // An instance's first wait is measured from its planned start, so that a late start
  // (a stalled system) shows in the figures instead of hiding (SPEC §3 open model).
  MonoNs from = instance.waited ? instance.park_start
                                : std::min(instance.park_start, instance.planned_start);
  latency_[idx]->Record(now_ns - from);
  // Set here, where it is read, so that every kind of wait (wait, halt, I/O) counts.
  instance.waited = true;
}

// --- Ending instances and the run --------------------------------------------------------

void Run::FinishInstance(Instance& instance, Outcome outcome) {
  CHECK(instance.state != InstanceState::kFinished);
  MonoNs now_ns = now();
  if (instance.state == InstanceState::kHalted) {
    --counts_.halted;
    halted_ids_.erase(instance.id);
  }
  instance.state = InstanceState::kFinished;
  ++counts_.finished;
  --counts_.running;
  --*env_.instances_live;
  switch (outcome) {
    case Outcome::kPass:
      ++(instance.had_fail ? counts_.failed : counts_.passed);
      break;
    case Outcome::kAbort:
      ++counts_.aborted;
      break;
    case Outcome::kCancel:
      ++counts_.cancelled;
      if (instance.had_fail) ++counts_.failed;
      break;
  }
  buckets_.AddFinished(now_ns);
  for (InstanceLogs* logs : {instance.id == 0 ? first_call_logs_.get() : nullptr,
                             instance.id == first_fail_id_ ? first_fail_logs_.get() : nullptr}) {
    if (logs != nullptr) {
      logs->completed = true;
      logs->finish = now_ns;
    }
  }
  if (instance.logs && !instance.logs->trace_log && spare_logs_.size() < kSpareLogs) {
    // A candidate that did not become the first failing instance: keep its logs' memory.
    instance.logs->check_log.Clear();
    instance.logs->completed = false;
    instance.logs->finish = 0;
    spare_logs_.push_back(std::move(instance.logs));
  }
  def_.lua->Unref(instance.v_ref);
  def_.lua->Unref(instance.i_ref);
  instance.v_ref = instance.i_ref = kNoLuaRef;
  auto it = instances_.find(instance.id);
  CHECK(it != instances_.end());
  finished_.Add(std::move(it->second));
  instances_.erase(it);
  if (def_.max_failures && !stop_starting_ &&
      counts_.failed + counts_.aborted > *def_.max_failures) {
    stop_starting_ = true;
    // The reason is shown once the run completes as failed (SPEC: `failed` runs are
    // completed); a CancelTest before that leaves a cancelled run with its own reason.
    failed_reason_ = fmt::format(
        "Failed or aborted instances ({}) exceeded max_failures ({}); no further instances "
        "were started.",
        counts_.failed + counts_.aborted, *def_.max_failures);
  }
}

void Run::MaybeComplete() {
  if (completed() || !instances_.empty() || MoreStarts()) return;
  Complete(stop_starting_ ? RunStatus::kFailed : RunStatus::kCompleted);
}

void Run::Complete(RunStatus status) {
  finish_ = now();
  if (status_ == RunStatus::kPaused) paused_total_ += finish_ - paused_at_;  // freeze it
  status_ = status;
  if (status == RunStatus::kFailed) status_reason_ = failed_reason_;
  tick_->Cancel();
  parked_.clear();
  runnable_.clear();
  runnable_head_ = 0;
  if (env_.on_completed) env_.on_completed(*this);
}

bool Run::Cancel(std::string_view reason) {
  if (completed()) return false;
  std::vector<int64_t> ids;
  ids.reserve(instances_.size());
  for (const auto& [id, instance] : instances_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (int64_t id : ids) {
    auto it = instances_.find(id);
    if (it != instances_.end()) FinishInstance(*it->second, Outcome::kCancel);
  }
  status_reason_ = std::string(reason);
  Complete(RunStatus::kCancelled);
  finished_.Flush();
  return true;
}

Status Run::Pause() {
  if (status_ != RunStatus::kRunning) {
    return Status::Error(fmt::format("run \"{}\" is {}, not running", def_.run_id,
                                     RunStatusName(status_)));
  }
  status_ = RunStatus::kPaused;
  paused_at_ = now();
  return Status::Ok();
}

Status Run::Unpause() {
  if (status_ != RunStatus::kPaused) {
    return Status::Error(fmt::format("run \"{}\" is {}, not paused", def_.run_id,
                                     RunStatusName(status_)));
  }
  paused_total_ += now() - paused_at_;
  status_ = RunStatus::kRunning;
  if (!in_tick_) ArmTick();
  return Status::Ok();
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

ResumeError Run::Resume(int64_t instance_id, const rapidjson::Value* vars) {
  if (instance_id < 0) return ResumeError::kNoSuchInstance;
  auto k = static_cast<uint64_t>(instance_id);
  if (k >= next_k_) {
    // Not started: will it ever be?
    if (!MoreStarts()) return ResumeError::kNoSuchInstance;
    if (auto total = schedule_.TotalPlanned(); total && k >= *total) {
      return ResumeError::kNoSuchInstance;
    }
    if (schedule_.Paced() && !schedule_.PlannedOffset(k)) return ResumeError::kNoSuchInstance;
    return ResumeError::kNotHalted;
  }
  auto it = instances_.find(instance_id);
  if (it == instances_.end() || it->second->state != InstanceState::kHalted) {
    return ResumeError::kNotHalted;
  }
  Instance& instance = *it->second;
  MonoNs now_ns = now();
  RecordLatency(instance, now_ns);
  --counts_.halted;
  halted_ids_.erase(instance.id);
  ++instance.park_generation;  // its heap entry is now stale
  instance.state = InstanceState::kRunnable;
  const Op& op = def_.program->op(static_cast<size_t>(instance.pc));
  ++instance.pc;
  if (vars != nullptr && vars->IsObject() && !vars->ObjectEmpty() &&
      !MergeVars(instance, *vars)) {
    Abort(instance, op, fmt::format("Lua memory limit ({} bytes) exceeded merging "
                                    "ResumeInstance vars", def_.lua->limits().memory_limit));
    if (!in_tick_) finished_.Flush();
    MaybeComplete();
    if (!in_tick_) ArmTick();
    return ResumeError::kNone;
  }
  runnable_.push_back(instance.id);
  if (!in_tick_) ArmTick();
  return ResumeError::kNone;
}

// --- QueryTest views ---------------------------------------------------------------------

std::vector<HaltedEntry> Run::Halted(size_t limit, size_t max_bytes) const {
  // halted_ids_ is ordered: the cost is the `limit` listed, not the instances alive.
  std::vector<HaltedEntry> out;
  out.reserve(std::min(limit, halted_ids_.size()));
  size_t bytes = 0;
  for (int64_t id : halted_ids_) {
    if (out.size() >= limit) break;
    const Op& op = def_.program->op(static_cast<size_t>(instances_.at(id)->pc));
    bytes += op.echo_bytes;
    if (bytes > max_bytes && !out.empty()) break;
    out.push_back({id, &op.echo});
  }
  return out;
}

std::vector<std::pair<int, const LatencyHistogram*>> Run::Latencies() const {
  std::vector<std::pair<int, const LatencyHistogram*>> out;
  for (size_t idx = 0; idx < latency_.size(); ++idx) {
    if (latency_[idx] && latency_[idx]->count() > 0) {
      out.emplace_back(static_cast<int>(idx), latency_[idx].get());
    }
  }
  return out;
}

std::optional<InstanceSummary> Run::FirstCallSummary() const {
  if (!first_call_started_) return std::nullopt;
  return InstanceSummary{0, first_call_logs_->completed, first_call_start_,
                         first_call_logs_->finish, &first_call_logs_->check_log,
                         first_call_logs_->trace_log.get()};
}

std::optional<InstanceSummary> Run::FirstFailSummary() const {
  if (first_fail_id_ < 0) return std::nullopt;
  if (first_fail_id_ == 0) return FirstCallSummary();
  return InstanceSummary{first_fail_id_, first_fail_logs_->completed, first_fail_start_,
                         first_fail_logs_->finish, &first_fail_logs_->check_log,
                         first_fail_logs_->trace_log.get()};
}

std::optional<double> Run::PercentComplete() const {
  if (completed()) return 100.0;
  MonoNs end = status_ == RunStatus::kPaused ? paused_at_ : now();
  MonoNs active = end - start_ - paused_total_;
  // Without a total the run is bounded by time (duration or the end of the stages), so
  // progress is the active time elapsed, even where the schedule could count the starts.
  if (def_.distribution.type != DistributionType::kSingle && def_.distribution.total == 0) {
    std::optional<MonoNs> run_end = schedule_.EndOffset();
    if (!run_end) return std::nullopt;
    return std::clamp(100.0 * static_cast<double>(active) / static_cast<double>(*run_end), 0.0,
                      100.0);
  }
  return schedule_.PercentComplete(counts_.started, active);
}

MonoNs Run::paused_ns() const {
  if (status_ == RunStatus::kPaused) return paused_total_ + (now() - paused_at_);
  return paused_total_;
}

}  // namespace testrund::ops
