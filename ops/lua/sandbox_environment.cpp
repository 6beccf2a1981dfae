// SPDX-License-Identifier: Apache-2.0
// The sandbox's environment, its allow-list as data, and the guarded base functions that
// replace rawset, setmetatable, load and xpcall (see sandbox_environment.h).
#include "ops/lua/sandbox_environment.h"

#include "ops/lua/sandbox_budget.h"

namespace testrund::ops::sandbox {
namespace {

// The address marks the sandbox's own metatables (as a lightuserdata key, which no script can
// forge), so that rawset refuses the tables they protect.
char kSandboxMark;


bool IsSandboxTable(lua_State* L, int idx) {
  if (!lua_getmetatable(L, idx)) return false;
  bool marked = lua_rawgetp(L, -1, &kSandboxMark) != LUA_TNIL;
  lua_pop(L, 2);
  return marked;
}

// rawset, refusing the environment and the read-only library tables.
int SafeRawSet(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (IsSandboxTable(L, 1)) return luaL_error(L, "rawset on a protected table is not allowed");
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

// setmetatable, refusing __gc: finalizers run with hooks off, so a looping one could never
// be stopped by the instruction budget.
int SafeSetMetatable(lua_State* L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
    return luaL_error(L, "cannot change a protected metatable");
  }
  if (t == LUA_TTABLE) {
    bool has_gc = lua_getfield(L, 2, "__gc") != LUA_TNIL;
    lua_pop(L, 1);
    if (has_gc) return luaL_error(L, "__gc metamethods are not allowed in the sandbox");
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  // A metamethod written in Lua may loop where the chunk calling it has no loop: no
  // evaluation of this run goes without the count hook from now on (lua_sandbox.h).
  StateOf(L)->script_metatables = true;
  return 1;
}

// load(chunk [, chunkname [, mode [, env]]]): text chunks given as strings only; the chunk's
// _ENV is `env` when given, else the sandbox environment (upvalue 1).
int SafeLoad(lua_State* L) {
  size_t len = 0;
  const char* code = luaL_checklstring(L, 1, &len);
  const char* name = luaL_optstring(L, 2, "=(load)");
  bool has_env = !lua_isnone(L, 4);
  int status = luaL_loadbufferx(L, code, len, name, "t");
  if (status != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  if (has_env) {
    lua_pushvalue(L, 4);
  } else {
    lua_pushvalue(L, lua_upvalueindex(1));
  }
  if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);
  return 1;
}

// The message handler xpcall installs around the script's own: once the instruction limit has
// fired, Lua runs message handlers with hooks off (the hook's error leaves them disabled until
// a pcall catches it), so the script's handler must not run at all then.
int XpcallHandler(lua_State* L) {
  if (StateOf(L)->instruction_limit_hit) return 1;  // the error value, unchanged
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

// xpcall(f, msgh, ...), with msgh wrapped by XpcallHandler.
int SafeXpcall(lua_State* L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, XpcallHandler, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);  // the first result when f succeeds
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);  // true and f go below f's arguments
  if (lua_pcall(L, n - 2, LUA_MULTRET, 2) != LUA_OK) {
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - 2;
}

// __newindex of the environment: every global assignment is an error.
int EnvNewIndex(lua_State* L) {
  if (lua_type(L, 2) != LUA_TSTRING) {
    return luaL_error(L, "assignment to undeclared global (use local, v.x or g.x)");
  }
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) {
    return luaL_error(L, "assignment to read-only global '%s'", lua_tostring(L, 2));
  }
  return luaL_error(L, "assignment to undeclared global '%s' (use local, v.x or g.x)",
                    lua_tostring(L, 2));
}

// __newindex of a read-only library table; upvalue 1 is its name.
int ReadOnlyNewIndex(lua_State* L) {
  return luaL_error(L, "attempt to modify read-only table '%s'",
                    lua_tostring(L, lua_upvalueindex(1)));
}

// __pairs of a read-only table: iterate the backing table (upvalue 1) with `next` (upvalue 2).
int ReadOnlyPairs(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushnil(L);
  return 3;
}

// Replaces the value at the top (the upvalue of `newindex`) with a protected metatable whose
// reads go to the table at `backing` and whose writes call `newindex`.
void PushGuardMetatable(lua_State* L, int backing, lua_CFunction newindex) {
  int upvalue = lua_gettop(L);
  lua_createtable(L, 0, 5);
  lua_pushvalue(L, backing);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, upvalue);
  lua_pushcclosure(L, newindex, 1);
  lua_setfield(L, -2, "__newindex");
  ProtectMetatable(L);
  lua_replace(L, upvalue);
}

// Replaces the table at the top with an empty read-only proxy whose reads go to it.
// `next_idx` is the absolute index of the base library's `next`.
void MakeReadOnly(lua_State* L, const char* name, int next_idx) {
  int backing = lua_gettop(L);
  lua_newtable(L);  // proxy
  lua_pushstring(L, name);
  PushGuardMetatable(L, backing, ReadOnlyNewIndex);
  lua_pushvalue(L, backing);
  lua_pushvalue(L, next_idx);
  lua_pushcclosure(L, ReadOnlyPairs, 2);
  lua_setfield(L, -2, "__pairs");
  lua_setmetatable(L, -2);
  lua_replace(L, backing);
}

// The allow-list, as data. Names absent from a library are not an error (Lua builds differ).
struct LibraryAllowList {
  const char* name;
  lua_CFunction open;
  const char* const* fields;
};

constexpr const char* kBaseFields[] = {
    "assert", "error",    "getmetatable", "ipairs", "next",     "pairs",
    "pcall",  "rawequal", "rawget",       "rawlen", "select",   "tonumber",
    "tostring", "type",   "_VERSION",     nullptr};
constexpr const char* kStringFields[] = {"byte",   "char",    "find",    "format", "gmatch",
                                         "gsub",   "len",     "lower",   "match",  "rep",
                                         "reverse", "sub",    "upper",   "pack",   "packsize",
                                         "unpack", nullptr};  // not dump
constexpr const char* kTableFields[] = {"concat", "insert", "move",   "pack",
                                        "remove", "sort",   "unpack", nullptr};
constexpr const char* kMathFields[] = {
    "abs",  "ceil", "floor", "fmod", "huge", "log",        "max",        "maxinteger",
    "min",  "mininteger", "modf", "pi", "sqrt", "tointeger", "type",    "ult",
    "exp",  "sin",  "cos",   "tan",  "asin", "acos",       "atan",       nullptr};
constexpr const char* kUtf8Fields[] = {"char", "charpattern", "codes", "codepoint",
                                       "len",  "offset",      nullptr};
constexpr const char* kOsFields[] = {"time", "clock", nullptr};

constexpr LibraryAllowList kLibraries[] = {
    {"string", luaopen_string, kStringFields}, {"table", luaopen_table, kTableFields},
    {"math", luaopen_math, kMathFields},       {"utf8", luaopen_utf8, kUtf8Fields},
    {"os", luaopen_os, kOsFields},
};

// Pushes the library built by `open` and leaves a new table with the allowed fields copied.
void CopyAllowed(lua_State* L, lua_CFunction open, const char* const* fields) {
  lua_pushcfunction(L, open);
  lua_call(L, 0, 1);
  int lib = lua_gettop(L);
  lua_newtable(L);
  for (const char* const* f = fields; *f != nullptr; ++f) {
    lua_getfield(L, lib, *f);
    lua_setfield(L, -2, *f);
  }
  lua_remove(L, lib);
}

}  // namespace

void ProtectMetatable(lua_State* L) {
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushboolean(L, 1);
  lua_rawsetp(L, -2, &kSandboxMark);
}

int SetupProtected(lua_State* L) {
  auto* args = static_cast<SetupArgs*>(lua_touserdata(L, 1));
  lua_settop(L, 0);

  lua_newtable(L);  // 1: base (hidden, read through the environment's __index)
  lua_newtable(L);  // 2: env (stays empty)
  const int base = 1;
  const int env = 2;

  CopyAllowed(L, luaopen_base, kBaseFields);  // 3: the safe base functions
  const int base_lib = 3;
  lua_getfield(L, base_lib, "next");  // 4
  const int next_idx = 4;
  lua_pushnil(L);
  while (lua_next(L, base_lib) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, base);
  }
  lua_pushcfunction(L, SafeRawSet);
  lua_setfield(L, base, "rawset");
  lua_pushcfunction(L, SafeSetMetatable);
  lua_setfield(L, base, "setmetatable");
  lua_pushcfunction(L, SafeXpcall);
  lua_setfield(L, base, "xpcall");
  lua_pushvalue(L, env);
  lua_pushcclosure(L, SafeLoad, 1);
  lua_setfield(L, base, "load");
  lua_pushvalue(L, env);
  lua_setfield(L, base, "_G");

  for (const LibraryAllowList& lib : kLibraries) {
    CopyAllowed(L, lib.open, lib.fields);
    if (lib.open == luaopen_math) {
      lua_pushcfunction(L, MathRandom);
      lua_setfield(L, -2, "random");
      lua_pushcfunction(L, MathRandomSeed);
      lua_setfield(L, -2, "randomseed");
    }
    if (lib.open == luaopen_string) {
      GuardPatternFunctions(L);
      // Method calls on strings ("x"):upper() read the shared string metatable: point it at
      // the copy and hide it, so no script reaches it to swap __index for the whole run.
      lua_pushliteral(L, "");
      lua_getmetatable(L, -1);
      lua_pushvalue(L, -3);
      lua_setfield(L, -2, "__index");
      ProtectMetatable(L);
      lua_pop(L, 2);
    }
    MakeReadOnly(L, lib.name, next_idx);
    lua_setfield(L, base, lib.name);
  }

  // The per-evaluation names; Call overwrites v, i and instance in place.
  lua_newtable(L);
  MakeReadOnly(L, "i", next_idx);
  lua_pushvalue(L, -1);
  args->empty_i_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  lua_setfield(L, base, "i");
  lua_setfield(L, base, "v");
  lua_pushinteger(L, 0);
  lua_setfield(L, base, "instance");
  lua_newtable(L);
  lua_pushvalue(L, -1);
  args->g_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_setfield(L, base, "g");
  lua_pushlstring(L, args->run_id.data(), args->run_id.size());
  lua_setfield(L, base, "run_id");

  // The environment: empty, reads go to base, writes fail, metatable hidden.
  lua_pushvalue(L, base);
  PushGuardMetatable(L, base, EnvNewIndex);
  lua_setmetatable(L, env);

  lua_pushvalue(L, env);
  args->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, base);
  args->base_ref = luaL_ref(L, LUA_REGISTRYINDEX);

  // The scope thread: its values are moved over (lua_xmove cannot fail), so that no error
  // is ever raised on a thread that is not running.
  args->scope_thread = lua_newthread(L);
  luaL_ref(L, LUA_REGISTRYINDEX);  // held for the state's life: never unreferenced
  lua_pushvalue(L, base);            // kScopeBase
  lua_pushliteral(L, "v");           // kScopeKeyV
  lua_pushliteral(L, "i");           // kScopeKeyI
  lua_pushliteral(L, "instance");    // kScopeKeyInstance
  lua_xmove(L, args->scope_thread, 4);
  return 0;
}


}  // namespace testrund::ops::sandbox
