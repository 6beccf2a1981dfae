// SPDX-License-Identifier: Apache-2.0
// RunRegistry: run_id -> Run, the engine's front door for the rpc layer (see run_registry.h).
#include "ops/run_registry.h"

#include <utility>

namespace testrund::ops {

RunRegistry::RunRegistry(Clock& clock, EngineLimits limits)
    : clock_(clock), limits_(std::move(limits)) {}

RunRegistry::~RunRegistry() = default;

size_t RunRegistry::live_runs() const { return 0; }

uint64_t RunRegistry::instances_live() const { return 0; }

size_t RunRegistry::lua_memory_bytes() const { return 0; }

}  // namespace testrund::ops
