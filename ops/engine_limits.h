// SPDX-License-Identifier: Apache-2.0
// EngineLimits: the engine's share of the daemon's configuration (docs/configuration.md).
// The daemon's option table (daemon/config.cpp) is the one source of every default and bound:
// it fills these fields, which stay zero until then; tests set what they need
// (test/fakes/test_limits.h). Only the turn budget, which is not an option, has its values
// here.
#pragma once

#include <cstdint>
#include <string>

#include "ops/data/data_limits.h"
#include "ops/lua/lua_sandbox.h"

namespace testrund::ops {

// How much one run's work turn may do before it yields to the event loop, so that the daemon
// keeps answering while thousands of instances are runnable. Not options: the daemon keeps
// these; tests and fuzzers lower them.
struct TurnBudget {
  uint64_t steps = 10'000;  // steps (and starts) per turn
  // ... and about this long (checked before each instance): a response to a client waits for
  // the turn in progress, and its write for the next one.
  int64_t ns = 1'000'000;
};

struct EngineLimits {
  uint64_t max_runs = 0;                // live runs
  uint64_t max_instances = 0;           // instances in progress, all runs
  uint64_t max_operations = 0;          // operations per run
  LuaLimits lua;                        // instructions per evaluation, memory per run
  uint64_t max_steps_without_wait = 0;  // per instance
  double completed_run_retention = 0;   // seconds a returned completed run is kept
  DataLimits data{};                    // max_data_bytes, max_data_rows
  std::string data_dir;                 // where `data: {"file": NAME}` reads; empty: nowhere
  TurnBudget turn;
};

}  // namespace testrund::ops
