// SPDX-License-Identifier: Apache-2.0
// EngineLimits: the engine's share of the daemon configuration (SPEC §6). The daemon fills
// it from the config table; unit tests set what they need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ops/lua/lua_sandbox.h"

namespace testrund::ops {

struct EngineLimits {
  size_t max_runs = 1000;                       // live runs
  uint64_t max_instances = 2'000'000;           // instances in progress, all runs
  size_t max_operations = 10'000;               // operations per run
  LuaLimits lua;                                // instructions per evaluation, memory per run
  uint64_t max_steps_without_wait = 100'000;    // per instance
  // Steps (and starts) one run's work turn may take before it yields to the event loop.
  // Not a config option: the daemon keeps the default; tests and fuzzers lower it.
  uint64_t steps_per_turn = 10'000;
  // ... and at most this long (checked before each instance): a response to a client waits
  // for the turn in progress, and its write for the next one.
  int64_t turn_ns = 1'000'000;
  double completed_run_retention = 0;           // seconds a returned completed run is kept
};

}  // namespace testrund::ops
