// SPDX-License-Identifier: Apache-2.0
// RunDefinition: the whole ExecuteTest params, validated (docs/api.md#executetest). Parsing
// collects every problem at once — the params themselves, the distribution (ops/
// distribution.h) and every operation (ops/program.h) — and creates the run's LuaSandbox,
// because operations compile into it. Nothing starts here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "ops/distribution.h"
#include "ops/engine_limits.h"
#include "ops/lua/lua_sandbox.h"
#include "ops/base/param_reader.h"
#include "ops/base/problem.h"
#include "ops/program.h"
#include "ops/repeat_plan.h"
#include "ops/run_data.h"
#include "ops/sip/sip_address.h"
#include "ops/stats/run_snapshot.h"
#include "ops/stats/threshold.h"

namespace testrund::ops {

struct RunDefinition {
  std::string run_id;  // empty: the registry assigns `tr_<n>`
  Distribution distribution;
  int trace_level = 0;         // 0 none, 1 notice, 2 + debug per op, 3 + spam values
  bool trace_messages = true;  // protocol messages in the first call's trace_log
  bool turbo = false;          // instances after the first skip assert evaluation
  std::optional<uint64_t> max_failures;
  std::vector<std::string> tags;
  std::vector<Threshold> thresholds;  // checked by the run (ops/stats/threshold.h)
  // When the run starts (Unix seconds); until then it is `scheduled`. nullopt: at once.
  std::optional<double> start_at;
  // `repeat`: the run's repetitions (ops/run_series.h); nullopt: it runs once.
  std::optional<RepeatPlan> repeat;
  Shard shard;
  // `sip.local`: the run's own SIP address (docs/protocol-ops.md#sip); nullopt: an ephemeral
  // UDP port on 127.0.0.1.
  std::optional<sip::TransportAddress> sip_local;
  uint64_t seed = 0;
  // `data` rows (nullptr: none); the sandbox's `d` reads them, so they outlive it.
  std::unique_ptr<RunData> data;
  std::unique_ptr<LuaSandbox> lua;   // holds the compiled program, vars template and `g`
  std::unique_ptr<Program> program;  // compiled into `lua`
  // More operations than max_operations were given (their number; 0 otherwise). That is a server
  // limit (-32005), which is checked after params and run_id (docs/api.md#error-codes), so the
  // operations are then neither validated nor compiled and `program` stays null.
  size_t too_many_operations = 0;
};

// What the engine's owner adds to its runs (the daemon's reporters, daemon/run_reporters.h):
// it reads its own members of ExecuteTest's params, checked with the rest so that every
// problem comes at once, and adds what it knows of a run to the run's snapshots.
class RunExtension {
 public:
  virtual ~RunExtension() = default;
  // Records every problem of its members in `params`' list.
  virtual void CheckParams(ParamReader& params) const = 0;
  // Adds its view of the run `snapshot` describes.
  virtual void AddTo(RunSnapshot& snapshot) const = 0;
  // Whether a completed run must be kept past its retention (a report is still pending);
  // its retention period starts again when the hold ends.
  virtual bool Holds(std::string_view run_id) const = 0;
};

// Parses ExecuteTest `params`. On any problem returns nullopt with every problem appended to
// `problems` (the rpc layer's -32602 `data`). A sandbox that cannot be created (memory limit too
// small) is a Problem on field "lua". `run_id` is only checked for form here; uniqueness is the
// registry's (the check order of docs/api.md#error-codes). `assigned_run_id` is used when the
// params have none (the sandbox's `run_id` is fixed at creation). Without `seed` a random one is
// drawn. `now` (the wall clock) bounds `start_at`: at most kStartAtPast seconds before it and
// kStartAtAhead after; without it only the form of `start_at` is checked. `extension` checks
// its members (`reporters`); without one, `reporters` is refused.
std::optional<RunDefinition> ParseRunDefinition(const rapidjson::Value& params,
                                                const EngineLimits& limits,
                                                const OpTable& op_types,
                                                std::string_view assigned_run_id,
                                                Problems* problems,
                                                std::optional<WallTime> now = std::nullopt,
                                                const RunExtension* extension = nullptr);

// How far `start_at` may lie in the past (the run then starts at once, its schedule
// anchored at start_at) and in the future.
constexpr double kStartAtPast = 60;
constexpr double kStartAtAhead = 366 * 86400.0;

// True when `run_id` is 1-64 chars of [A-Za-z0-9_.:-].
bool ValidRunId(std::string_view run_id);

}  // namespace testrund::ops
