// SPDX-License-Identifier: Apache-2.0
// Limits for tests that build the engine, a sandbox or a dispatcher without the daemon.
// They are the tests' own values (the daemon takes its limits from its option table,
// daemon/config.cpp, which is the one source of the defaults); they equal the defaults of
// docs/configuration.md, so that a test sees the engine as a user does unless it lowers a
// limit on purpose.
#pragma once

#include "ops/engine_limits.h"
#include "ops/lua/lua_sandbox.h"
#include "rpc/dispatcher.h"

namespace testrund::test {

inline ops::LuaLimits TestLuaLimits() {
  ops::LuaLimits limits;
  limits.instruction_limit = 1'000'000;
  limits.memory_limit = 256u << 20;
  return limits;
}

inline ops::EngineLimits TestEngineLimits() {
  ops::EngineLimits limits;
  limits.max_runs = 1000;
  limits.max_instances = 2'000'000;
  limits.max_operations = 10'000;
  limits.lua = TestLuaLimits();
  limits.max_steps_without_wait = 100'000;
  limits.completed_run_retention = 0;
  limits.data = {.max_bytes = 256u << 20, .max_rows = 10'000'000};
  return limits;
}

inline rpc::DispatchLimits TestDispatchLimits() {
  rpc::DispatchLimits limits;
  limits.max_json_depth = 64;
  return limits;
}

}  // namespace testrund::test

namespace testrund::ops {
using test::TestEngineLimits;
using test::TestLuaLimits;
}  // namespace testrund::ops
