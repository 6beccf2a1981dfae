// SPDX-License-Identifier: Apache-2.0
// What the Lua unit tests (lua_sandbox_test, lua_json_test, value_template_test) share: a
// run's LuaSandbox made for a test, and the vars template every new instance's v starts
// from. Both fail the current test (REQUIRE) when the sandbox refuses.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include "ops/lua/lua_json.h"
#include "ops/lua/lua_sandbox.h"
#include "test/fakes/test_limits.h"

namespace testrund::ops::testing {

inline std::unique_ptr<LuaSandbox> NewSandbox(const LuaLimits& limits = TestLuaLimits(),
                                              std::string_view run_id = "r", uint64_t seed = 0) {
  auto created = LuaSandbox::Create(limits, run_id, seed);
  REQUIRE(created.ok());
  return std::move(created.value());
}

// Makes the JSON object `vars_json` the run's vars template.
inline void SetVarsTemplate(LuaSandbox& lua, const char* vars_json) {
  rapidjson::Document vars;
  vars.Parse(vars_json);
  REQUIRE_FALSE(vars.HasParseError());
  REQUIRE(PushJson(lua, vars) == LuaFailure::kNone);
  lua.SetVarsTemplate(lua.Ref());
}

}  // namespace testrund::ops::testing
