// SPDX-License-Identifier: Apache-2.0
// LuaSandbox: one capped lua_State per run. Builds the allow-listed environment once (read-only
// copies of the permitted library functions behind protected metatables), compiles chunks into
// registry references, and runs them under a per-evaluation instruction budget. Every Lua API
// call that may allocate runs inside lua_pcall, because the allocator refuses past the cap.
#include "ops/lua/lua_sandbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <lua.hpp>
#include <utility>

#include "ops/lua/lua_json.h"
#include "ops/lua/lua_pattern_cost.h"

namespace testrund::ops {

struct LuaSandbox::AllocState {
  size_t used = 0;
  size_t limit = 0;
  bool refused = false;                // an allocation was refused since the last reset
  bool instruction_limit_hit = false;  // the count hook fired since the last reset
  int hook_count = 1;                  // the per-evaluation budget, clamped to int
  double pattern_steps = 0;            // estimated pattern-matching steps in this evaluation
  bool evaluating = false;             // inside Call: allocations count against the budget
  size_t allocated = 0;                // bytes allocated (growth only) in this evaluation
  uint64_t* rng = nullptr;             // math.random state of the evaluating instance
  uint64_t fallback_rng = 0;           // used when no instance state is given
};

namespace {

using AllocState = LuaSandbox::AllocState;

// The address marks the sandbox's own metatables (as a lightuserdata key, which no script can
// forge), so that rawset refuses the tables they protect.
char kSandboxMark;
// The error value the count hook raises: allocation-free, unlike a message string.
char kLimitSentinel;

AllocState* StateOf(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<AllocState*>(ud);
}

// Bytes an evaluation may allocate per instruction of its budget. A single instruction can
// allocate and copy a lot (`s .. s`, string.rep, a growing stack in deep recursion) without
// the count hook noticing: doubling a string up to the run's 256 MiB cap took a second of
// CPU inside a few instructions. Charged here, the default budget allows 16 MiB of growth per
// evaluation (string.rep's doubling buffer takes about 4 bytes per byte of its result), some
// tens of milliseconds of copying at most.
constexpr size_t kBytesPerInstruction = 16;

// Counts `growth` bytes against the evaluation's budget. Once it is spent, refuses: Lua fails
// the allocation with a memory error, which Fail() reports as the instruction limit (also
// when the script caught it with pcall: every later allocation is refused too).
bool ChargeAllocation(AllocState* a, size_t growth) {
  a->allocated += growth;
  if (a->allocated / kBytesPerInstruction <= static_cast<size_t>(a->hook_count)) return true;
  a->instruction_limit_hit = true;
  return false;
}

// Lua's allocator contract; refuses any growth past the cap (Lua then collects and retries
// once before raising LUA_ERRMEM). Shrinking and freeing always succeed.
void* CappedAlloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* a = static_cast<AllocState*>(ud);
  size_t old_size = ptr != nullptr ? osize : 0;  // for a new block osize is a type tag
  if (nsize == 0) {
    std::free(ptr);
    a->used -= old_size;
    return nullptr;
  }
  size_t base = a->used - old_size;
  if (nsize > old_size && nsize > a->limit - std::min(base, a->limit)) {
    a->refused = true;
    return nullptr;
  }
  if (a->evaluating && nsize > old_size && !ChargeAllocation(a, nsize - old_size)) {
    return nullptr;
  }
  void* block = std::realloc(ptr, nsize);
  if (block == nullptr) {
    a->refused = true;
    return nullptr;
  }
  a->used = base + nsize;
  return block;
}

void OnCount(lua_State* L, lua_Debug* /*ar*/) {
  StateOf(L)->instruction_limit_hit = true;
  // From now on fire at every instruction, so that a pcall inside the script cannot swallow
  // the limit and carry on: each enclosing Lua frame fails at its next instruction.
  lua_sethook(L, OnCount, LUA_MASKCOUNT, 1);
  lua_pushlightuserdata(L, &kLimitSentinel);
  lua_error(L);
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t* RngOf(lua_State* L) {
  AllocState* a = StateOf(L);
  return a->rng != nullptr ? a->rng : &a->fallback_rng;
}

// math.random with Lua 5.4's interface (random(), random(m), random(m, n), random(0)), drawn
// from the evaluating instance's own state so that instances are reproducible one by one.
int MathRandom(lua_State* L) {
  uint64_t* state = RngOf(L);
  uint64_t draw = SplitMix64(state);
  lua_Integer low;
  lua_Integer up;
  switch (lua_gettop(L)) {
    case 0:
      lua_pushnumber(L, static_cast<lua_Number>(draw >> 11) * 0x1.0p-53);
      return 1;
    case 1:
      low = 1;
      up = luaL_checkinteger(L, 1);
      if (up == 0) {  // all bits
        lua_pushinteger(L, static_cast<lua_Integer>(draw));
        return 1;
      }
      break;
    case 2:
      low = luaL_checkinteger(L, 1);
      up = luaL_checkinteger(L, 2);
      break;
    default:
      return luaL_error(L, "wrong number of arguments");
  }
  luaL_argcheck(L, low <= up, 1, "interval is empty");
  uint64_t range = static_cast<uint64_t>(up) - static_cast<uint64_t>(low);
  // Unbiased: mask to the smallest 2^b - 1 covering the range and redraw when outside it.
  uint64_t mask = range;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t r = draw & mask;
  while (r > range) r = SplitMix64(state) & mask;
  lua_pushinteger(L, static_cast<lua_Integer>(r + static_cast<uint64_t>(low)));
  return 1;
}

// math.randomseed([x [, y]]): reseeds the evaluating instance's state only.
int MathRandomSeed(lua_State* L) {
  uint64_t* state = RngOf(L);
  if (lua_isnone(L, 1)) {
    *state = LuaSandbox::SeedInstanceRng(static_cast<uint64_t>(std::time(nullptr)) ^
                                             static_cast<uint64_t>(std::clock()),
                                         reinterpret_cast<intptr_t>(state));
  } else {
    lua_Integer n1 = luaL_checkinteger(L, 1);
    lua_Integer n2 = luaL_optinteger(L, 2, 0);
    *state = LuaSandbox::SeedInstanceRng(static_cast<uint64_t>(n1), n2);
  }
  return 0;
}

// Pattern matching steps an evaluation may spend per instruction of its budget: Lua's
// matcher is C code the count hook cannot interrupt, so its calls are priced up front.
constexpr double kPatternStepsPerInstruction = 10;

// string.find / match / gmatch / gsub: charges the call's estimated work (lua_pattern_cost.h)
// to the evaluation and refuses it, before it starts, once the evaluation's total would pass
// kPatternStepsPerInstruction × the instruction limit. Upvalues: 1 the original function,
// 2 its PatternCall, 3 its name.
int GuardedPatternCall(lua_State* L) {
  size_t subject_size = 0;
  size_t pattern_size = 0;
  const char* subject = luaL_checklstring(L, 1, &subject_size);
  const char* pattern = luaL_checklstring(L, 2, &pattern_size);
  auto call = static_cast<PatternCall>(lua_tointeger(L, lua_upvalueindex(2)));
  bool plain = call == PatternCall::kFind && lua_toboolean(L, 4);
  AllocState* a = StateOf(L);
  double budget = kPatternStepsPerInstruction * a->hook_count;
  double steps = EstimatePatternSteps({subject, subject_size}, {pattern, pattern_size}, call,
                                      plain, budget - a->pattern_steps);
  a->pattern_steps += steps;
  if (a->pattern_steps > budget) {
    return luaL_error(L,
                      "%s: pattern too costly for a %I-byte subject (this evaluation may "
                      "spend %I matching steps, 10 per instruction of the Lua instruction limit)",
                      lua_tostring(L, lua_upvalueindex(3)),
                      static_cast<lua_Integer>(subject_size), static_cast<lua_Integer>(budget));
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// Replaces the pattern functions of the string library copy at the top with guarded ones.
void GuardPatternFunctions(lua_State* L) {
  struct Guarded {
    const char* field;
    const char* name;
    PatternCall call;
  };
  constexpr Guarded kGuarded[] = {{"find", "string.find", PatternCall::kFind},
                                  {"match", "string.match", PatternCall::kMatch},
                                  {"gsub", "string.gsub", PatternCall::kMatch},
                                  {"gmatch", "string.gmatch", PatternCall::kGmatch}};
  for (const Guarded& g : kGuarded) {
    lua_getfield(L, -1, g.field);
    lua_pushinteger(L, static_cast<lua_Integer>(g.call));
    lua_pushstring(L, g.name);
    lua_pushcclosure(L, GuardedPatternCall, 3);
    lua_setfield(L, -2, g.field);
  }
}

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

// Sets the protecting fields every sandbox metatable shares on the table at the top.
void ProtectMetatable(lua_State* L) {
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushboolean(L, 1);
  lua_rawsetp(L, -2, &kSandboxMark);
}

// Replaces the table at the top with an empty read-only proxy whose reads go to it.
// `next_idx` is the absolute index of the base library's `next`.
void MakeReadOnly(lua_State* L, const char* name, int next_idx) {
  int backing = lua_gettop(L);
  lua_newtable(L);  // proxy
  lua_createtable(L, 0, 5);
  lua_pushvalue(L, backing);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_pushcclosure(L, ReadOnlyNewIndex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, backing);
  lua_pushvalue(L, next_idx);
  lua_pushcclosure(L, ReadOnlyPairs, 2);
  lua_setfield(L, -2, "__pairs");
  ProtectMetatable(L);
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

struct SetupArgs {
  std::string_view run_id;
  int env_ref, base_ref, key_v_ref, key_i_ref, key_instance_ref, g_ref, empty_i_ref;
};

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
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, base);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, base);
  lua_pushcclosure(L, EnvNewIndex, 1);
  lua_setfield(L, -2, "__newindex");
  ProtectMetatable(L);
  lua_setmetatable(L, env);

  lua_pushvalue(L, env);
  args->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, base);
  args->base_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "v");
  args->key_v_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "i");
  args->key_i_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "instance");
  args->key_instance_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

struct CompileArgs {
  std::string_view code;
  const char* name;
  bool expression_only;
  int env_ref;
  int ref;
};

int CompileProtected(lua_State* L) {
  auto* args = static_cast<CompileArgs*>(lua_touserdata(L, 1));
  std::string with_return;
  with_return.reserve(args->code.size() + 7);
  with_return.append("return ").append(args->code);
  int status = luaL_loadbufferx(L, with_return.data(), with_return.size(), args->name, "t");
  if (status != LUA_OK) {
    if (args->expression_only) return lua_error(L);
    lua_pop(L, 1);
    status = luaL_loadbufferx(L, args->code.data(), args->code.size(), args->name, "t");
    if (status != LUA_OK) return lua_error(L);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, args->env_ref);
  if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);  // a main chunk's upvalue 1 is _ENV
  args->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

// Deep copy of the plain (JSON-made) table at index 1; the copy is left on the stack.
void CopyTable(lua_State* L, int src) {
  luaL_checkstack(L, 4, "vars nested too deeply");
  lua_newtable(L);
  int dst = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, src) != 0) {
    lua_pushvalue(L, -2);  // key
    if (lua_type(L, -2) == LUA_TTABLE) {
      CopyTable(L, lua_gettop(L) - 1);
    } else {
      lua_pushvalue(L, -2);
    }
    lua_rawset(L, dst);
    lua_pop(L, 1);
  }
}

int NewVarsProtected(lua_State* L) {
  int* ref = static_cast<int*>(lua_touserdata(L, 1));
  if (lua_type(L, 2) == LUA_TTABLE) {
    CopyTable(L, 2);
  } else {
    lua_newtable(L);
  }
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int RefProtected(lua_State* L) {
  lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
  return 1;
}

// base[key] = registry[value_ref], at 1 = base, 2 = key, 3 = value.
int RawSetProtected(lua_State* L) {
  lua_rawset(L, 1);
  return 0;
}

}  // namespace

LuaSandbox::LuaSandbox(const LuaLimits& limits, uint64_t seed)
    : limits_(limits), seed_(seed), alloc_(std::make_unique<AllocState>()) {
  alloc_->limit = limits.memory_limit;
  alloc_->hook_count = static_cast<int>(std::clamp<uint64_t>(limits.instruction_limit, 1, INT_MAX));
  alloc_->fallback_rng = SeedInstanceRng(seed, -1);
}

LuaSandbox::~LuaSandbox() {
  if (L_ != nullptr) lua_close(L_);
}

Result<std::unique_ptr<LuaSandbox>> LuaSandbox::Create(const LuaLimits& limits,
                                                       std::string_view run_id, uint64_t seed) {
  std::unique_ptr<LuaSandbox> sandbox(new LuaSandbox(limits, seed));
  sandbox->L_ = lua_newstate(CappedAlloc, sandbox->alloc_.get());
  if (sandbox->L_ == nullptr) {
    return Status::Error(fmt::format(
        "Lua memory limit ({} bytes) is too small to create the Lua state", limits.memory_limit));
  }
  Status status = sandbox->Setup(run_id);
  if (!status.ok()) return status;
  return Result<std::unique_ptr<LuaSandbox>>(std::move(sandbox));
}

Status LuaSandbox::Setup(std::string_view run_id) {
  SetupArgs args{run_id, -1, -1, -1, -1, -1, -1, -1};
  lua_pushcfunction(L_, SetupProtected);
  lua_pushlightuserdata(L_, &args);
  int status = lua_pcall(L_, 1, 0, 0);
  if (status != LUA_OK) {
    std::string message = lua_type(L_, -1) == LUA_TSTRING ? lua_tostring(L_, -1) : "?";
    lua_pop(L_, 1);
    if (status == LUA_ERRMEM || alloc_->refused) {
      return Status::Error(fmt::format(
          "Lua memory limit ({} bytes) is too small to set up the sandbox", limits_.memory_limit));
    }
    return Status::Error("Lua sandbox set-up failed: " + message);
  }
  env_ref_ = args.env_ref;
  base_ref_ = args.base_ref;
  key_v_ref_ = args.key_v_ref;
  key_i_ref_ = args.key_i_ref;
  key_instance_ref_ = args.key_instance_ref;
  g_ref_ = args.g_ref;
  empty_i_ref_ = args.empty_i_ref;
  lua_sethook(L_, OnCount, LUA_MASKCOUNT, alloc_->hook_count);
  return Status::Ok();
}

namespace {

// True when `code` holds one of the names through which Lua code reaches `i` (see
// may_read_inbound): every maximal run of identifier characters is compared.
bool MentionsInbound(std::string_view code) {
  auto is_ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  size_t at = 0;
  while (at < code.size()) {
    if (!is_ident(code[at])) {
      ++at;
      continue;
    }
    size_t end = at;
    while (end < code.size() && is_ident(code[end])) ++end;
    std::string_view word = code.substr(at, end - at);
    if (word == "i" || word == "_G" || word == "_ENV" || word == "load") return true;
    at = end;
  }
  return false;
}

}  // namespace

Result<int> LuaSandbox::Compile(std::string_view code, std::string_view chunk_name,
                                CompileMode mode) {
  may_read_inbound_ = may_read_inbound_ || MentionsInbound(code);
  // Built with fmt: assign-then-append here trips a GCC 12 -Wrestrict false positive
  // under the sanitizer build.
  bool needs_prefix = chunk_name.empty() || (chunk_name[0] != '=' && chunk_name[0] != '@');
  std::string name = needs_prefix ? fmt::format("={}", chunk_name) : std::string(chunk_name);
  CompileArgs args{code, name.c_str(), mode == CompileMode::kExpression, env_ref_, LUA_NOREF};
  alloc_->refused = false;
  lua_pushcfunction(L_, CompileProtected);
  lua_pushlightuserdata(L_, &args);
  int status = lua_pcall(L_, 1, 0, 0);
  if (status == LUA_OK) return args.ref;
  std::string error;
  Fail(status, &error);
  return Status::Error(std::move(error));
}

void LuaSandbox::BindScope(const EvalScope& scope) {
  lua_State* L = L_;
  // Point base.v / base.i / base.instance at this instance. The keys exist already, so these
  // raw sets neither allocate nor can raise.
  lua_rawgeti(L, LUA_REGISTRYINDEX, base_ref_);
  lua_rawgeti(L, LUA_REGISTRYINDEX, key_v_ref_);
  lua_rawgeti(L, LUA_REGISTRYINDEX, scope.v_ref >= 0 ? scope.v_ref : empty_i_ref_);
  lua_rawset(L, -3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, key_i_ref_);
  lua_rawgeti(L, LUA_REGISTRYINDEX, scope.i_ref >= 0 ? scope.i_ref : empty_i_ref_);
  lua_rawset(L, -3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, key_instance_ref_);
  lua_pushinteger(L, scope.instance_id);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  bound_ = BoundScope{scope.v_ref, scope.i_ref, scope.instance_id};
}

double LuaSandbox::pattern_step_budget() const {
  return kPatternStepsPerInstruction * alloc_->hook_count;
}

namespace {

struct FindArgs {
  std::string_view subject;
  std::string_view pattern;
  bool found = false;
};

// string.find through the sandbox's own (guarded) string library, the string metatable's
// __index.
int FindProtected(lua_State* L) {
  auto* args = static_cast<FindArgs*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  lua_pushliteral(L, "");
  lua_getmetatable(L, 1);
  lua_getfield(L, 2, "__index");
  lua_getfield(L, 3, "find");
  lua_pushlstring(L, args->subject.data(), args->subject.size());
  lua_pushlstring(L, args->pattern.data(), args->pattern.size());
  lua_call(L, 2, 1);
  args->found = !lua_isnil(L, -1);
  return 0;
}

}  // namespace

LuaFailure LuaSandbox::Find(std::string_view subject, std::string_view pattern, bool* found,
                            std::string* error) {
  alloc_->pattern_steps = 0;
  FindArgs args{subject, pattern};
  lua_pushcfunction(L_, FindProtected);
  lua_pushlightuserdata(L_, &args);
  int status = lua_pcall(L_, 1, 0, 0);
  *found = args.found;
  if (status == LUA_OK) return LuaFailure::kNone;
  return Fail(status, error);
}

LuaFailure LuaSandbox::Call(int fn_ref, const EvalScope& scope, std::string* error) {
  lua_State* L = L_;
  if (bound_.v_ref != scope.v_ref || bound_.i_ref != scope.i_ref ||
      bound_.instance_id != scope.instance_id) {
    BindScope(scope);
  }
  AllocState* a = alloc_.get();
  a->rng = scope.rng_state;
  a->refused = false;
  a->instruction_limit_hit = false;
  a->pattern_steps = 0;
  a->allocated = 0;
  lua_sethook(L, OnCount, LUA_MASKCOUNT, a->hook_count);  // a fresh budget
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  a->evaluating = true;
  int status = lua_pcall(L, 0, 1, 0);
  a->evaluating = false;
  a->rng = nullptr;  // the instance's state may go away after this call
  // A script that caught the limit's error with pcall and returned still failed the budget.
  if (status == LUA_OK && !a->instruction_limit_hit) return LuaFailure::kNone;
  return Fail(status, error);
}

// Turns the error value at the top into a LuaFailure and `*error`, pops it, and leaves the
// state usable (hook re-armed, garbage collected after a memory failure).
LuaFailure LuaSandbox::Fail(int status, std::string* error) {
  AllocState* a = alloc_.get();
  LuaFailure failure;
  if (a->instruction_limit_hit) {
    failure = LuaFailure::kInstructionLimit;
    *error = fmt::format("Lua instruction limit ({}) exceeded", limits_.instruction_limit);
  } else if (status == LUA_ERRMEM || a->refused) {
    failure = LuaFailure::kMemoryLimit;
    *error = fmt::format("Lua memory limit ({} bytes) exceeded", limits_.memory_limit);
  } else {
    failure = LuaFailure::kRuntimeError;
    if (!LuaScalarText(L_, -1, error)) {
      *error = fmt::format("(error object is a {} value)", luaL_typename(L_, -1));
    }
  }
  lua_pop(L_, 1);
  if (failure == LuaFailure::kMemoryLimit) lua_gc(L_, LUA_GCCOLLECT);
  if (failure == LuaFailure::kInstructionLimit) {
    lua_sethook(L_, OnCount, LUA_MASKCOUNT, a->hook_count);
  }
  a->refused = false;
  a->instruction_limit_hit = false;
  return failure;
}

void LuaSandbox::SetVarsTemplate(int table_ref) {
  Unref(vars_template_ref_);
  vars_template_ref_ = table_ref;
}

void LuaSandbox::SetGlobals(int table_ref) {
  lua_pushcfunction(L_, RawSetProtected);
  lua_rawgeti(L_, LUA_REGISTRYINDEX, base_ref_);
  lua_pushliteral(L_, "g");
  lua_rawgeti(L_, LUA_REGISTRYINDEX, table_ref);
  if (lua_pcall(L_, 3, 0, 0) != LUA_OK) {
    // Cannot happen: "g" is an existing key of base. Keep the old globals.
    lua_pop(L_, 1);
    Unref(table_ref);
    return;
  }
  Unref(g_ref_);
  g_ref_ = table_ref;
}

int LuaSandbox::NewInstanceVars() {
  int ref = LUA_NOREF;
  lua_pushcfunction(L_, NewVarsProtected);
  lua_pushlightuserdata(L_, &ref);
  lua_rawgeti(L_, LUA_REGISTRYINDEX, vars_template_ref_ >= 0 ? vars_template_ref_ : LUA_NOREF);
  if (lua_pcall(L_, 2, 0, 0) != LUA_OK) {
    lua_pop(L_, 1);
    lua_gc(L_, LUA_GCCOLLECT);
    return LUA_NOREF;
  }
  return ref;
}

void LuaSandbox::PushGlobals() { lua_rawgeti(L_, LUA_REGISTRYINDEX, g_ref_); }

int LuaSandbox::Ref() {
  lua_pushcfunction(L_, RefProtected);
  lua_insert(L_, -2);
  if (lua_pcall(L_, 1, 1, 0) != LUA_OK) {
    lua_pop(L_, 1);
    lua_gc(L_, LUA_GCCOLLECT);
    return LUA_NOREF;
  }
  int ref = static_cast<int>(lua_tointeger(L_, -1));
  lua_pop(L_, 1);
  return ref;
}

void LuaSandbox::Unref(int ref) {
  // Frees the slot in place (the registry's free-list key exists since the first Ref), so
  // this does not allocate.
  if (ref >= 0) luaL_unref(L_, LUA_REGISTRYINDEX, ref);
  if (ref >= 0 && (ref == bound_.v_ref || ref == bound_.i_ref)) bound_ = BoundScope{};
}

void LuaSandbox::PushRef(int ref) { lua_rawgeti(L_, LUA_REGISTRYINDEX, ref); }

void LuaSandbox::CollectGarbage() { lua_gc(L_, LUA_GCCOLLECT); }

uint64_t LuaSandbox::SeedInstanceRng(uint64_t seed, int64_t id) {
  uint64_t s = seed;
  uint64_t t = SplitMix64(&s) ^ static_cast<uint64_t>(id);
  return SplitMix64(&t);
}

size_t LuaSandbox::memory_used() const { return alloc_->used; }

}  // namespace testrund::ops
