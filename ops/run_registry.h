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
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>

#include "ops/clock.h"
#include "ops/engine_limits.h"
#include "ops/problem.h"
#include "ops/run.h"

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
  // `clock` is borrowed and must outlive the registry.
  RunRegistry(Clock& clock, EngineLimits limits);
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

  // Cancels every run (daemon shutdown); results_dir files are written for each.
  void CancelAll();

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
  };
  // The live (not doomed) entry for run_id, or nullptr.
  Entry* Find(std::string_view run_id);
  void Discard(const std::string& run_id);
  void OnRunCompleted(Run& run);
  std::string NextRunId();

  Clock& clock_;
  EngineLimits limits_;
  std::map<std::string, Entry, std::less<>> runs_;
  std::unordered_map<std::string, MonoNs> discarded_;  // run_id -> when discarded
  uint64_t instances_live_ = 0;
  uint64_t next_run_number_ = 1;
};

}  // namespace testrund::ops
