// SPDX-License-Identifier: Apache-2.0
// RunRegistry: run_id -> Run, the engine's front door for the rpc layer. Owns every live
// run, enforces the server limits (live runs, instances in progress), retention of
// completed runs, and results_dir writing.
//
// Lifetimes: a Run* returned by Query/Cancel stays valid until the next call into the
// registry (a run that was returned as completed, or cancelled, is freed by the sweep at the
// start of the next call), so a handler builds its result before calling again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/engine_limits.h"
#include "ops/base/problem.h"
#include "ops/run.h"
#include "ops/base/status.h"

namespace testrund::ops {

// Engine errors the rpc layer maps to JSON-RPC codes (SPEC §2); EngineErrorCode() gives it.
enum class EngineError : uint8_t {
  kNone,
  kInvalidParams,    // -32602, with Problems
  kUnknownRun,       // -32001
  kRunIdInUse,       // -32002
  kNoSuchInstance,   // -32003
  kNotHalted,        // -32004
  kLimit,            // -32005
  kBadState,         // -32006
};
int EngineErrorCode(EngineError error);

struct ExecuteResult {
  EngineError error = EngineError::kNone;
  std::string message;  // a sentence when error != kNone
  Problems problems;    // kInvalidParams: every problem at once
  std::string run_id;   // on success
};

template <typename T>
struct EngineResult {
  EngineError error = EngineError::kNone;
  std::string message;
  T value{};
  bool ok() const { return error == EngineError::kNone; }
};

class RunRegistry {
 public:
  // `clock` (and `io`, the sockets of protocol ops, when given) are borrowed and must
  // outlive the registry.
  RunRegistry(Clock& clock, EngineLimits limits, IoContext* io = nullptr);
  ~RunRegistry();

  // ExecuteTest: checks params (kInvalidParams), then run_id uniqueness (kRunIdInUse: a live
  // run, or one discarded less than 10 minutes ago), then server limits (kLimit: max_runs
  // live runs, or max_instances already in progress), then starts the run. Without a
  // run_id the registry assigns `tr_<n>`.
  ExecuteResult Execute(const rapidjson::Value& params);

  // QueryTest: the run, or kUnknownRun. A completed run returned here is discarded
  // `completed_run_retention` seconds later (0: at the next call).
  EngineResult<Run*> Query(std::string_view run_id);

  // CancelTest: cancels the run (value.second: true if it was still in progress) and
  // discards it at the next call. kUnknownRun when unknown.
  EngineResult<std::pair<Run*, bool>> Cancel(std::string_view run_id);

  // ResumeInstance: kUnknownRun, kNoSuchInstance or kNotHalted; `vars` may be nullptr.
  EngineError Resume(std::string_view run_id, int64_t instance_id, const rapidjson::Value* vars,
                     std::string* message);

  // PauseTest / UnpauseTest: kUnknownRun or kBadState.
  EngineError Pause(std::string_view run_id, std::string* message);
  EngineError Unpause(std::string_view run_id, std::string* message);

  // ListTests: every live run (not cancelled or discarded), in run_id order.
  std::vector<const Run*> Runs();

  // Frees runs whose retention ended and forgets discarded ids older than 10 minutes.
  // Called at the start of every method; the daemon may also call it from a timer.
  void Sweep();

  // Cancels every run (daemon shutdown) with `reason` as its status_reason; results_dir
  // files are written for each, and retried for completed runs whose write had failed.
  void CancelAll(std::string_view reason = "Cancelled because the daemon stopped.");

  // results_dir (SPEC §3 Retention). When a run completes, is cancelled or the daemon
  // stops, its final QueryTest object is written as `<results_dir>/<run_id>.json`, before
  // any QueryTest can return it as completed. The file holds exactly that object (the one
  // QueryTest returns at that moment: completed 1, status completed|failed|cancelled,
  // time_finish, duration, counts, globals, first_call_summary, ...) as one line of
  // UTF-8 JSON followed by "\n", mode 0640 (before the umask). It is written atomically: to
  // `.<run_id>.json.tmp` in the same directory (never through a symlink at that name),
  // fsync'd, renamed over `<run_id>.json`, then the directory is fsync'd;
  // so a reader sees either no file or the whole one. Returns the error (naming the path
  // and errno text) when any step fails; the temporary file is then removed.
  static Status WriteResultsFile(const std::string& dir, const Run& run);

  // Called with the run_id and the error whenever a results_dir write fails (the daemon
  // logs it); a failed write is retried once more when the run is discarded (Sweep) or
  // the daemon stops (CancelAll). May be empty.
  using ResultsErrorHandler = std::function<void(std::string_view run_id, const Status&)>;
  void set_on_results_error(ResultsErrorHandler handler) {
    on_results_error_ = std::move(handler);
  }
  // results_dir writes that failed since start (each retry counts again).
  uint64_t results_write_failures() const { return results_write_failures_; }

  size_t live_runs() const;
  uint64_t instances_live() const;
  // Bytes held by the runs' Lua states.
  size_t lua_memory_bytes() const;

  Clock& clock() { return clock_; }
  const EngineLimits& limits() const { return limits_; }

  // How long a discarded run_id stays "in use" (SPEC §2 -32002).
  static constexpr MonoNs kDiscardedIdQuarantine = 600 * kNsPerSecond;

 private:
  struct Entry {
    std::unique_ptr<Run> run;
    bool doomed = false;  // cancelled or retention ended: freed at the next sweep
    bool results_unwritten = false;  // its results_dir write failed (CancelAll retries)
  };
  // The live (not doomed) entry for run_id, or nullptr.
  Entry* Find(std::string_view run_id);
  void Discard(const std::string& run_id);
  void OnRunCompleted(Run& run);
  // Writes run's results file when results_dir is set; reports and counts a failure.
  bool WriteResults(const Run& run);
  std::string NextRunId();

  Clock& clock_;
  IoContext* io_;
  EngineLimits limits_;
  std::map<std::string, Entry, std::less<>> runs_;
  std::unordered_map<std::string, MonoNs> discarded_;  // run_id -> when discarded
  uint64_t instances_live_ = 0;
  uint64_t next_run_number_ = 1;
  ResultsErrorHandler on_results_error_;
  uint64_t results_write_failures_ = 0;
};

}  // namespace testrund::ops
