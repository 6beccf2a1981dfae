// SPDX-License-Identifier: Apache-2.0
// RunRegistry: run_id -> Run, the engine's front door for the rpc layer. Owns every live
// run, enforces the server limits (live runs, instances in progress), retention of
// completed runs, and results_dir writing.
//
// (Initial contract; the engine work extends it with Execute/Query/Cancel/Resume.)
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/clock.h"
#include "ops/engine_limits.h"

namespace testrund::ops {

class RunRegistry {
 public:
  // `clock` is borrowed and must outlive the registry.
  RunRegistry(Clock& clock, EngineLimits limits);
  ~RunRegistry();

  size_t live_runs() const;
  uint64_t instances_live() const;
  // Bytes held by the runs' Lua states.
  size_t lua_memory_bytes() const;

  Clock& clock() { return clock_; }
  const EngineLimits& limits() const { return limits_; }

 private:
  Clock& clock_;
  EngineLimits limits_;
};

}  // namespace testrund::ops
