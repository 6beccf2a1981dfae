// SPDX-License-Identifier: Apache-2.0
// TestEngineLimits: engine limits for tests that build an engine without the daemon. They
// are the tests' own values (the daemon takes its limits from its option table,
// daemon/options.cpp); they happen to equal the defaults of docs/configuration.md, so that
// a test sees the engine as a user does unless it lowers a limit on purpose.
#pragma once

#include "ops/engine_limits.h"

namespace testrund::test {

inline ops::EngineLimits TestEngineLimits() {
  ops::EngineLimits limits;
  limits.max_runs = 1000;
  limits.max_instances = 2'000'000;
  limits.max_operations = 10'000;
  limits.lua.instruction_limit = 1'000'000;
  limits.lua.memory_limit = 256u << 20;
  limits.max_steps_without_wait = 100'000;
  limits.completed_run_retention = 0;
  return limits;
}

}  // namespace testrund::test

namespace testrund::ops {
using test::TestEngineLimits;
}  // namespace testrund::ops
