// SPDX-License-Identifier: Apache-2.0
// Run: one ExecuteTest (docs/api.md#executetest). Owns its Program and LuaSandbox (through
// its RunDefinition), its live instances, its scheduler and what it counts (counts, first
// reasons, buckets, latency histograms, the summary logs). Three kinds of callers see it:
// the RunRegistry (start, cancel, pause, resume), views of the run (Snapshot), and op
// executors (through OpContext, ops/op_context.h, never directly).
//
// Everything a run does happens in one callback, OnTick, driven by ONE Clock timer per run:
//   1. expire parked instances whose timer is due (wait -> runnable, halt -> abort);
//   2. start every due instance that fits under `backlog` and the server's instance limit
//      (a due start that has to wait is counted `late`);
//   3. execute runnable instances until each parks or ends, at most TurnBudget::steps
//      steps and about TurnBudget::ns per turn (then the timer is re-armed at "now"
//      so the daemon keeps answering);
//   4. complete the run when nothing more will start and nothing is in progress;
//   5. re-arm the timer at the earliest of: now (work left), the next parked deadline, the
//      next planned start.
// Parked instances sit in one min-heap of (deadline, id) per run, not in a Timer each; a
// resume or cancel leaves a stale heap entry, skipped because the instance is no longer
// parked with that deadline.
//
// State machine: [scheduled (<-> paused) ->] running -> (paused <-> running) -> completed |
// cancelled | failed (max_failures exceeded, or a threshold failed:
// ops/stats/threshold_checks.h).
//
// Counting rules (docs/api.md#querytest `counts`), applied when an instance finishes:
//   pass   -> finished, passed          fail (>=1 failed check, no abort) -> finished, failed
//   abort  -> finished, aborted (even after a fail; its first fail is still in first_fails)
//   cancel -> finished, cancelled, and also failed when it had a failed check
// `halted` and `running` are current gauges; `late` counts starts that were due while the
// backlog (or the server's instance limit) was full.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/base/deferred_free.h"
#include "ops/base/ordered_id_set.h"
#include "ops/base/status.h"
#include "ops/engine_limits.h"
#include "ops/instance.h"
#include "ops/instance_table.h"
#include "ops/op_context.h"
#include "ops/run_definition.h"
#include "ops/schedule.h"
#include "ops/stats/buckets.h"
#include "ops/stats/first_reasons.h"
#include "ops/stats/latency_histogram.h"
#include "ops/stats/run_snapshot.h"
#include "ops/stats/summary_logs.h"
#include "ops/stats/threshold_checks.h"

namespace testrund::ops {

class IoContext;  // ops/net/io_context.h

enum class ResumeError : uint8_t {
  kNone,
  kNoSuchInstance,  // negative, >= total, or never will start
  kNotHalted,       // running, waiting, finished, or due but not started yet
};

// What a Run needs from its owner (the RunRegistry).
struct RunEnvironment {
  Clock* clock = nullptr;
  // Sockets for protocol ops; nullptr: ops that need them abort ("no event loop").
  IoContext* io = nullptr;
  const EngineLimits* limits = nullptr;
  // Instances in progress over every run, and the cap on it (max_instances): a run never
  // starts an instance that would take the sum over the cap.
  uint64_t* instances_live = nullptr;
  // Called once when the run completes, is cancelled or fails; never from inside the Run's
  // methods that the caller is still in (only from OnTick or Cancel). May be empty.
  std::function<void(const class Run&)> on_completed;
};

// Caps of the `halted` list a snapshot holds: entries, and bytes of echoed operations, so
// that a halt op with a large attribute cannot make each QueryTest gigabytes long.
constexpr size_t kMaxHaltedListed = 1000;
constexpr size_t kMaxHaltedListedBytes = 16u << 20;

class Run {
 public:
  // Takes the definition (its sandbox, program). `env` pointers must outlive the run.
  // The run does nothing until Start().
  Run(RunDefinition definition, RunEnvironment env);
  ~Run();  // frees every instance and timer; closes the Lua state
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // Records time_start and arms the first tick (instance 0 starts on the next loop turn).
  void Start();

  // Ends every unfinished instance as cancelled and releases every timer; `reason` becomes
  // the status_reason. Returns true if the run was still in progress (CancelTest
  // `cancelled`), false if it had completed (then nothing changes).
  bool Cancel(std::string_view reason = "Cancelled by CancelTest.");

  // PauseTest / UnpauseTest: stop / resume starting instances; the schedule is shifted by
  // the time paused. A scheduled run paused does not start until unpaused: at its start_at
  // if that is still ahead, else at once, anchored then. Error: pausing a run that is neither
  // running nor scheduled, or unpausing one that is not paused (the text names the run and
  // its status).
  Status Pause();
  Status Unpause();

  // ResumeInstance: the halted instance continues at the op after its halt on the next loop
  // turn, with `vars` (an object, or nullptr) merged into its `v` first. A vars value the
  // run's memory cap refuses aborts the instance instead.
  ResumeError Resume(int64_t instance_id, const rapidjson::Value* vars);

  // What the run has done so far: the summary and the `parts` asked for (SnapshotPart
  // bits); its JSON values are built with `alloc`.
  RunSnapshot Snapshot(unsigned parts, rapidjson::Document::AllocatorType& alloc) const;

  const std::string& run_id() const { return def_.run_id; }
  RunStatus status() const { return status_; }
  bool completed() const {
    return status_ == RunStatus::kCompleted || status_ == RunStatus::kCancelled ||
           status_ == RunStatus::kFailed;
  }
  // Whether it has started (left `scheduled`): one cancelled before its start has not.
  bool began() const { return began_; }
  // How many times RestartTest replaced the run before this one (QueryTest `restarts`).
  void set_restarts(uint32_t restarts) { restarts_ = restarts; }
  // A repetition of a repeating run: its number (1-based) and the planned count (0:
  // unbounded), shown in its snapshot's `repeat`.
  uint64_t repetition() const { return repetition_; }  // 0: not a repetition
  void set_repetition(uint64_t repetition, uint64_t repetitions) {
    repetition_ = repetition;
    repetitions_ = repetitions;
  }
  // Bytes held by the run's Lua state.
  size_t lua_memory_bytes() const { return def_.lua->memory_used(); }

 private:
  friend class OpContext;
  enum class Outcome : uint8_t { kPass, kAbort, kCancel };
  // 16 bytes: one per parked instance. An entry is live while its instance is waiting or
  // halted with this deadline; one whose instance parked again at the very same deadline
  // expires it then, which is what that park asks for too.
  struct Parked {
    MonoNs deadline;
    int64_t id;
    bool operator>(const Parked& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };

  // The tick and its parts (ops/run.cpp).
  void OnTick();
  // Sets the run's origin (schedule, buckets, thresholds) at `start`, read as `wall_start`.
  void Anchor(MonoNs start, WallTime wall_start);
  void UnpauseBeforeStart();
  // Scheduled, or paused before its start.
  bool before_start() const { return status_ == RunStatus::kScheduled || paused_before_start_; }
  void ExpireParked(MonoNs now);
  void StartDue(MonoNs now);
  // `v_ref`: the instance's v, made by the caller (kNoLuaRef: the memory limit refused it).
  void StartInstance(uint64_t k, MonoNs planned, MonoNs now, int v_ref);
  void RunRunnable(uint64_t* budget);
  // Executes `instance` until it parks or ends, or `budget` runs out (then it stays
  // runnable and is re-queued). May finish the instance.
  void Execute(Instance& instance, uint64_t* budget);
  // Updates counts/buckets/logs and hands the instance to finished_ (do not touch it
  // afterwards).
  void FinishInstance(Instance& instance, Outcome outcome);
  // finished_.Flush() at the end of a work turn: the instances go to spare_instances_.
  void RecycleFinished();
  void MaybeComplete();
  void Complete(RunStatus status);
  // Ends every unfinished instance as cancelled and the run with `status` (cancelled, or
  // failed by a threshold) and `reason`. False when the run had completed already.
  bool End(RunStatus status, std::string_view reason);

  // Thresholds (ops/stats/threshold_checks.h): checked on their own timer while running,
  // and once more when the run would complete, where a failed one makes it `failed`.
  void OnThresholdTimer();
  void CheckThresholdsAtEnd();
  void ArmTick();
  bool MoreStarts() const;
  uint64_t backlog_room() const;
  MonoNs now() const { return env_.clock->Now(); }

  // What executors do through OpContext (ops/op_context.cpp).
  EvalScope ScopeOf(Instance& instance) const {
    return EvalScope{instance.v_ref, instance.i_ref, instance.id, &instance.rng};
  }
  // An evaluation failed: aborts the instance (the text names the op for a limit).
  void EvaluationFailed(Instance& instance, const Op& op, LuaFailure failure,
                        std::string_view error);
  void Check(Instance& instance, const Op& op, CheckStatus status, CheckText text);
  void Abort(Instance& instance, const Op& op, std::string_view text);
  void Trace(Instance& instance, const Op& op, std::string_view path, std::string_view text);
  void Park(Instance& instance, MonoNs duration, bool halt);
  void FinishIo(Instance& instance, const std::function<bool()>& complete);
  void RecordLatency(Instance& instance, MonoNs now);
  bool MergeVars(Instance& instance, const rapidjson::Value& vars);

  // Views (ops/run_snapshot.cpp).
  std::optional<double> PercentComplete() const;
  // Whether progress is active time / the end (no total given), not started / planned.
  bool ProgressByTime() const;
  // Active (unpaused) time since the start, up to the finish once completed.
  MonoNs ActiveElapsed() const;
  // Paced runs: instances due by now (see RunSnapshot::due).
  std::optional<uint64_t> Due() const;
  MonoNs paused_ns() const;
  WallTime Wall(MonoNs t) const { return WallAt(t, start_, wall_start_); }
  InstanceRecord Record(const SummaryView& view,
                        rapidjson::Document::AllocatorType& alloc) const;
  void AddHalted(RunSnapshot& out, rapidjson::Document::AllocatorType& alloc) const;
  LogsVersion CurrentLogsVersion() const;

  RunDefinition def_;
  RunEnvironment env_;
  // Declared before the instances: destroyed after them (ops/instance.h, RunIo).
  std::unique_ptr<RunIo> run_io_;
  Schedule schedule_;
  std::unique_ptr<Timer> tick_;
  ThresholdChecks thresholds_;
  std::unique_ptr<Timer> threshold_timer_;  // only when there are thresholds
  RunStatus status_ = RunStatus::kRunning;
  std::string status_reason_;
  bool stop_starting_ = false;  // max_failures tripped, or a threshold failed at the end
  std::string failed_reason_;   // the status_reason once the run completes as failed
  MonoNs start_ = 0;
  MonoNs finish_ = 0;
  // The wall time at Start(): every wall time of the run is derived from it and start_, so
  // an instant reads the same in every snapshot and in the results_dir file.
  WallTime wall_start_;
  MonoNs paused_total_ = 0;
  MonoNs paused_at_ = 0;
  uint64_t next_k_ = 0;          // id of the next instance to start
  uint64_t late_until_ = 0;      // instances k < late_until_ were due while blocked
  RunCounts counts_;
  FirstReasons first_fails_;
  FirstReasons first_aborts_;
  Buckets buckets_;
  SummaryLogs summary_logs_;
  InstanceTable instances_{def_.shard.count};
  // The halted instances, in order: a snapshot lists the lowest 1,000 without walking every
  // live instance. Keyed by HaltedKey (the id within the shard), so one shard's halted
  // instances fill the words densely.
  OrderedIdSet halted_;
  uint64_t HaltedKey(int64_t id) const { return static_cast<uint64_t>(id) / def_.shard.count; }
  int64_t HaltedId(uint64_t key) const {
    return static_cast<int64_t>(key * def_.shard.count + def_.shard.index);
  }
  std::vector<int64_t> runnable_;   // FIFO via head index
  std::vector<int> new_vars_;       // StartDue's v tables, made in one protected call
  size_t runnable_head_ = 0;
  std::vector<Parked> parked_;      // min-heap (std::push_heap with greater)
  // By op_idx, created on the first sample. Shared with snapshots, which hold them without
  // a copy: a histogram a snapshot still holds is copied before it records again.
  std::vector<std::shared_ptr<LatencyHistogram>> latency_;
  // Finished instances, freed after the callback that ended them returns: at the end of the
  // work turn, or on the next loop turn when an I/O callback or a method call ended them.
  DeferredFree<Instance> finished_;
  // Those freed at the end of a work turn, reset, for StartInstance to reuse rather than
  // allocate (docs/performance.md); at most kMaxSpareInstances.
  std::vector<std::unique_ptr<Instance>> spare_instances_;
  static constexpr size_t kMaxSpareInstances = 4096;
  uint32_t restarts_ = 0;
  uint64_t repetition_ = 0;  // 0: not a repetition
  uint64_t repetitions_ = 0;
  bool began_ = false;
  bool paused_before_start_ = false;  // paused while scheduled
  bool in_tick_ = false;
  MonoNs turn_deadline_ = 0;  // when the current turn should yield
};

// OpContext's accessors (see ops/op_context.h), inline: they run for every op executed.
inline LuaSandbox& OpContext::lua() const { return *run_->def_.lua; }
inline Clock& OpContext::clock() const { return *run_->env_.clock; }
inline WallTime OpContext::wall_now() const { return run_->Wall(run_->env_.clock->Now()); }
inline IoContext* OpContext::io() const { return run_->env_.io; }
inline std::unique_ptr<RunIo>& OpContext::run_io() const { return run_->run_io_; }
inline const RunDefinition& OpContext::definition() const { return run_->def_; }
inline int OpContext::trace_level() const { return run_->def_.trace_level; }
inline bool OpContext::turbo_skips_asserts() const {
  return run_->def_.turbo && instance_->id != 0;
}
inline bool OpContext::traces() const { return run_->summary_logs_.Traces(instance_->id); }

}  // namespace testrund::ops
