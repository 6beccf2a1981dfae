// SPDX-License-Identifier: Apache-2.0
// RunSeries: what one run_id runs — a single Run, or, with ExecuteTest `repeat`
// (ops/repeat_plan.h, docs/api.md#repeat), its repetitions one after another, each a fresh
// Run of the same definition (new counts, new `g`, new Lua state). The registry holds one
// series per run_id and sees nothing else; without `repeat` the series is its one Run.
//
// How repetitions follow each other: when one ends, the next Run is made at once from the
// definition (validated again: a data file may have changed) with its start as start_at, so
// between repetitions the series shows that Run `scheduled`, with its start as
// next_start_at; PauseTest holds it there. On a fixed cadence (`from: "start"`) a timer
// watches each planned start while a repetition runs: one that comes while it still runs is
// recorded `skipped` and counts toward `count`. The series ends with the status of its last
// repetition, `cancelled` at CancelTest, or `failed` when a repetition cannot be made.
//
// A Run ends inside its own callbacks, so the one replaced is freed on the next loop turn.
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
#include "ops/base/status.h"
#include "ops/repeat_plan.h"
#include "ops/run.h"
#include "ops/run_definition.h"
#include "ops/stats/repetition_history.h"

namespace testrund::ops {

// What a series is beyond its definition: enough, with the definition, to make it again
// after the daemon restarts (state_dir, docs/decisions.md).
struct SeriesState {
  uint64_t repetition = 1;   // the current repetition
  uint64_t next_number = 2;  // the next to start or skip
  double anchor = 0;         // from "start": repetition 1's start (Unix seconds)
  std::vector<RepetitionSummary> history;  // kept, oldest first
  uint64_t history_older = 0;
  bool ended = false;
  std::string failure;  // why a repetition could not be made
  bool began = false;   // the current repetition had started
  bool paused = false;  // it is paused (before or after its start)
  std::optional<double> start;  // its start (Unix seconds), while it had not begun
};

// A run brought back from state_dir that no longer runs (ended before the daemon stopped, or
// interrupted by the stop): it answers from its saved QueryTest object.
struct ArchivedRun {
  std::string run_id;
  RunStatus status = RunStatus::kCompleted;
  std::string status_reason;  // replaces the saved one when not empty
  std::shared_ptr<const rapidjson::Document> result;  // the QueryTest object as saved
  SeriesState state;  // its history, for a repeating run
  std::optional<RepeatPlan> plan;
};

class RunSeries {
 public:
  // The definition of a later repetition, starting at `start_at` (Unix seconds); nullopt
  // with the first problem's text in *problem when it no longer validates.
  using DefinitionSource =
      std::function<std::optional<RunDefinition>(double start_at, std::string* problem)>;
  struct Hooks {
    // A repetition of a repeating series ended (before the next is made). May be empty.
    std::function<void(const Run& repetition)> on_repetition;
    // The series ended: last repetition over, cancelled, or failed. May be empty.
    std::function<void(const RunSeries& series)> on_ended;
  };

  // `first` is the first repetition's definition (its `repeat` is the plan); `env` the
  // registry's, whose on_completed the series replaces with its own.
  RunSeries(RunDefinition first, RunEnvironment env, DefinitionSource next, Hooks hooks,
            uint32_t restarts);
  ~RunSeries();
  RunSeries(const RunSeries&) = delete;
  RunSeries& operator=(const RunSeries&) = delete;

  // A series that only answers from `archived`: completed, nothing runs; `clock` (borrowed)
  // gives its snapshots' time_now.
  RunSeries(ArchivedRun archived, Clock& clock);

  // Before Start: continues a series brought back from state_dir — its history, numbering
  // and anchor — with this series' Run as repetition `state.repetition`.
  void ContinueFrom(const SeriesState& state);

  void Start();
  // Cancels the repetition in progress (or the one waiting to start) and ends the series.
  // False when it had ended already.
  bool Cancel(std::string_view reason = "Cancelled by CancelTest.");
  Status Pause() { return archived_ ? NotRunning("running") : current_->Pause(); }
  Status Unpause() { return archived_ ? NotRunning("paused") : current_->Unpause(); }
  ResumeError Resume(int64_t instance_id, const rapidjson::Value* vars) {
    if (archived_) return ResumeError::kNotHalted;
    return current_->Resume(instance_id, vars);
  }

  // What the series is now, for state_dir.
  SeriesState State() const;

  // The current repetition's snapshot, with the series' status, progress and history.
  RunSnapshot Snapshot(unsigned parts, rapidjson::Document::AllocatorType& alloc) const;

  const std::string& run_id() const {
    return archived_ ? archived_->run_id : current_->run_id();
  }
  bool completed() const { return ended_; }
  RunStatus status() const {
    if (archived_) return archived_->status;
    return failure_.empty() ? current_->status() : RunStatus::kFailed;
  }
  size_t lua_memory_bytes() const { return archived_ ? 0 : current_->lua_memory_bytes(); }

 private:
  // PauseTest / UnpauseTest of an archived run: "run "x" is interrupted, not running".
  Status NotRunning(std::string_view wanted) const;
  RunSnapshot ArchivedSnapshot() const;
  void OnRunEnded(const Run& run);
  // The next repetition's start (Unix seconds), recording the cadence's starts that came
  // while `ended_at` had not; nullopt when the plan is used up.
  std::optional<double> NextStart(double ended_at);
  // Makes and starts repetition next_number_ at `start_at`, or ends the series failed.
  void StartNext(double start_at);
  void End(std::optional<std::string> failure = std::nullopt);
  void ArmCadence();
  void OnCadence();
  // Counts as dropped the missed cadence starts before `ended_at` that the history would
  // not keep anyway (all but its last kKeptRepetitions).
  void SkipOlderThanKept(double ended_at);
  void RecordSkipped(uint64_t repetition);
  RunEnvironment EnvironmentForRun();
  double WallSeconds() const { return ToSeconds(env_.clock->WallNow()); }
  MonoNs MonoAt(double wall_seconds) const;

  RunEnvironment env_;
  DefinitionSource next_definition_;
  Hooks hooks_;
  std::optional<RepeatPlan> plan_;
  uint32_t restarts_;
  std::unique_ptr<Run> current_;  // null when archived
  std::optional<ArchivedRun> archived_;
  std::unique_ptr<Run> replaced_;  // freed on the next loop turn
  std::unique_ptr<Timer> free_replaced_;
  std::unique_ptr<Timer> cadence_;  // from "start": the next planned start
  uint64_t repetition_ = 1;         // the current Run's number
  uint64_t next_number_ = 2;        // the next repetition to start or skip
  double anchor_ = 0;               // from "start": repetition 1's start (Unix seconds)
  RepetitionHistory history_;
  bool ended_ = false;
  bool cancelling_ = false;
  std::string failure_;  // the status_reason when a repetition could not be made
};

}  // namespace testrund::ops
