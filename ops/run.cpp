// SPDX-License-Identifier: Apache-2.0
// Run: the tick, scheduling, execution and the end of instances and of the run (see run.h
// for the tick cycle and the counting rules). What executors call is in ops/op_context.cpp,
// the snapshot in ops/run_snapshot.cpp.
#include "ops/run.h"

#include <algorithm>
#include <functional>
#include <utility>

#include <fmt/format.h>

#include "ops/base/check.h"
#include "ops/base/json_numbers.h"
#include "ops/lua/lua_json.h"
#include "ops/program.h"

namespace testrund::ops {
namespace {

// Whether instances other than the first call may trace anything, so that first_fail_summary
// candidates need a trace log: halts trace their comment and protocol ops their messages
// whatever trace_level is; wait and the other logic ops trace only from trace_level 1.
bool CandidatesTrace(const RunDefinition& def) {
  if (def.trace_level >= 1) return true;
  for (size_t idx = 0; idx < def.program->size(); ++idx) {
    const OpTypeSpec& type = *def.program->op(idx).type;
    if (type.records_latency && type.name != "wait") return true;
  }
  return false;
}

// `def`, once the invariants the members' initialisers rely on are checked.
RunDefinition Checked(RunDefinition def, const RunEnvironment& env) {
  CHECK(env.clock != nullptr && env.limits != nullptr && env.instances_live != nullptr);
  CHECK(def.lua != nullptr && def.program != nullptr);
  return def;
}

}  // namespace

Run::Run(RunDefinition definition, RunEnvironment env)
    : def_(Checked(std::move(definition), env)),
      env_(std::move(env)),
      schedule_(def_.distribution),
      buckets_(0),
      summary_logs_(CandidatesTrace(def_)),
      finished_(*env_.clock) {
  tick_ = env_.clock->NewTimer([this] { OnTick(); });
  next_k_ = def_.shard.index;  // a shard starts every count-th instance from its index
  latency_.resize(def_.program->size());
}

Run::~Run() {
  tick_.reset();
  threshold_timer_.reset();
  // Instances still alive leave the server-wide gauge; their Lua refs die with the state.
  *env_.instances_live -= instances_.size();
  instances_.clear();
  finished_.Flush();
}

void Run::Start() {
  MonoNs now_ns = now();
  WallTime wall_now = env_.clock->WallNow();
  if (def_.start_at) {
    // The schedule is anchored at start_at, on the monotonic clock: a start_at in the past
    // (at most a minute, ExecuteTest checks) makes the instances planned before now due at
    // once; one in the future waits, `scheduled`.
    Anchor(now_ns + static_cast<MonoNs>((*def_.start_at - ToSeconds(wall_now)) * kNsPerSecond),
           WallFromSeconds(*def_.start_at));
    if (start_ > now_ns) status_ = RunStatus::kScheduled;
  } else {
    Anchor(now_ns, wall_now);
  }
  began_ = status_ != RunStatus::kScheduled;
  ArmTick();
  // A schedule that starts nothing at all (stages whose rate stays 0) leaves ArmTick nothing
  // to wait for; one tick at its start completes the run instead of leaving it running
  // forever. A scheduled run's first tick is its start.
  if (!MoreStarts() || status_ == RunStatus::kScheduled) tick_->ArmAt(start_);
}

void Run::Anchor(MonoNs start, WallTime wall_start) {
  start_ = start;
  wall_start_ = wall_start;
  buckets_ = Buckets(start_);
  if (def_.thresholds.empty()) return;
  thresholds_ = ThresholdChecks(def_.thresholds, start_);
  if (!threshold_timer_) threshold_timer_ = env_.clock->NewTimer([this] { OnThresholdTimer(); });
  threshold_timer_->ArmAt(thresholds_.next_check());
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
  uint64_t budget = env_.limits->turn.steps;
  // The v tables of this turn's starts, made in one protected call rather than one each
  // (docs/performance.md). No Lua runs between the starts, so the tables, their registry
  // references and a memory-limit failure come in the same order as made one by one.
  uint64_t starts = 0;
  if (next_k_ < due) {
    starts = std::min({budget, room, (due - next_k_ + def_.shard.count - 1) / def_.shard.count});
  }
  new_vars_.resize(starts);
  size_t made = starts > 0 ? def_.lua->NewInstanceVars(starts, new_vars_.data()) : 0;
  bool batch_failed = made < starts;
  size_t taken = 0;
  while (next_k_ < due && budget > 0) {
    if (room == 0) {
      // Every instance already due now waits for the backlog: each counts as late.
      if (schedule_.Paced()) late_until_ = std::max(late_until_, due);
      break;
    }
    MonoNs planned = now_ns;
    if (schedule_.Paced()) {
      planned = schedule_.PlannedAt(next_k_, start_, paused_total_).value_or(now_ns);
    }
    int v_ref = kNoLuaRef;  // the one the batch failed on
    if (taken < made) {
      v_ref = new_vars_[taken];
    } else if (taken > made || !batch_failed) {
      v_ref = def_.lua->NewInstanceVars();
    }
    ++taken;
    StartInstance(next_k_, planned, now_ns, v_ref);
    next_k_ += def_.shard.count;
    --room;
    --budget;
  }
  // Starts and made tables are counted alike, so none is left; should one be, it is freed.
  for (; taken < made; ++taken) def_.lua->ReleaseInstanceVars(new_vars_[taken]);
}

void Run::StartInstance(uint64_t k, MonoNs planned, MonoNs now_ns, int v_ref) {
  std::unique_ptr<Instance> owned;
  if (spare_instances_.empty()) {
    owned = std::make_unique<Instance>();
  } else {
    owned = std::move(spare_instances_.back());
    spare_instances_.pop_back();
  }
  Instance& instance = *owned;
  instance.id = static_cast<int64_t>(k);
  instance.planned_start = planned;
  instance.actual_start = now_ns;
  instance.rng = LuaSandbox::SeedInstanceRng(def_.seed, instance.id);
  instances_.Insert(std::move(owned));
  ++*env_.instances_live;
  ++counts_.started;
  ++counts_.running;
  if (k < late_until_) ++counts_.late;
  buckets_.AddStarted(now_ns);
  summary_logs_.OnStart(instance.id, now_ns);
  instance.v_ref = v_ref;
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
  MonoNs now_ns = now();
  if (paused_before_start_) return;  // Unpause arms the tick again
  if (status_ == RunStatus::kScheduled) {
    if (now_ns < start_) {
      tick_->ArmAt(start_);
      return;
    }
    status_ = RunStatus::kRunning;
    began_ = true;
  }
  in_tick_ = true;
  turn_deadline_ = now_ns + env_.limits->turn.ns;
  ExpireParked(now_ns);
  uint64_t budget = env_.limits->turn.steps;
  // Finishing instances frees backlog room: start and run again while the turn has budget.
  while (true) {
    uint64_t started_before = next_k_;
    StartDue(now_ns);
    RunRunnable(&budget);
    if (budget == 0 || next_k_ == started_before || completed()) break;
  }
  in_tick_ = false;
  RecycleFinished();
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
    Instance* found = instances_.Find(entry.id);
    if (found == nullptr) continue;
    Instance& instance = *found;
    bool parked = instance.state == InstanceState::kWaiting ||
                  instance.state == InstanceState::kHalted;
    // Resumed since, and maybe parked again until another time.
    if (!parked || instance.park_start + instance.park_duration != entry.deadline) continue;
    if (instance.state == InstanceState::kWaiting) {
      RecordLatency(instance, now_ns);
      ++instance.pc;
      instance.state = InstanceState::kRunnable;
      runnable_.push_back(instance.id);
    } else if (instance.state == InstanceState::kHalted) {
      const Op& op = def_.program->op(static_cast<size_t>(instance.pc));
      --instance.step;  // the abort belongs to the halt's own step
      Abort(instance, op, fmt::format("Halt timed out after {} seconds.",
                                      NumberText(static_cast<double>(instance.park_duration) /
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
    Instance* instance = instances_.Find(id);
    if (instance == nullptr || instance->state != InstanceState::kRunnable) continue;
    Execute(*instance, budget);
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
    if (def_.trace_level >= 2 && summary_logs_.Traces(instance.id)) {
      Trace(instance, op, "trace.debug", fmt::format("op {} ({})", op.idx, op.type->name));
    }
    StepOutcome outcome = StepOutcome::kFinished;
    if (op.type->needs_io && env_.io == nullptr) {
      Abort(instance, op, "protocol ops need an event loop (this engine has no IoContext)");
    } else {
      OpContext ctx(*this, instance, op);
      outcome = op.type->execute(ctx);
    }
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

// --- Ending instances and the run --------------------------------------------------------

void Run::FinishInstance(Instance& instance, Outcome outcome) {
  CHECK(instance.state != InstanceState::kFinished);
  MonoNs now_ns = now();
  if (instance.state == InstanceState::kHalted) {
    --counts_.halted;
    halted_.erase(HaltedKey(instance.id));
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
  summary_logs_.OnFinish(instance.id, now_ns, instance.logs);
  def_.lua->ReleaseInstanceVars(instance.v_ref);
  def_.lua->Unref(instance.i_ref);
  instance.v_ref = instance.i_ref = kNoLuaRef;
  std::unique_ptr<Instance> finished = instances_.Remove(instance.id);
  CHECK(finished != nullptr);
  finished_.Add(std::move(finished));
  if (def_.max_failures && !stop_starting_ &&
      counts_.failed + counts_.aborted > *def_.max_failures) {
    stop_starting_ = true;
    // The reason is shown once the run completes as failed (a `failed` run is completed);
    // a CancelTest before that leaves a cancelled run with its own reason.
    failed_reason_ = fmt::format(
        "Failed or aborted instances ({}) exceeded max_failures ({}); no further instances "
        "were started.",
        counts_.failed + counts_.aborted, *def_.max_failures);
  }
}

void Run::RecycleFinished() {
  size_t from = spare_instances_.size();
  finished_.FlushInto(&spare_instances_);
  // Reset now, not when reused: a finished instance's logs and sockets go at once.
  for (size_t k = from; k < spare_instances_.size(); ++k) *spare_instances_[k] = Instance{};
  if (spare_instances_.size() > kMaxSpareInstances) spare_instances_.resize(kMaxSpareInstances);
}

void Run::MaybeComplete() {
  if (completed() || !instances_.empty() || MoreStarts()) return;
  CheckThresholdsAtEnd();
  Complete(stop_starting_ ? RunStatus::kFailed : RunStatus::kCompleted);
}

// --- Thresholds --------------------------------------------------------------------------

void Run::OnThresholdTimer() {
  if (completed()) return;
  MonoNs now_ns = now();
  if (status_ == RunStatus::kPaused) {
    thresholds_.SkipDue(now_ns, counts_);
  } else {
    std::vector<const ThresholdResult*> ending =
        thresholds_.CheckDue(now_ns, ActiveElapsed(), counts_, latency_);
    if (!ending.empty()) {
      std::string when =
          fmt::format("after {:.1f} s; the run was ended", ToSeconds(ActiveElapsed()));
      End(RunStatus::kFailed, ThresholdFailureReason(ending, when));
      return;
    }
  }
  threshold_timer_->ArmAt(thresholds_.next_check());
}

void Run::CheckThresholdsAtEnd() {
  if (thresholds_.empty()) return;
  std::vector<const ThresholdResult*> failed =
      thresholds_.CheckFinal(ActiveElapsed(), counts_, latency_);
  if (failed.empty()) return;
  std::string reason = ThresholdFailureReason(failed, "at the end");
  // max_failures' reason comes first when it tripped too.
  failed_reason_ = stop_starting_ ? fmt::format("{} {}", failed_reason_, reason) : reason;
  stop_starting_ = true;
}

void Run::Complete(RunStatus status) {
  finish_ = now();
  if (status_ == RunStatus::kPaused && !paused_before_start_) {
    paused_total_ += finish_ - paused_at_;  // freeze it
  }
  status_ = status;
  if (status == RunStatus::kFailed) status_reason_ = failed_reason_;
  tick_->Cancel();
  if (threshold_timer_) threshold_timer_->Cancel();
  parked_.clear();
  runnable_.clear();
  runnable_head_ = 0;
  if (env_.on_completed) env_.on_completed(*this);
}

bool Run::Cancel(std::string_view reason) { return End(RunStatus::kCancelled, reason); }

bool Run::End(RunStatus status, std::string_view reason) {
  if (completed()) return false;
  if (before_start()) {
    // It never started: it starts and ends now, rather than finishing before its start.
    start_ = now();
    wall_start_ = env_.clock->WallNow();
    buckets_ = Buckets(start_);
    status_ = RunStatus::kScheduled;  // not paused: no paused time to count
    paused_before_start_ = false;
  }
  std::vector<int64_t> ids = instances_.Ids();
  std::sort(ids.begin(), ids.end());
  for (int64_t id : ids) {
    if (Instance* instance = instances_.Find(id)) FinishInstance(*instance, Outcome::kCancel);
  }
  (status == RunStatus::kFailed ? failed_reason_ : status_reason_) = std::string(reason);
  Complete(status);
  finished_.Flush();
  return true;
}

Status Run::Pause() {
  if (status_ != RunStatus::kRunning && status_ != RunStatus::kScheduled) {
    return Status::Error(fmt::format("run \"{}\" is {}, not running", def_.run_id,
                                     RunStatusName(status_)));
  }
  // A scheduled run keeps its start while paused; it does not start until unpaused.
  paused_before_start_ = status_ == RunStatus::kScheduled;
  status_ = RunStatus::kPaused;
  paused_at_ = now();
  return Status::Ok();
}

Status Run::Unpause() {
  if (status_ != RunStatus::kPaused) {
    return Status::Error(fmt::format("run \"{}\" is {}, not paused", def_.run_id,
                                     RunStatusName(status_)));
  }
  if (paused_before_start_) {
    UnpauseBeforeStart();
    return Status::Ok();
  }
  paused_total_ += now() - paused_at_;
  status_ = RunStatus::kRunning;
  if (!in_tick_) ArmTick();
  return Status::Ok();
}

void Run::UnpauseBeforeStart() {
  paused_before_start_ = false;
  MonoNs now_ns = now();
  if (now_ns < start_) {
    status_ = RunStatus::kScheduled;
    tick_->ArmAt(start_);
    return;
  }
  // Its start passed while it was paused: it starts now, its schedule anchored here.
  Anchor(now_ns, env_.clock->WallNow());
  status_ = RunStatus::kRunning;
  began_ = true;
  tick_->ArmAt(now_ns);
}

ResumeError Run::Resume(int64_t instance_id, const rapidjson::Value* vars) {
  if (instance_id < 0) return ResumeError::kNoSuchInstance;
  auto k = static_cast<uint64_t>(instance_id);
  if (k % def_.shard.count != def_.shard.index) return ResumeError::kNoSuchInstance;
  if (k >= next_k_) {
    // Not started: will it ever be?
    if (!MoreStarts()) return ResumeError::kNoSuchInstance;
    if (auto total = schedule_.TotalPlanned(); total && k >= *total) {
      return ResumeError::kNoSuchInstance;
    }
    if (schedule_.Paced() && !schedule_.PlannedOffset(k)) return ResumeError::kNoSuchInstance;
    return ResumeError::kNotHalted;
  }
  Instance* halted = instances_.Find(instance_id);
  if (halted == nullptr || halted->state != InstanceState::kHalted) {
    return ResumeError::kNotHalted;
  }
  Instance& instance = *halted;
  MonoNs now_ns = now();
  RecordLatency(instance, now_ns);
  --counts_.halted;
  halted_.erase(HaltedKey(instance.id));
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

}  // namespace testrund::ops
