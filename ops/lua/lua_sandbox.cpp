// SPDX-License-Identifier: Apache-2.0
// LuaSandbox: one capped lua_State per run. Creates the state with its budget
// (ops/lua/sandbox_budget.h) and its environment (ops/lua/sandbox_environment.h), compiles
// chunks into registry references, and runs them under a per-evaluation instruction budget.
// Every Lua API call that may allocate runs inside lua_pcall, because the allocator refuses
// past the cap.
#include "ops/lua/lua_sandbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <lua.hpp>
#include <optional>
#include <utility>

#include "ops/lua/lua_json.h"
#include "ops/lua/sandbox_budget.h"
#include "ops/lua/sandbox_environment.h"
#include "ops/lua/source_words.h"
#include "ops/lua/straight_line_code.h"

namespace testrund::ops {

namespace {

using sandbox::AllocState;
using sandbox::CappedAlloc;
using sandbox::kPatternStepsPerInstruction;
using sandbox::OnCount;
using sandbox::SetupArgs;
using sandbox::SetupProtected;
using sandbox::SplitMix64;

struct CompileArgs {
  std::string_view code;
  const char* name;
  bool expression_only;
  int env_ref;
  int base_ref;  // bound instead of env_ref when direct_env and the code only reads globals
  bool direct_env;
  int ref;
  std::optional<size_t> straight_length;  // see StraightLineLength
};

int AppendDump(lua_State* /*L*/, const void* bytes, size_t size, void* out) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), size);
  return 0;
}

// Replaces the main chunk at the top, compiled from `source`, with a function whose body is
// that source (`return function() <source> end`, called once to make it), when that
// compiles: a main chunk is a vararg function, and each call of one first moves its
// arguments aside (VARARGPREP), which a plain function skips (docs/performance.md). The
// chunk name and line numbers stay the same, so do error messages. Code that uses `...`
// keeps the main chunk.
void UseBodyFunction(lua_State* L, std::string_view source, const char* chunk_name) {
  std::string wrapped;
  wrapped.reserve(source.size() + 24);
  wrapped.append("return function() ").append(source).append("\nend");
  if (luaL_loadbufferx(L, wrapped.data(), wrapped.size(), chunk_name, "t") != LUA_OK) {
    lua_pop(L, 1);
    return;
  }
  // Making the function runs only CLOSURE and RETURN, code of our own; the function's _ENV
  // is set by the caller, like a main chunk's.
  lua_call(L, 0, 1);
  lua_remove(L, -2);  // the main chunk
}

int CompileProtected(lua_State* L) {
  auto* args = static_cast<CompileArgs*>(lua_touserdata(L, 1));
  std::string with_return;
  with_return.reserve(args->code.size() + 7);
  with_return.append("return ").append(args->code);
  std::string_view source = with_return;
  int status = luaL_loadbufferx(L, source.data(), source.size(), args->name, "t");
  if (status != LUA_OK) {
    if (args->expression_only) return lua_error(L);
    lua_pop(L, 1);
    source = args->code;
    status = luaL_loadbufferx(L, source.data(), source.size(), args->name, "t");
    if (status != LUA_OK) return lua_error(L);
  }
  UseBodyFunction(L, source, args->name);
  std::string dump;
  lua_dump(L, AppendDump, &dump, 1);
  args->straight_length = StraightLineLength(dump);
  bool direct = args->direct_env && ReadsGlobalsOnly(dump);
  // Upvalue 1 of a main chunk is _ENV; a body function has _ENV as its only upvalue, or
  // none when it reads no global.
  lua_rawgeti(L, LUA_REGISTRYINDEX, direct ? args->base_ref : args->env_ref);
  if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);
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

struct NewVarsBatch {
  int* refs;
  size_t count;
  size_t made;
  std::vector<int>* spare_refs;  // registry slots to fill before taking new ones
  int fields;                    // hash slots an empty `v` is made with
};

// Makes batch->count deep copies of the vars template at 2 (empty tables when there is
// none), counting them in batch->made as they are referenced, so that a memory error
// leaves the made ones usable.
int NewVarsBatchProtected(lua_State* L) {
  auto* batch = static_cast<NewVarsBatch*>(lua_touserdata(L, 1));
  bool copy = lua_type(L, 2) == LUA_TTABLE;
  while (batch->made < batch->count) {
    if (copy) {
      CopyTable(L, 2);
    } else {
      lua_createtable(L, 0, batch->fields);
    }
    if (batch->spare_refs->empty()) {
      batch->refs[batch->made] = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
      // The slot exists (it holds false), so this store cannot allocate.
      batch->refs[batch->made] = batch->spare_refs->back();
      batch->spare_refs->pop_back();
      lua_rawseti(L, LUA_REGISTRYINDEX, batch->refs[batch->made]);
    }
    ++batch->made;
  }
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
  alloc_->blocks = sandbox::ThisThreadsBlockCache();
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
  SetupArgs args{run_id, -1, -1, -1, -1, nullptr};
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
  g_ref_ = args.g_ref;
  empty_i_ref_ = args.empty_i_ref;
  scope_thread_ = args.scope_thread;
  lua_sethook(L_, OnCount, LUA_MASKCOUNT, alloc_->hook_count);
  hooked_ = true;
  return Status::Ok();
}


Status LuaSandbox::RunProtected(int (*fn)(lua_State*), void* arg) {
  alloc_->refused = false;
  lua_pushcfunction(L_, fn);
  lua_pushlightuserdata(L_, arg);
  int status = lua_pcall(L_, 1, 0, 0);
  if (status == LUA_OK) return Status::Ok();
  std::string error;
  Fail(status, &error);
  return Status::Error(std::move(error));
}

Result<int> LuaSandbox::Compile(std::string_view code, std::string_view chunk_name,
                                CompileMode mode) {
  may_read_inbound_ = may_read_inbound_ || MentionsInbound(code);
  for (std::string& field : AssignedVarsFields(code)) {
    if (std::find(vars_fields_.begin(), vars_fields_.end(), field) == vars_fields_.end() &&
        vars_fields_.size() < kMaxPresizedVarsFields) {
      vars_fields_.push_back(std::move(field));
    }
  }
  // Built with fmt: assign-then-append here trips a GCC 12 -Wrestrict false positive
  // under the sanitizer build.
  bool needs_prefix = chunk_name.empty() || (chunk_name[0] != '=' && chunk_name[0] != '@');
  std::string name = needs_prefix ? fmt::format("={}", chunk_name) : std::string(chunk_name);
  CompileArgs args{code,      name.c_str(),       mode == CompileMode::kExpression,
                   env_ref_,  base_ref_,          limits_.hook_free,
                   LUA_NOREF, std::nullopt};
  alloc_->refused = false;
  // Making a body function runs two instructions of our own: no evaluation's budget.
  lua_sethook(L_, nullptr, 0, 0);
  lua_pushcfunction(L_, CompileProtected);
  lua_pushlightuserdata(L_, &args);
  int status = lua_pcall(L_, 1, 0, 0);
  if (hooked_) lua_sethook(L_, OnCount, LUA_MASKCOUNT, alloc_->hook_count);
  if (status == LUA_OK) {
    // Executing at most `length` instructions, the chunk ends before the hook's count of
    // hook_count would fire.
    if (limits_.hook_free && args.straight_length &&
        *args.straight_length < static_cast<size_t>(alloc_->hook_count)) {
      if (straight_line_.size() <= static_cast<size_t>(args.ref)) {
        straight_line_.resize(args.ref + 1, 0);
      }
      straight_line_[args.ref] = 1;
    }
    return args.ref;
  }
  std::string error;
  Fail(status, &error);
  return Status::Error(std::move(error));
}

void LuaSandbox::BindScope(const EvalScope& scope) {
  // Point base.v / base.i / base.instance at this instance. Only what changed is set: most
  // instances have no `i` of their own, so theirs stays the shared empty table from one
  // instance to the next. The sets are raw sets of keys base already has, made on the scope
  // thread, whose stack holds base and the key strings (sandbox_environment.h): they
  // neither allocate nor can raise, and no key string is looked up.
  lua_State* S = scope_thread_;
  if (scope.v_ref != bound_.v_ref) {
    lua_pushvalue(S, sandbox::kScopeKeyV);
    lua_rawgeti(S, LUA_REGISTRYINDEX, scope.v_ref >= 0 ? scope.v_ref : empty_i_ref_);
    lua_rawset(S, sandbox::kScopeBase);
  }
  if (scope.i_ref != bound_.i_ref) {
    lua_pushvalue(S, sandbox::kScopeKeyI);
    lua_rawgeti(S, LUA_REGISTRYINDEX, scope.i_ref >= 0 ? scope.i_ref : empty_i_ref_);
    lua_rawset(S, sandbox::kScopeBase);
  }
  if (scope.instance_id != bound_.instance_id) {
    lua_pushvalue(S, sandbox::kScopeKeyInstance);
    lua_pushinteger(S, scope.instance_id);
    lua_rawset(S, sandbox::kScopeBase);
  }
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

LuaFailure LuaSandbox::Call(int fn_ref, const EvalScope& scope, std::string* error,
                            int results) {
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
  if (straight_line(fn_ref) && !a->script_metatables) {
    // No hook needed (see straight_line); outside Call no Lua function runs while no
    // script metatable exists, so the hook can stay off until a counted call.
    if (hooked_) lua_sethook(L, nullptr, 0, 0);
    hooked_ = false;
  } else {
    lua_sethook(L, OnCount, LUA_MASKCOUNT, a->hook_count);  // a fresh budget
    hooked_ = true;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  a->evaluating = true;
  int status = lua_pcall(L, 0, results, 0);
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
    hooked_ = true;
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
  return NewInstanceVars(1, &ref) == 1 ? ref : LUA_NOREF;
}

size_t LuaSandbox::NewInstanceVars(size_t count, int* refs) {
  NewVarsBatch batch{refs, count, 0, &spare_vars_refs_, static_cast<int>(vars_fields_.size())};
  lua_pushcfunction(L_, NewVarsBatchProtected);
  lua_pushlightuserdata(L_, &batch);
  lua_rawgeti(L_, LUA_REGISTRYINDEX, vars_template_ref_ >= 0 ? vars_template_ref_ : LUA_NOREF);
  if (lua_pcall(L_, 2, 0, 0) != LUA_OK) {
    lua_pop(L_, 1);
    lua_gc(L_, LUA_GCCOLLECT);
  }
  return batch.made;
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
  // The number may come to name another table: the next Call sets that entry again.
  if (ref >= 0 && ref == bound_.v_ref) bound_.v_ref = BoundScope{}.v_ref;
  if (ref >= 0 && ref == bound_.i_ref) bound_.i_ref = BoundScope{}.i_ref;
}

void LuaSandbox::ReleaseInstanceVars(int ref) {
  if (ref < 0) return;
  // Overwriting an existing key neither allocates nor can raise.
  lua_pushboolean(L_, 0);
  lua_rawseti(L_, LUA_REGISTRYINDEX, ref);
  spare_vars_refs_.push_back(ref);
  if (ref == bound_.v_ref) bound_.v_ref = BoundScope{}.v_ref;
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
