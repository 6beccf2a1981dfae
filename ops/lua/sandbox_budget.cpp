// SPDX-License-Identifier: Apache-2.0
// The budget of one evaluation: allocator, count hook, priced patterns, random state (see
// sandbox_budget.h).
#include "ops/lua/sandbox_budget.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>

#include "ops/lua/lua_pattern_cost.h"
#include "ops/lua/small_block_cache.h"

namespace testrund::ops::sandbox {
namespace {

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


uint64_t* RngOf(lua_State* L) {
  AllocState* a = StateOf(L);
  return a->rng != nullptr ? a->rng : &a->fallback_rng;
}

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

}  // namespace

char kLimitSentinel;

SmallBlockCache* ThisThreadsBlockCache() {
  // Destroyed at the thread's exit: every LuaSandbox of the thread must be closed by then
  // (none is owned by a static or thread_local object).
  thread_local SmallBlockCache cache;
  return &cache;
}

AllocState* StateOf(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<AllocState*>(ud);
}

// Lua's allocator contract; refuses any growth past the cap (Lua then collects and retries
// once before raising LUA_ERRMEM). Shrinking and freeing always succeed.
void* CappedAlloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* a = static_cast<AllocState*>(ud);
  size_t old_size = ptr != nullptr ? osize : 0;  // for a new block osize is a type tag
  if (nsize == 0) {
    a->blocks->Reallocate(ptr, old_size, 0);
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
  void* block = a->blocks->Reallocate(ptr, old_size, nsize);
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

}  // namespace testrund::ops::sandbox
