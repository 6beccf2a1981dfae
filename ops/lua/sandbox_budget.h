// SPDX-License-Identifier: Apache-2.0
// What one evaluation of a run's LuaSandbox may spend, and the C functions that enforce it
// (docs/architecture.md#lua): the capped allocator (the run's memory, and bytes per
// instruction of an evaluation's budget), the instruction-count hook, the pattern functions
// priced before they run (ops/lua/lua_pattern_cost.h), and math.random drawn from the
// evaluating instance's own state. Internal to ops/lua/: LuaSandbox and the environment
// (ops/lua/sandbox_environment.h) use it.
#pragma once

#include <cstddef>
#include <cstdint>

#include <lua.hpp>

#include "ops/lua/lua_sandbox.h"
#include "ops/lua/small_block_cache.h"

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
  bool script_metatables = false;      // a script called setmetatable (no hook-free calls)
  // Where the allocator gets and returns blocks: the thread's cache (small_block_cache.h).
  sandbox::SmallBlockCache* blocks = nullptr;
};

namespace sandbox {

using AllocState = LuaSandbox::AllocState;

// The error value the count hook raises: allocation-free, unlike a message string.
extern char kLimitSentinel;

// Pattern matching steps an evaluation may spend per instruction of its budget: Lua's
// matcher is C code the count hook cannot interrupt, so its calls are priced up front.
constexpr double kPatternStepsPerInstruction = 10;

// The small-block cache every sandbox of the calling thread shares.
SmallBlockCache* ThisThreadsBlockCache();
// The sandbox's bookkeeping, reached through the allocator's ud.
AllocState* StateOf(lua_State* L);

// Lua's allocator contract, capped (see AllocState).
void* CappedAlloc(void* ud, void* ptr, size_t osize, size_t nsize);

// The count hook: the evaluation's instruction budget ran out.
void OnCount(lua_State* L, lua_Debug* ar);

// The next number of the splitmix64 sequence at *state (the sandbox's random numbers).
// Inline: every instance's start seeds its random state with two of them.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// math.random and math.randomseed of the sandbox.
int MathRandom(lua_State* L);
int MathRandomSeed(lua_State* L);

// Replaces the pattern functions of the string library copy at the top with guarded ones.
void GuardPatternFunctions(lua_State* L);

}  // namespace sandbox
}  // namespace testrund::ops
