// SPDX-License-Identifier: Apache-2.0
// Run: one ExecuteTest (DESIGN.md "The engine"). Owns its Program and LuaSandbox (through
// its RunDefinition), its live instances, its scheduler and its aggregates (counts, first
// reasons, buckets, latency histograms, the first call's logs).
//
// Everything a run does happens in one callback, OnTick, driven by ONE Clock timer per run:
//   1. expire parked instances whose timer is due (wait -> runnable, halt -> abort);
//   2. start every due instance that fits under `backlog` and the server's instance limit
//      (a due start that has to wait is counted `late`);
//   3. execute runnable instances until each parks or ends, at most EngineLimits::steps_per_turn
//      steps and about EngineLimits::turn_ns per turn (then the timer is re-armed at "now"
//      so the daemon keeps answering);
//   4. complete the run when nothing more will start and nothing is in progress;
//   5. re-arm the timer at the earliest of: now (work left), the next parked deadline, the
//      next planned start.
// Parked instances sit in one min-heap of (deadline, id, generation) per run, not in a Timer
// each; a resume or cancel leaves a stale heap entry that is skipped by its generation.
//
// State machine: running -> (paused <-> running) -> completed | cancelled | failed.
//
// Counting rules (SPEC §3 `counts`), applied in FinishInstance:
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
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>

#include "ops/stats/buckets.h"
#include "ops/stats/check_log.h"
#include "ops/base/clock.h"
#include "ops/base/deferred_free.h"
#include "ops/engine_limits.h"
#include "ops/stats/first_reasons.h"
#include "ops/instance.h"
#include "ops/stats/latency_histogram.h"
#include "ops/run_definition.h"
#include "ops/schedule.h"
#include "ops/base/status.h"

namespace testrund::ops {

enum class RunStatus : uint8_t { kRunning, kPaused, kCompleted, kCancelled, kFailed };
// "running", "paused", "completed", "cancelled", "failed".
std::string_view RunStatusName(RunStatus status);

struct RunCounts {
  uint64_t started = 0;
  uint64_t finished = 0;
  uint64_t failed = 0;
  uint64_t aborted = 0;
  uint64_t cancelled = 0;
  uint64_t passed = 0;   // extension
  uint64_t late = 0;     // extension
  uint64_t halted = 0;   // extension: halted now
  uint64_t running = 0;  // extension: in progress now (started - finished)
};

enum class ResumeError : uint8_t {
  kNone,
  kNoSuchInstance,  // negative, >= total, or never will start
  kNotHalted,       // running, waiting, finished, or due but not started yet
};

// A halted instance as QueryTest lists it.
struct HaltedEntry {
  int64_t instance_id;
  const rapidjson::Value* operation;  // the op as given plus "idx" (owned by the Program)
};

// A first_call_summary / first_fail_summary record.
struct InstanceSummary {
  int64_t idx = 0;
  bool completed = false;
  MonoNs start = 0;
  MonoNs finish = 0;  // when completed
  const CheckLog* check_log = nullptr;  // never null while the run lives
  const TraceLog* trace_log = nullptr;  // may be null (no trace)
};

class IoContext;  // ops/net.h
class TraceLog;

// What a Run needs from its owner (the RunRegistry).
struct RunEnvironment {
  Clock* clock = nullptr;
  // Sockets for protocol ops (ops/net.h); nullptr: protocol ops abort ("no event loop").
  IoContext* io = nullptr;
  const EngineLimits* limits = nullptr;
  // Instances in progress over every run, and the cap on it (SPEC §6 max_instances): a run
  // never starts an instance that would take the sum over the cap.
  uint64_t* instances_live = nullptr;
  // Called once when the run completes, is cancelled or fails (e.g. results_dir writing);
  // never from inside the Run's own methods that the caller is still in (only from OnTick
  // or Cancel). May be empty.
  std::function<void(class Run&)> on_completed;
};

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
  // the time paused. Error (-32006): pausing a run that is not running, or unpausing one
  // that is not paused.
  Status Pause();
  Status Unpause();

  // ResumeInstance: the halted instance continues at the op after its halt on the next loop
  // turn, with `vars` (an object, or nullptr) merged into its `v` first. A vars value the
  // run's memory cap refuses aborts the instance instead.
  ResumeError Resume(int64_t instance_id, const rapidjson::Value* vars);

  // --- Read-only state for QueryTest (see ops/run_status.h for the JSON) ---
  const std::string& run_id() const { return def_.run_id; }
  RunStatus status() const { return status_; }
  const std::string& status_reason() const { return status_reason_; }
  bool completed() const { return status_ == RunStatus::kCompleted ||
                                  status_ == RunStatus::kCancelled ||
                                  status_ == RunStatus::kFailed; }
  MonoNs time_start() const { return start_; }
  // The wall time at Start(): every wall time of the run is derived from this one pair, so
  // time_start/time_finish read the same in every QueryTest and in the results_dir file.
  WallTime wall_start() const { return wall_start_; }
  MonoNs time_finish() const { return finish_; }  // when completed()
  const RunCounts& counts() const { return counts_; }
  const FirstReasons& first_fails() const { return first_fails_; }
  const FirstReasons& first_aborts() const { return first_aborts_; }
  const Buckets& buckets() const { return buckets_; }
  // Up to `limit` halted instances, lowest id first, while their operations' echoes hold at
  // most `max_bytes` of JSON (the first is always listed).
  std::vector<HaltedEntry> Halted(size_t limit, size_t max_bytes) const;
  // Per-op latency histograms (halt, wait, protocol ops) that have a sample, by op_idx.
  std::vector<std::pair<int, const LatencyHistogram*>> Latencies() const;
  // Instance 0, once it has started.
  std::optional<InstanceSummary> FirstCallSummary() const;
  // The first instance that failed or aborted, once there is one.
  std::optional<InstanceSummary> FirstFailSummary() const;
  // By started / planned instances when the run has a `total` (or single); by active time /
  // duration (or end of the stages) when `total` is 0; nullopt when neither is known.
  std::optional<double> PercentComplete() const;
  // Time spent paused so far (an ongoing pause included; frozen at completion).
  MonoNs paused_ns() const;
  const std::vector<std::string>& tags() const { return def_.tags; }
  const RunDefinition& definition() const { return def_; }
  LuaSandbox& lua() const { return *def_.lua; }
  const Program& program() const { return *def_.program; }
  Clock& clock() const { return *env_.clock; }
  // When a completed run was first returned by QueryTest (the registry's retention).
  std::optional<MonoNs> returned_at;

  // --- The executor API (ops/op_*.cpp); each call is for the instance being executed ---
  // The scope an expression of `instance` runs in.
  EvalScope ScopeOf(Instance& instance) const;
  // Calls the op's compiled expression; on success the value is on the Lua stack and true
  // is returned; on failure the instance has been aborted (text naming the op) and false is
  // returned: the executor must return StepOutcome::kFinished.
  bool CallExpression(Instance& instance, const Op& op);
  // Evaluates template `slot` of `op` as a string (false: the instance aborted).
  bool EvaluateText(Instance& instance, const Op& op, Slot slot, std::string* out);
  // Evaluates template `slot` of `op` as JSON into `out` (false: the instance aborted).
  bool EvaluateValue(Instance& instance, const Op& op, Slot slot, rapidjson::Value& out,
                     rapidjson::Document::AllocatorType& alloc);
  // Records a pass or fail check (a fail marks the instance and feeds first_fails).
  void Check(Instance& instance, const Op& op, CheckStatus status, std::string_view text);
  // The same for a text with static lifetime (a literal): logged without a copy.
  void CheckConstant(Instance& instance, const Op& op, CheckStatus status,
                     std::string_view text);
  // Records an abort check and ends the instance as aborted.
  void Abort(Instance& instance, const Op& op, std::string_view text);
  // Merges the object `vars` into the instance's `v` (ResumeInstance). False when the run's
  // memory cap refused it; the stack is left as it was.
  bool MergeVars(Instance& instance, const rapidjson::Value& vars);
  // A `path` ("trace.notice", "trace.debug", "trace.spam") entry with `text` in the first
  // call's trace_log; nothing for other instances. The caller applies trace_level.
  void Trace(Instance& instance, const Op& op, std::string_view path, std::string_view text);
  // True when `instance` keeps a trace_log: the first call, the first instance that failed
  // or aborted, and, until that one is known, every instance (any may become it; SPEC
  // first_fail_summary carries the same record as first_call_summary).
  bool traces(const Instance& instance) const {
    return instance.id == 0 || first_fail_id_ < 0 || instance.id == first_fail_id_;
  }
  // The trace_log `instance` writes to (see traces()), or nullptr when it keeps none.
  TraceLog* TraceLogOf(const Instance& instance) const;
  // TraceLogOf(instance), creating a first_fail_summary candidate's log when it has none.
  TraceLog* TraceLogFor(Instance& instance);
  bool turbo_skips_asserts(const Instance& instance) const {
    return def_.turbo && instance.id != 0;
  }
  int trace_level() const { return def_.trace_level; }
  // Parks the instance for `duration` (wait: continues at pc + 1 when it expires; halt:
  // listed in `halted`, aborts when it expires unless resumed).
  void Park(Instance& instance, MonoNs duration, bool halt);

  // --- Protocol ops (ops/op_protocol.h) ---
  IoContext* io() const { return env_.io; }
  // Where protocol messages are recorded when trace_messages is 1 (the first call's, or a
  // first_fail_summary candidate's trace_log, created on first use), else nullptr.
  TraceLog* MessageLog(Instance& instance);
  // Parks `instance` on outside I/O for the op at its pc: the op's in-flight object (kept
  // in instance.io) calls FinishIo exactly once, or is destroyed with the instance when it
  // is cancelled or aborted.
  void ParkIo(Instance& instance);
  // From an I/O or timeout callback (never inside OnTick): the I/O `instance` is parked on
  // is over. Records the op's latency, sets the instance's step back to the op's own step
  // and calls `complete`, which records checks and fills `i`, and returns true to continue
  // at the next op or false after it aborted the instance. The run's tick is armed at once:
  // the instance continues (or is freed, with its sockets) on the next loop turn.
  void FinishIo(Instance& instance, const std::function<bool()>& complete);

 private:
  void OnTick();
  void ExpireParked(MonoNs now);
  void StartDue(MonoNs now);
  void RunRunnable(uint64_t* budget);
  // Executes `instance` until it parks or ends, or `budget` runs out (then it stays
  // runnable and is re-queued). May free the instance.
  void Execute(Instance& instance, uint64_t* budget);
  void StartInstance(uint64_t k, MonoNs planned, MonoNs now);
  enum class Outcome : uint8_t { kPass, kAbort, kCancel };
  // Updates counts/buckets/logs and frees the instance (do not touch it afterwards).
  void FinishInstance(Instance& instance, Outcome outcome);
  // The logs `instance` writes checks to (allocating a candidate's), or nullptr.
  InstanceLogs* LogsFor(Instance& instance, bool allocate);
  void CaptureFirstFail(Instance& instance);
  void RecordLatency(Instance& instance, MonoNs now);
  void MaybeComplete();
  void Complete(RunStatus status);
  void ArmTick();
  bool MoreStarts() const;
  uint64_t backlog_room() const;
  MonoNs now() const { return env_.clock->Now(); }

  struct Parked {
    MonoNs deadline;
    int64_t id;
    uint32_t generation;
    bool operator>(const Parked& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };

  RunDefinition def_;
  RunEnvironment env_;
  Schedule schedule_;
  std::unique_ptr<Timer> tick_;
  RunStatus status_ = RunStatus::kRunning;
  std::string status_reason_;
  bool stop_starting_ = false;  // max_failures tripped
  std::string failed_reason_;   // the status_reason once the run completes as failed
  // Whether instances other than the first call may trace anything (trace_level >= 1, a
  // halt, or a protocol op): only then do first_fail_summary candidates get a trace_log.
  bool candidates_trace_ = false;
  MonoNs start_ = 0;
  MonoNs finish_ = 0;
  WallTime wall_start_;
  MonoNs paused_total_ = 0;
  MonoNs paused_at_ = 0;
  uint64_t next_k_ = 0;          // id of the next instance to start
  uint64_t late_until_ = 0;      // instances k < late_until_ were due while blocked
  RunCounts counts_;
  FirstReasons first_fails_;
  FirstReasons first_aborts_;
  Buckets buckets_;
  std::unordered_map<int64_t, std::unique_ptr<Instance>> instances_;
  // Ids of the halted instances, in order: QueryTest lists the lowest 1,000 without
  // walking every live instance.
  std::set<int64_t> halted_ids_;
  std::vector<int64_t> runnable_;   // FIFO via head index
  size_t runnable_head_ = 0;
  std::vector<Parked> parked_;      // min-heap (std::push_heap with greater)
  std::vector<std::unique_ptr<LatencyHistogram>> latency_;  // by op_idx, lazily
  // Instance 0's logs survive it; so do the first failing instance's.
  std::unique_ptr<InstanceLogs> first_call_logs_;
  MonoNs first_call_start_ = 0;
  bool first_call_started_ = false;
  std::unique_ptr<InstanceLogs> first_fail_logs_;
  int64_t first_fail_id_ = -1;
  MonoNs first_fail_start_ = 0;
  // Candidates' logs without a trace_log, cleared when their instance passed and reused
  // by later candidates (at most kSpareLogs), so that checks allocate nothing per instance.
  std::vector<std::unique_ptr<InstanceLogs>> spare_logs_;
  static constexpr size_t kSpareLogs = 1024;
  // Finished instances, freed after the callback that ended them returns: at the end of the
  // work turn, or on the next loop turn when an I/O callback or a method call ended them.
  DeferredFree<Instance> finished_;
  bool in_tick_ = false;
  MonoNs turn_deadline_ = 0;  // when the current turn should yield
};

}  // namespace testrund::ops
