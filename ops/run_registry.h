// SPDX-License-Identifier: Apache-2.0
// RunRegistry: run_id -> RunSeries (a run, or its repetitions: ops/run_series.h), the
// engine's front door for the rpc layer. Owns every live run, enforces the server limits (live runs, instances in progress) and the retention of
// completed runs, and hands out snapshots of runs (ops/stats/run_snapshot.h), never the
// runs themselves. What happens when a run completes or is discarded (the daemon writes
// results_dir files) is its owner's, through two hooks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/base/problem.h"
#include "ops/engine_limits.h"
#include "ops/op_table.h"
#include "ops/run.h"
#include "ops/run_series.h"
#include "ops/stats/run_snapshot.h"

namespace testrund::ops {

// What went wrong in a registry call; rpc/ maps each kind to its JSON-RPC error code
// (docs/api.md#error-codes).
enum class EngineError : uint8_t {
  kNone,
  kInvalidParams,   // with Problems
  kUnknownRun,      // never existed, discarded, or cancelled
  kRunIdInUse,      // a live run's, or one discarded less than 10 minutes ago
  kNoSuchInstance,  // ResumeInstance: the instance never will exist
  kNotHalted,       // ResumeInstance: the instance is not halted
  kLimit,           // a server limit
  kBadState,        // PauseTest / UnpauseTest in the wrong state
};

// An error kind and its sentence (kNone: success, empty message).
struct EngineStatus {
  EngineError error = EngineError::kNone;
  std::string message;
  bool ok() const { return error == EngineError::kNone; }
};

struct ExecuteResult : EngineStatus {
  Problems problems;    // kInvalidParams: every problem at once
  std::string run_id;   // on success
};

template <typename T>
struct EngineResult : EngineStatus {
  T value{};
};

struct CancelResult {
  RunSnapshot snapshot;      // after the cancel
  bool was_running = false;  // CancelTest `cancelled`
};

// A run as state_dir brought it back (daemon/run_state.h), for RunRegistry::Restore.
struct RestoredRun {
  std::string run_id;
  rapidjson::Document params;  // the accepted ExecuteTest params
  uint32_t restarts = 0;
  SeriesState series;
  std::shared_ptr<const rapidjson::Document> result;  // its QueryTest object as saved
  WallTime saved_at;
};

// What state_dir keeps of a live run (RunRegistry::Record).
struct RunRecord {
  const rapidjson::Value* params = nullptr;  // borrowed: valid until the next registry call
  uint32_t restarts = 0;
  SeriesState series;
  RunSnapshot snapshot;
};

struct RestartResult {
  RunSnapshot snapshot;  // the run that was replaced, after its unfinished instances ended
  uint32_t restarts = 0;  // how many times the run has been restarted, this one included
};

class RunRegistry {
 public:
  using Allocator = rapidjson::Document::AllocatorType;

  // `clock`, `op_types` and `io` (the sockets of protocol ops, when given) are borrowed
  // and must outlive the registry. Runs know the op types of `op_types` only.
  RunRegistry(Clock& clock, EngineLimits limits, const OpTable& op_types = LogicOpTable(),
              IoContext* io = nullptr);
  ~RunRegistry();

  // ExecuteTest: checks params (kInvalidParams), then run_id uniqueness (kRunIdInUse: a live
  // run, or one discarded less than 10 minutes ago), then server limits (kLimit: too many
  // operations, max_runs live runs, or max_instances already in progress), then starts the
  // run. Without a run_id the registry assigns `tr_<n>`.
  ExecuteResult Execute(const rapidjson::Value& params);

  // QueryTest: a snapshot of the run with `parts`, JSON built with `alloc`; kUnknownRun. A
  // completed run returned here is discarded `completed_run_retention` seconds later (0: at
  // the next call).
  EngineResult<RunSnapshot> Query(std::string_view run_id, unsigned parts, Allocator& alloc);

  // A snapshot without QueryTest's side effect (a completed run is not marked returned);
  // nullopt for an unknown run.
  std::optional<RunSnapshot> Peek(std::string_view run_id, unsigned parts, Allocator& alloc);

  // CancelTest: cancels the run and discards it at the next call; kUnknownRun.
  EngineResult<CancelResult> Cancel(std::string_view run_id, unsigned parts, Allocator& alloc);

  // RestartTest: whatever still runs is cancelled ("Restarted by RestartTest."), on_restarted
  // sees the run so ended, and the same definition starts again under the same run_id with
  // fresh results, at `start_at` (Unix seconds, bounded as ExecuteTest's) or at once (the
  // definition's own start_at is not kept). kUnknownRun; kInvalidParams when the definition
  // no longer validates (a data file changed) or start_at is out of bounds, and then nothing
  // changes.
  EngineResult<RestartResult> Restart(std::string_view run_id, unsigned parts,
                                      Allocator& alloc,
                                      std::optional<double> start_at = std::nullopt);

  // A run brought back after the daemon restarted (docs/decisions.md, "State that survives
  // the daemon"): one that had ended answers from its saved result; a one-shot run that was
  // running is `interrupted` (completed) with its saved result; a repeating one records the
  // repetition that was running as `interrupted` and goes on with the next; one that had not
  // begun is made again at its start (now if that passed), paused if it was. A definition
  // that no longer validates archives a run that was to run again as `failed`. The value is
  // the status it came back with; kRunIdInUse when the run_id is taken. A run that ends by
  // coming back (interrupted, or failed) is seen by the on_completed hooks, as any end.
  EngineResult<RunStatus> Restore(RestoredRun saved);

  // ResumeInstance: kUnknownRun, kNoSuchInstance or kNotHalted; `vars` may be nullptr.
  EngineStatus Resume(std::string_view run_id, int64_t instance_id,
                      const rapidjson::Value* vars);

  // PauseTest / UnpauseTest: kUnknownRun or kBadState.
  EngineStatus Pause(std::string_view run_id);
  EngineStatus Unpause(std::string_view run_id);

  // Every live run, in run_id order: its summary plus `parts` (SnapshotPart bits; JSON
  // parts built in `alloc`). ListTests asks for the summary alone, /metrics for more.
  std::vector<RunSnapshot> Runs(unsigned parts, rapidjson::Document::AllocatorType& alloc);

  // Frees runs whose retention ended and forgets discarded ids older than 10 minutes.
  // Called at the start of every method; the daemon may also call it from a timer.
  void Sweep();

  // Cancels every run (daemon shutdown) with `reason` as its status_reason. A run that had
  // completed before gets its last look (on_discarded); one cancelled now has just had
  // on_completed.
  void CancelAll(std::string_view reason = "Cancelled because the daemon stopped.");

  // The hooks below may each be added several times (the results_dir writer, the
  // reporters); they are called in the order added. A hook is never removed.
  //
  // Called once when a run ends — completed, cancelled or failed; a repeating run after its
  // last repetition — inside the engine's call that ended it (before any QueryTest can
  // return it as completed).
  void add_on_completed(std::function<void(const RunSeries&)> hook) {
    on_completed_.push_back(std::move(hook));
  }
  // Called when a repetition of a repeating run ends (each one, the last included, before
  // on_completed), with that repetition's Run.
  void add_on_repetition(std::function<void(const Run&)> hook) {
    on_repetition_.push_back(std::move(hook));
  }
  // Called at most once per run: when retention or a sweep frees it, or at CancelAll for a
  // run that had completed before (the results_dir writer's second chance).
  void add_on_discarded(std::function<void(const RunSeries&)> hook) {
    on_discarded_.push_back(std::move(hook));
  }
  // Called by Restart with the run it replaces (ended, not yet freed) and the restart's
  // number (1, 2, ...); the run's on_completed is not called for that ending.
  void add_on_restarted(std::function<void(const RunSeries&, uint32_t restart)> hook) {
    on_restarted_.push_back(std::move(hook));
  }
  // What the owner adds to runs (RunExtension, ops/run_definition.h); borrowed, it must
  // outlive the registry's calls. nullptr: none (ExecuteTest then refuses `reporters`).
  void set_extension(const RunExtension* extension) { extension_ = extension; }

  // What state_dir saves of a live run (its snapshot with `parts`), or nullopt.
  std::optional<RunRecord> Record(std::string_view run_id, unsigned parts, Allocator& alloc);
  // The run_ids of the live runs, in order.
  std::vector<std::string> RunIds() const;
  // Called after a call changed a run's control state: ExecuteTest, PauseTest, UnpauseTest,
  // CancelTest, RestartTest (the runs' own ends come through the hooks above).
  void add_on_changed(std::function<void(const std::string& run_id)> hook) {
    on_changed_.push_back(std::move(hook));
  }

  // The accepted ExecuteTest params of a live run (with its run_id), or nullptr.
  const rapidjson::Value* Params(std::string_view run_id) const;

  size_t live_runs() const;
  uint64_t instances_live() const { return instances_live_; }
  // Bytes held by the runs' Lua states.
  size_t lua_memory_bytes() const;

  // How long a discarded run_id stays "in use".
  static constexpr MonoNs kDiscardedIdQuarantine = 600 * kNsPerSecond;

 private:
  struct Entry {
    std::unique_ptr<RunSeries> run;
    // The ExecuteTest params, with the run_id: what Restart and each repetition rerun.
    std::shared_ptr<const rapidjson::Document> params;
    uint32_t restarts = 0;
    bool doomed = false;                // cancelled or retention ended: freed at the next sweep
    std::optional<MonoNs> returned_at{};  // when QueryTest first returned it completed
    bool discard_reported = false;        // on_discarded has been called
  };
  void ReportDiscarded(Entry& entry);
  // The run's snapshot, with what the extension adds.
  RunSnapshot SnapshotOf(const Entry& entry, unsigned parts, Allocator& alloc) const;
  // Whether retention has ended for `entry`: returned completed long enough ago, and not
  // held by the extension (a hold restarts the retention period).
  bool RetentionEnded(const std::string& run_id, Entry& entry, MonoNs now) const;
  // The live (not doomed) entry for run_id, or nullptr.
  Entry* Find(std::string_view run_id);
  // The live entry, or kUnknownRun in *status.
  Entry* FindOr(std::string_view run_id, EngineStatus* status);
  void Discard(const std::string& run_id);
  EngineStatus CheckAdmission(const RunDefinition& def) const;
  // What a run of this registry needs from it.
  RunEnvironment Environment();
  // A series of `def` (the first repetition), its later repetitions read from `params`.
  std::unique_ptr<RunSeries> NewSeries(RunDefinition def,
                                       std::shared_ptr<const rapidjson::Document> params,
                                       uint32_t restarts);
  // `params` with `start_at` set (or removed), parsed again as `run_id`'s definition.
  std::optional<RunDefinition> Reparse(const rapidjson::Document& params,
                                       std::optional<double> start_at,
                                       const std::string& run_id, Problems* problems);
  std::string NextRunId();
  // Restore's parts: a series answering from `saved`'s result with `status`, and the live
  // series `saved` continues as (nullptr and *failure set when it cannot be made).
  std::unique_ptr<RunSeries> Archive(const RestoredRun& saved, RunStatus status,
                                     std::string reason);
  std::unique_ptr<RunSeries> Continue(RestoredRun& saved,
                                      const std::shared_ptr<const rapidjson::Document>& params,
                                      std::string* failure);

  Clock& clock_;
  const OpTable& op_types_;
  IoContext* io_;
  EngineLimits limits_;
  std::map<std::string, Entry, std::less<>> runs_;
  std::unordered_map<std::string, MonoNs> discarded_;  // run_id -> when discarded
  uint64_t instances_live_ = 0;
  uint64_t next_run_number_ = 1;
  std::vector<std::function<void(const RunSeries&)>> on_completed_;
  std::vector<std::function<void(const Run&)>> on_repetition_;
  std::vector<std::function<void(const RunSeries&)>> on_discarded_;
  std::vector<std::function<void(const RunSeries&, uint32_t)>> on_restarted_;
  const RunExtension* extension_ = nullptr;
  std::vector<std::function<void(const std::string&)>> on_changed_;
  void Changed(const std::string& run_id) {
    for (const auto& hook : on_changed_) hook(run_id);
  }
  bool restarting_ = false;  // a Restart is ending the old run: not a completion to report
};

}  // namespace testrund::ops
