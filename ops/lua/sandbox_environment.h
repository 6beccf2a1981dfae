// SPDX-License-Identifier: Apache-2.0
// The environment every chunk of a run's LuaSandbox sees (docs/architecture.md#lua,
// docs/operations.md#the-lua-environment): an empty table whose reads go to a hidden,
// read-only base of allow-listed library copies and the run's names (v, i, instance, g,
// run_id), whose writes fail, and whose metatables no script can see or change. Internal to
// ops/lua/: LuaSandbox builds it once, in protected mode.
#pragma once

#include <string_view>

#include <lua.hpp>

namespace testrund::ops::sandbox {

// What SetupProtected is given (its first argument, a light userdata) and fills in: the
// registry references LuaSandbox keeps.
struct SetupArgs {
  std::string_view run_id;
  int env_ref, base_ref, g_ref, empty_i_ref;
  // A thread never run, whose stack holds base and the keys v, i and instance at the
  // kScope* indexes (LuaSandbox::BindScope); a registry reference keeps it alive.
  lua_State* scope_thread;
};

constexpr int kScopeBase = 1;
constexpr int kScopeKeyV = 2;
constexpr int kScopeKeyI = 3;
constexpr int kScopeKeyInstance = 4;

// Builds the environment in the state it runs in (under lua_pcall: every step may allocate).
int SetupProtected(lua_State* L);

// Sets the fields every sandbox metatable shares on the table at the top: hidden from
// getmetatable, and marked so that rawset and setmetatable refuse what it protects.
void ProtectMetatable(lua_State* L);

}  // namespace testrund::ops::sandbox
