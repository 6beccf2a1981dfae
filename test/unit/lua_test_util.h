// SPDX-License-Identifier: Apache-2.0
// What the Lua unit tests (lua_sandbox_test, lua_json_test, value_template_test,
// lua_pattern_test, socket_message_test) share: a run's LuaSandbox made for a test, the vars
// template every new instance's v starts from (both fail the current test (REQUIRE) when the
// sandbox refuses), and the error plain Lua's string.find raises for a pattern.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <catch2/catch.hpp>
#include <lua.hpp>
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

// The error string.find(subject, pattern) raises in the Lua this links ("" when none): the
// texts a pattern check promises to repeat.
inline std::string LuaFindError(std::string_view subject, std::string_view pattern) {
  lua_State* L = luaL_newstate();
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  lua_getfield(L, -1, "find");
  lua_pushlstring(L, subject.data(), subject.size());
  lua_pushlstring(L, pattern.data(), pattern.size());
  std::string error;
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) error = lua_tostring(L, -1);
  lua_close(L);
  return error;
}

}  // namespace testrund::ops::testing
