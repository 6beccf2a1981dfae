// SPDX-License-Identifier: Apache-2.0
// LuaSandbox: the one lua_State of a run (DESIGN.md "Lua"). It owns the capped allocator
// (the run's memory limit), the instruction-count hook (the per-evaluation budget), the
// allow-listed environment (string, table, math, utf8, safe base functions, os.time,
// os.clock), the run's globals table `g`, and compiles expressions once into registry
// references. Destroying it (lua_close) frees every Lua object of the run at once.
//
// One environment table serves every evaluation: before a call the sandbox points its `v`,
// `i` and `instance` entries at the calling instance's values, so no table is allocated
// per call. Assigning an undeclared global is an error (use `local`, `v.x` or `g.x`), so
// instances of a run cannot leak state to each other through the environment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ops/status.h"

struct lua_State;

namespace testrund::ops {

struct LuaLimits {
  int64_t instruction_limit = 1'000'000;  // per evaluation (count hook)
  size_t memory_limit = 256u << 20;       // per run (allocator)
};

// Why an evaluation failed.
enum class LuaFailure {
  kNone,              // success
  kRuntimeError,      // a Lua error; the text is Lua's message
  kInstructionLimit,  // the per-evaluation instruction budget ran out
  kMemoryLimit,       // the run's memory cap was hit
};

// What one evaluation sees besides `g` and `run_id`.
struct EvalScope {
  int v_ref;             // registry reference of the instance's `v` table
  int i_ref;             // registry reference of the instance's `i` table, or LUA_NOREF
                         // (then `i` is a shared, read-only empty table)
  int64_t instance_id;   // `instance`
  uint64_t* rng_state;   // the instance's math.random state (see SeedInstanceRng)
};

class LuaSandbox {
 public:
  // Creates the state with its allocator cap, hook, environment and an empty `g`.
  // `seed` seeds math.random (SPEC `seed`; the run picks a random one when absent).
  // Error: the state could not be created (memory limit too small).
  static Result<std::unique_ptr<LuaSandbox>> Create(const LuaLimits& limits,
                                                    std::string_view run_id, uint64_t seed);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  lua_State* state() const { return L_; }

  // Compiles Lua source once, as `return <code>` if that parses, else as a statement
  // chunk (SPEC §4). Text chunks only. Returns a registry reference to the function.
  // Error: Lua's syntax message for the statement form.
  Result<int> Compile(std::string_view code, std::string_view chunk_name);

  // Calls a compiled function in `scope`. On kNone exactly one value (the first result, or
  // nil) is left on the stack for the caller to read and pop. On failure nothing is left
  // on the stack and `*error` holds the reason: Lua's message for kRuntimeError, or a
  // sentence naming the limit for the limit failures (the caller adds the op).
  LuaFailure Call(int fn_ref, const EvalScope& scope, std::string* error);

  // Creates the run's initial state from JSON: PushJson of `vars` kept as the template
  // every instance's `v` is deep-copied from, and `g` set from `globals`.
  // (JSON <-> Lua conversion itself is in ops/lua_json.h.)
  void SetVarsTemplate(int table_ref);   // takes ownership of the reference
  void SetGlobals(int table_ref);        // takes ownership of the reference
  // A fresh deep copy of the vars template (an empty table when there is none).
  // Returns its registry reference; the caller Unref()s it when the instance ends.
  // Returns LUA_NOREF when the memory limit was hit.
  int NewInstanceVars();
  // Pushes the run's `g` table.
  void PushGlobals();

  int Ref();            // pops the top value into the registry
  void Unref(int ref);  // LUA_NOREF / LUA_REFNIL are ignored
  void PushRef(int ref);

  // math.random state for instance `id` of a run seeded with `seed`: the same for the same
  // pair, so seeded runs are reproducible per instance.
  static uint64_t SeedInstanceRng(uint64_t seed, int64_t id);

  size_t memory_used() const;
  const LuaLimits& limits() const { return limits_; }

 private:
  LuaSandbox(const LuaLimits& limits);
  lua_State* L_ = nullptr;
  LuaLimits limits_;
  // Allocator bookkeeping and the hook's flag live in a struct the allocator's ud points at.
  struct AllocState;
  std::unique_ptr<AllocState> alloc_;
  int env_ref_ = -1;
  int g_ref_ = -1;
  int vars_template_ref_ = -1;
  int empty_i_ref_ = -1;
};

}  // namespace testrund::ops
