// SPDX-License-Identifier: Apache-2.0
// LuaSandbox: the one lua_State of a run (docs/architecture.md#lua). It owns the capped allocator
// (the run's memory limit), the instruction-count hook (the per-evaluation budget), the
// allow-listed environment (string, table, math, utf8, safe base functions, os.time,
// os.clock), the run's globals table `g`, and compiles expressions once into registry
// references. Destroying it (lua_close) frees every Lua object of the run at once.
//
// A chunk whose compiled code cannot loop or call (ops/lua/straight_line_code.h) and is
// shorter than the instruction budget runs without the count hook, which could not fire in
// it anyway, until the run's scripts set a metatable of their own (a metamethod written in
// Lua could loop): from then on every chunk of the run is counted.
//
// One environment table serves every evaluation: before a call the sandbox points its `v`,
// `i` and `instance` entries at the calling instance's values, so no table is allocated
// per call. The environment itself stays empty: every name is read through a hidden,
// read-only base table, assigning any global is an error (use `local`, `v.x` or `g.x`), and
// the library tables are read-only, so instances of a run cannot leak state to each other
// through the environment. Only `g` is shared on purpose. A chunk whose code only reads
// globals (ops/lua/straight_line_code.h: no global assignment, no use of _ENV as a value, no
// closure) is bound to the base table itself, which it cannot tell apart from the
// environment: its reads skip the miss and the metamethod.
//
// The allow-list: `string` (without dump), `table`, `math` (random/randomseed draw from the
// evaluating instance's own state), `utf8`, `os.time`, `os.clock`, the base functions
// assert error getmetatable ipairs next pairs pcall rawequal rawget rawlen select tonumber
// tostring type _VERSION, and wrapped ones: rawset (refuses the sandbox's own tables),
// setmetatable (refuses protected metatables and __gc, whose finalizers would run with hooks
// off), xpcall (skips the script's handler once the instruction limit fired), load (text
// strings only; the chunk's _ENV is the sandbox unless an env is given); `_G` is the
// environment. Absent: io, os.* otherwise, package, require, debug, coroutine, dofile,
// loadfile, collectgarbage, print, warn, string.dump. Every sandbox metatable is hidden
// (`getmetatable` returns false), the string metatable included.
// A C function cannot be interrupted by the count hook, so the pattern functions
// (string.find/match/gmatch/gsub), whose backtracking on a long subject could run for hours
// inside one instruction, are priced before they start (ops/lua/lua_pattern_cost.h): one
// evaluation may spend at most 10 estimated matching steps per instruction of its budget.
// Likewise one instruction can allocate and copy a lot (`s .. s`, string.rep): an evaluation
// may allocate at most 16 bytes per instruction of its budget (16 MiB by default), else it
// fails with the instruction limit.
//
// No Lua error ever unwinds out of this class: everything that may allocate runs in
// protected mode, because the run's memory cap makes any allocation fail. Callers that use
// state() directly must keep to non-allocating calls (lua_rawgeti, lua_next, lua_to*,
// lua_pop, ...) and at most a few stack slots, or go through a protected call themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/status.h"
#include "ops/lua/row_source.h"

struct lua_State;

namespace testrund::ops {

// Filled from the daemon's option table (docs/configuration.md); zero until then.
struct LuaLimits {
  uint64_t instruction_limit = 0;  // per evaluation (count hook)
  uint64_t memory_limit = 0;       // bytes per run (allocator)
  // The fast paths (ops/lua/straight_line_code.h): run straight-line chunks without the
  // count hook while the run has set no metatable of its own, and bind chunks that only read
  // globals to the base table itself. false: every evaluation takes the counted path through
  // the empty environment (the tests compare both; the daemon always uses true).
  bool hook_free = true;
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
  // Creates the state with its allocator cap, hook, environment and an empty `g`. `seed` seeds
  // math.random (docs/api.md#executetest `seed`; the run picks a random one when absent). Error:
  // the state could not be created (memory limit too small).
  static Result<std::unique_ptr<LuaSandbox>> Create(const LuaLimits& limits,
                                                    std::string_view run_id, uint64_t seed);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  lua_State* state() const { return L_; }

  enum class CompileMode {
    kExpressionOrStatement,  // eval/assert/branch: `return <code>` if it parses, else a chunk
    kExpression,             // `{...}` values: an expression only
  };

  // Compiles Lua source once, as `return <code>` if that parses, else as a statement chunk
  // (docs/operations.md#expressions). Text chunks only (binary chunks are refused).
  // `chunk_name` names the code in error messages ("=op 3 (expression)"; a leading '=' is
  // added when it has none). Returns a registry reference to the function; it stays valid
  // until the sandbox closes. Error: Lua's syntax message for the statement form
  // (kExpression: for the expression form), or the memory-limit sentence.
  Result<int> Compile(std::string_view code, std::string_view chunk_name,
                      CompileMode mode = CompileMode::kExpressionOrStatement);

  // Whether any code compiled here could read `i`: it names `i`, `_G`, `_ENV` or `load` (an
  // identifier of the source, or text inside it: the test errs on the safe side). Protocol
  // ops store i.<protocol> only then, since no one else can see it.
  bool may_read_inbound() const { return may_read_inbound_; }

  // Whether `fn_ref` (from Compile) is straight-line code shorter than the instruction
  // budget, which Call runs without the count hook while no script has set a metatable.
  bool straight_line(int fn_ref) const {
    return fn_ref >= 0 && static_cast<size_t>(fn_ref) < straight_line_.size() &&
           straight_line_[fn_ref] != 0;
  }

  // Calls a compiled function in `scope`. On kNone exactly `results` values (1: the first
  // result, or nil, for the caller to read and pop; 0: none) are left on the stack; a caller
  // that ignores the value asks for none, which spares the pop. On failure nothing is left
  // on the stack and `*error` holds the reason: Lua's message for kRuntimeError (a
  // non-string error value is described: "nil", "true", "12", "(error object is a table
  // value)"), or a sentence naming the limit for the limit failures (the caller adds the op):
  // "Lua instruction limit (1000000) exceeded", "Lua memory limit (268435456 bytes)
  // exceeded". After a memory failure the state has been collected and stays usable.
  // Allocates nothing on success (no strings are built unless there is an error).
  LuaFailure Call(int fn_ref, const EvalScope& scope, std::string* error, int results = 1);

  // Creates the run's initial state from JSON: PushJson of `vars` kept as the template
  // every instance's `v` is deep-copied from, and `g` set from `globals`.
  // (JSON <-> Lua conversion itself is in ops/lua/lua_json.h.)
  void SetVarsTemplate(int table_ref);   // takes ownership of the reference
  void SetGlobals(int table_ref);        // takes ownership of the reference
  // A fresh deep copy of the vars template (an empty table when there is none).
  // Returns its registry reference; the caller Unref()s it when the instance ends.
  // Returns LUA_NOREF when the memory limit was hit.
  int NewInstanceVars();
  // NewInstanceVars `count` times in one protected call, the references into refs[0..count).
  // Returns how many were made: when fewer than `count`, making the next one hit the memory
  // limit and the state has been collected (as when NewInstanceVars returns LUA_NOREF), and
  // refs past it are untouched.
  size_t NewInstanceVars(size_t count, int* refs);
  // Ends a reference made by NewInstanceVars: the table becomes garbage at once, and the
  // reference number is kept for a later NewInstanceVars, which then stores its table there
  // instead of going through luaL_ref / luaL_unref (docs/performance.md). LUA_NOREF is
  // ignored.
  void ReleaseInstanceVars(int ref);
  // Pushes the run's `g` table.
  void PushGlobals();

  // Gives the run data rows (ops/lua/row_source.h): `d` reads the evaluating instance's row
  // (d.msisdn, d["a column"]; read-only), `d_row` its 1-based number. Once, before any
  // evaluation; `rows` must outlive the sandbox. A run without rows has no `d` (nil) and
  // pays nothing. Error: the memory limit's sentence. Defined in ops/lua/data_proxy.cpp.
  Status SetRowSource(const RowSource* rows);
  // The instance whose evaluation runs now (the environment's C functions read it).
  int64_t current_instance() const { return bound_.instance_id; }
  const RowSource* row_source() const { return row_source_; }

  int Ref();            // pops the top value into the registry; LUA_NOREF on memory limit
  void Unref(int ref);  // LUA_NOREF / LUA_REFNIL are ignored
  void PushRef(int ref);
  // Runs a full garbage collection (e.g. after the memory limit was hit elsewhere).
  void CollectGarbage();

  // The most pattern-matching steps (ops/lua/lua_pattern_cost.h) one evaluation may spend:
  // kPatternStepsPerInstruction × the instruction limit.
  double pattern_step_budget() const;
  // string.find(subject, pattern), outside any evaluation, with a budget of its own (the
  // guard would otherwise charge the last evaluation's). kNone: *found says whether it
  // matched. Else *error holds Lua's message (a malformed pattern, "string.find: pattern
  // too costly ...") or the memory limit's sentence.
  LuaFailure Find(std::string_view subject, std::string_view pattern, bool* found,
                  std::string* error);

  // math.random state for instance `id` of a run seeded with `seed`: the same for the same
  // pair, so seeded runs are reproducible per instance.
  static uint64_t SeedInstanceRng(uint64_t seed, int64_t id);
  // The run's seed, as given to Create.
  uint64_t seed() const { return seed_; }

  size_t memory_used() const;
  const LuaLimits& limits() const { return limits_; }

  // Allocator bookkeeping, the hook's flag and the current instance's RNG; the allocator's
  // ud points at it, so the hook and the sandbox's C functions reach it without a lookup.
  struct AllocState;

 private:
  explicit LuaSandbox(const LuaLimits& limits, uint64_t seed);
  Status Setup(std::string_view run_id);
  LuaFailure Fail(int status, std::string* error);
  // Calls `fn(arg)` (a light userdata) in protected mode; an error is Fail's sentence.
  Status RunProtected(int (*fn)(lua_State*), void* arg);
  // Points base.v / base.i / base.instance at `scope` (raw sets of existing keys).
  void BindScope(const EvalScope& scope);

  lua_State* L_ = nullptr;
  LuaLimits limits_;
  uint64_t seed_ = 0;
  std::unique_ptr<AllocState> alloc_;
  int env_ref_ = -1;       // the empty environment table every chunk's _ENV points at
  int base_ref_ = -1;      // its hidden read-only __index table (libraries, v, i, g, ...)
  int g_ref_ = -1;
  int vars_template_ref_ = -1;
  int empty_i_ref_ = -1;
  // A thread never run, holding base and the key strings BindScope sets on its stack
  // (ops/lua/sandbox_environment.h); the registry keeps it alive.
  lua_State* scope_thread_ = nullptr;
  // The scope base.v / base.i / base.instance point at now: consecutive calls of one
  // instance (its ops run back to back) skip re-pointing them, and BindScope sets only the
  // entries that differ. Unref of either table forgets that entry, as its reference number
  // may then name another table.
  struct BoundScope {
    int v_ref = -3;  // never a reference, nor LUA_NOREF (-2)
    int i_ref = -3;
    int64_t instance_id = -1;
  } bound_;
  bool may_read_inbound_ = false;
  // Indexed by the registry reference of a compiled function: 1 when Call may run it
  // without the count hook (see straight_line). Compiled references are never freed, so a
  // number here never comes to name another value.
  std::vector<uint8_t> straight_line_;
  // The fields the run's code assigns as `v.<name> = ...` (ops/lua/source_words.h), at
  // most kMaxPresizedVarsFields: an empty `v` is made with that many hash slots, so that its
  // first assignments do not grow it (docs/performance.md). A `v` that never gets them (an
  // instance that halts first) holds them unused; a run with a vars template copies the
  // template as it is.
  static constexpr size_t kMaxPresizedVarsFields = 16;
  std::vector<std::string> vars_fields_;
  // Registry slots of released instance vars, each holding `false`: reused before luaL_ref.
  // At most as many as the run ever had instances at once.
  std::vector<int> spare_vars_refs_;
  bool hooked_ = false;  // the count hook is set now
  const RowSource* row_source_ = nullptr;
};

}  // namespace testrund::ops
