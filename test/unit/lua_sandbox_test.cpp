// SPDX-License-Identifier: Apache-2.0
// LuaSandbox: what a script sees (v, g, i, instance, run_id, the allow-list), what it cannot
// reach or change, how the instruction and memory limits fail an evaluation and leave the
// state usable, and per-instance math.random reproducibility.
#include "ops/lua/lua_sandbox.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <lua.hpp>
#include <string>
#include <utility>

#include "ops/lua/lua_json.h"
#include "ops/lua/source_words.h"
#include "ops/lua/straight_line_code.h"
#include "test/unit/json_text.h"
#include "test/unit/lua_test_util.h"
#include "test/fakes/test_limits.h"

namespace testrund::ops {
namespace {

// One run's sandbox plus one instance of it; Eval returns the result as JSON text, or
// "ERR <kind>: <message>".
class Sandbox {
 public:
  explicit Sandbox(const LuaLimits& limits = TestLuaLimits(), const char* vars_json = nullptr,
                   uint64_t seed = 1)
      : lua(testing::NewSandbox(limits, "run-7", seed)) {
    if (vars_json != nullptr) testing::SetVarsTemplate(*lua, vars_json);
    v_ref = lua->NewInstanceVars();
    REQUIRE(v_ref >= 0);
  }

  EvalScope Scope(int64_t id = 0) { return EvalScope{v_ref, LUA_NOREF, id, &rng}; }

  std::string Eval(std::string_view code) { return EvalIn(code, Scope()); }

  std::string EvalIn(std::string_view code, const EvalScope& scope) {
    Result<int> fn = lua->Compile(code, "=op 0 (expression)");
    if (!fn.ok()) return "SYNTAX " + fn.message();
    std::string error;
    int top = lua_gettop(lua->state());
    LuaFailure failure = lua->Call(fn.value(), scope, &error);
    if (failure != LuaFailure::kNone) {
      CHECK(lua_gettop(lua->state()) == top);
      const char* kind = failure == LuaFailure::kRuntimeError       ? "runtime"
                         : failure == LuaFailure::kInstructionLimit ? "instructions"
                                                                    : "memory";
      return std::string("ERR ") + kind + ": " + error;
    }
    CHECK(lua_gettop(lua->state()) == top + 1);
    rapidjson::Document doc;
    ToJson(lua->state(), -1, doc, doc.GetAllocator());
    lua_pop(lua->state(), 1);
    return testing::ToText(doc);
  }

  std::unique_ptr<LuaSandbox> lua;
  int v_ref = LUA_NOREF;
  uint64_t rng = LuaSandbox::SeedInstanceRng(1, 0);
};

const std::string kAt = "op 0 (expression):1: ";

TEST_CASE("expressions and statements", "[unit]") {
  Sandbox s;
  CHECK(s.Eval("1 + 2") == "3");
  CHECK(s.Eval("7 / 2") == "3.5");
  CHECK(s.Eval("local x = 2 return x * 3") == "6");
  CHECK(s.Eval("v.n = 5") == "null");  // a statement has no value
  CHECK(s.Eval("v.n") == "5");
  CHECK(s.Eval("if v.n > 1 then return 'big' end") == "\"big\"");
  CHECK(s.Eval("") == "null");
  CHECK(s.Eval("1, 2") == "1");  // the first result only
  // Code runs as a function of its own (no vararg set-up per call), except where it uses
  // `...`, which only a main chunk has; line numbers and comments come out the same.
  CHECK(s.Eval("select('#', ...)") == "0");
  CHECK(s.Eval("local t = {...} return #t") == "0");
  CHECK(s.Eval("v.n -- a trailing comment") == "5");
  CHECK(s.Eval("local a = 1\n\nreturn a + nil") ==
        "ERR runtime: op 0 (expression):3: attempt to perform arithmetic on a nil value");
  CHECK(s.Eval("1 end, function() return 2") ==
        "SYNTAX op 0 (expression):1: unexpected symbol near '1'");  // still refused

  SECTION("syntax errors name the chunk and come from the statement form") {
    CHECK(s.Eval("x = = 1") == "SYNTAX op 0 (expression):1: unexpected symbol near '='");
    Result<int> r = s.lua->Compile("v.x +", "op 4 (fail)");  // '=' is added
    REQUIRE_FALSE(r.ok());
    CHECK(r.message() == "op 4 (fail):1: syntax error near '+'");
  }
  SECTION("expression mode refuses statements") {
    Result<int> r = s.lua->Compile("v.x = 1", "=e", LuaSandbox::CompileMode::kExpression);
    REQUIRE_FALSE(r.ok());
    CHECK(r.message() == "e:1: <eof> expected near '='");
  }
  SECTION("binary chunks are refused") {
    Result<int> r = s.lua->Compile("\x1bLuaT\x00", "=op 0 (expression)");
    REQUIRE_FALSE(r.ok());
    CHECK(r.message() == "attempt to load a binary chunk (mode is 't')");
  }
}

TEST_CASE("v, g, i, instance and run_id are visible", "[unit]") {
  Sandbox s(TestLuaLimits(), R"({"n": 6, "t": {"a": 1}, "list": [1, 2, 3]})");
  CHECK(s.EvalIn("instance", s.Scope(41)) == "41");
  CHECK(s.Eval("run_id") == "\"run-7\"");
  CHECK(s.Eval("v.n") == "6");
  CHECK(s.Eval("\"cause \" .. v.n") == "\"cause 6\"");
  CHECK(s.Eval("#v.list") == "3");
  CHECK(s.Eval("g") == "{}");
  CHECK(s.Eval("i") == "{}");
  CHECK(s.Eval("i.http") == "null");
  CHECK(s.Eval("i.x = 1") == "ERR runtime: " + kAt + "attempt to modify read-only table 'i'");
  CHECK(s.Eval("_G.v.n") == "6");

  SECTION("an instance's i table") {
    rapidjson::Document in;
    in.Parse(R"({"http": {"status": 200}})");
    REQUIRE(PushJson(*s.lua, in) == LuaFailure::kNone);
    int i_ref = s.lua->Ref();
    EvalScope scope{s.v_ref, i_ref, 0, &s.rng};
    CHECK(s.EvalIn("i.http.status", scope) == "200");
    CHECK(s.Eval("i.http") == "null");  // the next call without i sees the empty one
    s.lua->Unref(i_ref);
  }
}

TEST_CASE("each instance's v is its own deep copy; g is shared", "[unit]") {
  Sandbox s(TestLuaLimits(), R"({"n": 6, "t": {"a": 1}})");
  int other = s.lua->NewInstanceVars();
  REQUIRE(other >= 0);
  EvalScope a = s.Scope(0);
  EvalScope b{other, LUA_NOREF, 1, &s.rng};

  CHECK(s.EvalIn("v.t.a = 2 v.n = 7 v.new = true g.count = 1", a) == "null");
  CHECK(s.EvalIn("{v.n, v.t.a, v.new}", a) == "[7,2,true]");
  CHECK(s.EvalIn("{v.n, v.t.a, v.new == nil}", b) == "[6,1,true]");
  CHECK(s.EvalIn("g.count", b) == "1");
  CHECK(s.EvalIn("g.count = g.count + 1", b) == "null");
  CHECK(s.EvalIn("g.count", a) == "2");

  int third = s.lua->NewInstanceVars();  // the template was not touched
  EvalScope c{third, LUA_NOREF, 2, &s.rng};
  CHECK(s.EvalIn("{v.n, v.t.a}", c) == "[6,1]");

  SECTION("globals set from JSON") {
    rapidjson::Document globals;
    globals.Parse(R"({"limit": 3})");
    REQUIRE(PushJson(*s.lua, globals) == LuaFailure::kNone);
    s.lua->SetGlobals(s.lua->Ref());
    CHECK(s.EvalIn("g.limit", c) == "3");
    s.lua->PushGlobals();
    CHECK(lua_istable(s.lua->state(), -1));
    lua_pop(s.lua->state(), 1);
  }
  s.lua->Unref(other);
  s.lua->Unref(third);
}

TEST_CASE("no state leaks through the environment", "[unit]") {
  Sandbox s;
  CHECK(s.Eval("x = 1") ==
        "ERR runtime: " + kAt + "assignment to undeclared global 'x' (use local, v.x or g.x)");
  CHECK(s.Eval("function f() end") ==
        "ERR runtime: " + kAt + "assignment to undeclared global 'f' (use local, v.x or g.x)");
  CHECK(s.Eval("string = 1") == "ERR runtime: " + kAt + "assignment to read-only global 'string'");
  CHECK(s.Eval("v = {}") == "ERR runtime: " + kAt + "assignment to read-only global 'v'");
  CHECK(s.Eval("_ENV.y = 1") ==
        "ERR runtime: " + kAt + "assignment to undeclared global 'y' (use local, v.x or g.x)");
  CHECK(s.Eval("string.upper = nil") ==
        "ERR runtime: " + kAt + "attempt to modify read-only table 'string'");
  CHECK(s.Eval("math.pi = 3") == "ERR runtime: " + kAt + "attempt to modify read-only table 'math'");
  CHECK(s.Eval("rawset(_ENV, 'x', 1)") ==
        "ERR runtime: " + kAt + "rawset on a protected table is not allowed");
  CHECK(s.Eval("rawset(string, 'x', 1)") ==
        "ERR runtime: " + kAt + "rawset on a protected table is not allowed");
  CHECK(s.Eval("rawset({}, 'x', 1).x") == "1");
  CHECK(s.Eval("local _ENV = {x = 5} return x") == "5");  // a local _ENV is the script's own
  CHECK(s.Eval("x") == "null");
  CHECK(s.Eval("string.upper('a')") == "\"A\"");
  CHECK(s.Eval("local n = 0 for k in pairs(string) do n = n + 1 end return n") == "16");
}

TEST_CASE("the allow-list", "[unit]") {
  Sandbox s;
  SECTION("present") {
    CHECK(s.Eval("{type(string.format), type(table.concat), type(math.floor), type(utf8.char),"
                 " type(os.time), type(os.clock), type(pcall), type(load), type(tostring)}") ==
          R"(["function","function","function","function","function","function","function",)"
          R"("function","function"])");
    CHECK(s.Eval("('%d-%s'):format(3, 'x')") == "\"3-x\"");
    CHECK(s.Eval("utf8.char(233)") == "\"\xc3\xa9\"");
    CHECK(s.Eval("load('return 1 + 1')()") == "2");
    CHECK(s.Eval("load('x = 1')()") ==
          "ERR runtime: (load):1: assignment to undeclared global 'x' (use local, v.x or g.x)");
    CHECK(s.Eval("load('return y', 'c', 't', {y = 3})()") == "3");
    CHECK(s.Eval("select(2, load('\\27LuaT'))") ==
          "\"attempt to load a binary chunk (mode is 't')\"");
  }
  SECTION("absent") {
    CHECK(s.Eval("{io == nil, debug == nil, package == nil, require == nil, dofile == nil,"
                 " loadfile == nil, collectgarbage == nil, print == nil, coroutine == nil,"
                 " os.execute == nil, os.getenv == nil, string.dump == nil, loadstring == nil}") ==
          "[true,true,true,true,true,true,true,true,true,true,true,true,true]");
    // Reaching for any of them is a plain runtime error: code, then Lua's message.
    const std::pair<const char*, const char*> kUses[] = {
        {"os.execute('true')", "attempt to call a nil value (field 'execute')"},
        {"io.open('/etc/passwd')", "attempt to index a nil value (global 'io')"},
        {"require('os')", "attempt to call a nil value (global 'require')"},
        {"dofile('/etc/passwd')", "attempt to call a nil value (global 'dofile')"},
        {"loadfile('/etc/passwd')", "attempt to call a nil value (global 'loadfile')"},
        {"load(string.dump(function() end))", "attempt to call a nil value (field 'dump')"},
        {"debug.getinfo(1)", "attempt to index a nil value (global 'debug')"},
        {"collectgarbage('stop')", "attempt to call a nil value (global 'collectgarbage')"},
    };
    for (const auto& [code, message] : kUses) {
      INFO(code);
      CHECK(s.Eval(code) == "ERR runtime: " + kAt + message);
    }
  }
  SECTION("metatables are hidden") {
    CHECK(s.Eval("getmetatable(_ENV)") == "false");
    CHECK(s.Eval("getmetatable(string)") == "false");
    CHECK(s.Eval("getmetatable('')") == "false");
    CHECK(s.Eval("getmetatable('').__index = {}") ==
          "ERR runtime: " + kAt + "attempt to index a boolean value");
    CHECK(s.Eval("setmetatable(_ENV, nil)") ==
          "ERR runtime: " + kAt + "cannot change a protected metatable");
    CHECK(s.Eval("setmetatable(i, {})") ==
          "ERR runtime: " + kAt + "cannot change a protected metatable");
    CHECK(s.Eval("setmetatable({}, {__gc = function() end})") ==
          "ERR runtime: " + kAt + "__gc metamethods are not allowed in the sandbox");
    CHECK(s.Eval("setmetatable({}, {__gc = false})") ==
          "ERR runtime: " + kAt + "__gc metamethods are not allowed in the sandbox");
    // A __gc added after setmetatable never runs (Lua marks finalizers at setmetatable).
    CHECK(s.Eval("local mt = {} setmetatable({}, mt) mt.__gc = function() while true do end end")
          == "null");
    s.lua->CollectGarbage();
    CHECK(s.Eval("setmetatable({}, {__index = function() return 4 end}).x") == "4");
    CHECK(s.Eval("('abc'):upper()") == "\"ABC\"");
  }
}

TEST_CASE("error values become abort texts", "[unit]") {
  Sandbox s;
  CHECK(s.Eval("error('boom')") == "ERR runtime: " + kAt + "boom");
  CHECK(s.Eval("error('boom', 0)") == "ERR runtime: boom");
  CHECK(s.Eval("error({code = 1})") == "ERR runtime: (error object is a table value)");
  CHECK(s.Eval("error(nil)") == "ERR runtime: nil");
  CHECK(s.Eval("error(12)") == "ERR runtime: 12");
  CHECK(s.Eval("error(1.5)") == "ERR runtime: 1.5");
  CHECK(s.Eval("error(true)") == "ERR runtime: true");
  CHECK(s.Eval("nil + 1") ==
        "ERR runtime: " + kAt + "attempt to perform arithmetic on a nil value");
  CHECK(s.Eval("v.a.b") ==
        "ERR runtime: " + kAt + "attempt to index a nil value (field 'a')");
  CHECK(s.Eval("select(2, pcall(error, {}))") == "{}");
  CHECK(s.Eval("1") == "1");
}

TEST_CASE("the instruction limit is per evaluation", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.instruction_limit = 10'000;
  Sandbox s(limits);
  const std::string kLimit = "ERR instructions: Lua instruction limit (10000) exceeded";
  CHECK(s.Eval("while true do end") == kLimit);
  CHECK(s.Eval("1 + 1") == "2");
  // 4,000 iterations use less than half the budget; five in a row still pass.
  for (int k = 0; k < 5; ++k) CHECK(s.Eval("local n = 0 for j = 1, 4000 do n = j end return n") ==
                                    "4000");
  CHECK(s.Eval("pcall(function() while true do end end)") == kLimit);
  CHECK(s.Eval("while true do pcall(function() while true do end end) end") == kLimit);
  CHECK(s.Eval("while true do xpcall(function() while true do end end,"
               " function() while true do end end) end") == kLimit);
  CHECK(s.Eval("xpcall(function() while true do end end, function(e) return e end)") ==
        kLimit);
  CHECK(s.Eval("select(2, xpcall(error, function(e) return 'handled ' .. e end, 'x'))") ==
        "\"handled x\"");
  CHECK(s.Eval("xpcall(function(a, b) return a + b end, tostring, 1, 2)") == "true");
  CHECK(s.Eval("select(2, xpcall(function(a, b) return a + b end, error, 1, 2))") == "3");
  CHECK(s.Eval("table.sort({3, 2, 1}, function(a, b) while true do end end)") == kLimit);
  CHECK(s.Eval("string.gsub('aaa', 'a', function() while true do end end)") == kLimit);
  const std::string kLoopingClose =
      "local x <close> = setmetatable({}, {__close = function() while true do end end}) ";
  CHECK(s.Eval(kLoopingClose + "while true do end") == kLimit);
  CHECK(s.Eval(kLoopingClose + "return 1") == kLimit);
  CHECK(s.Eval("'still' .. ' works'") == "\"still works\"");

  SECTION("the default budget") {
    Sandbox d;
    CHECK(d.Eval("while true do end") ==
          "ERR instructions: Lua instruction limit (1000000) exceeded");
  }
}

TEST_CASE("the memory limit fails the evaluation and the state stays usable", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.memory_limit = 32u << 20;
  limits.instruction_limit = 100'000'000;
  Sandbox s(limits);
  const std::string kLimit = "ERR memory: Lua memory limit (33554432 bytes) exceeded";
  size_t baseline = s.lua->memory_used();
  CHECK(s.Eval("string.rep('x', 1e9)") == kLimit);
  CHECK(s.Eval("#string.rep('x', 1000)") == "1000");
  CHECK(s.Eval("local t = {} for j = 1, 1e9 do t[j] = j end") == kLimit);
  CHECK(s.lua->memory_used() < baseline + (1u << 20));
  CHECK(s.Eval("local t = {} for j = 1, 1e9 do t[#t + 1] = tostring(j) .. 'abc' end") == kLimit);
  // Lua's own cap on string sizes (2^31) comes first for these.
  CHECK(s.Eval("string.rep('x', 2^40, 'yy')") ==
        "ERR runtime: " + kAt + "resulting string too large");
  CHECK(s.Eval("string.rep('x', 1e6, string.rep('y', 1e6))") ==
        "ERR runtime: " + kAt + "resulting string too large");
  CHECK(s.Eval("string.rep('x', 1e4, string.rep('y', 1e4))") == kLimit);
  CHECK(s.Eval("local ok = pcall(string.rep, 'x', 1e9) return ok") == "false");
  CHECK(s.Eval("table.concat({'a', 'b'}, '-')") == "\"a-b\"");
  // Lua halves its string table at most once per collection; after millions of strings it
  // takes a few collections to come back down.
  for (int k = 0; k < 4; ++k) s.lua->CollectGarbage();
  CHECK(s.lua->memory_used() < baseline + (1u << 20));

  SECTION("the default cap is named in the text") {
    Sandbox d;
    CHECK(d.Eval("string.rep('x', 1e9)") ==
          "ERR memory: Lua memory limit (268435456 bytes) exceeded");
  }
}

TEST_CASE("allocations count against the instruction budget", "[unit]") {
  Sandbox s;  // 1,000,000 instructions: 16 MB of allocation per evaluation
  const std::string kLimit = "ERR instructions: Lua instruction limit (1000000) exceeded";
  auto started = std::chrono::steady_clock::now();
  // Each of these allocates and copies far more than its few instructions would suggest.
  CHECK(s.Eval("local s = 'x' while true do s = s .. s end") == kLimit);
  CHECK(s.Eval("string.rep('x', 2^27)") == kLimit);  // 128 MiB: inside the run's cap
  CHECK(s.Eval("pcall(string.rep, 'x', 2^27) return 1") == kLimit);
  CHECK(s.Eval("local function f() return 1 + f() end return f()") == kLimit);
  double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(took < 5);  // about 0.1 s on an idle machine; generous for a loaded CI one
  // Over the run's memory cap is still the memory limit; a fresh evaluation has a fresh budget.
  CHECK(s.Eval("string.rep('x', 2^30)") ==
        "ERR memory: Lua memory limit (268435456 bytes) exceeded");
  CHECK(s.Eval("#string.rep('x', 2e6)") == "2000000");
  CHECK(s.Eval("#string.rep('x', 2e6)") == "2000000");
}

TEST_CASE("deep recursion is an error, not a crash", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.instruction_limit = 100'000'000;
  Sandbox s(limits);
  std::string lua_stack = s.Eval("local function f() return 1 + f() end return f()");
  CHECK_THAT(lua_stack, Catch::StartsWith("ERR runtime: ") && Catch::Contains("stack overflow"));
  std::string c_stack = s.Eval(
      "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x");
  CHECK_THAT(c_stack, Catch::StartsWith("ERR runtime: ") && Catch::Contains("stack overflow"));
  CHECK_THAT(s.Eval("string.rep('(', 300):find(string.rep('(', 300))"),
             Catch::StartsWith("ERR runtime: "));
  CHECK(s.Eval("1") == "1");
}

TEST_CASE("pattern functions are priced before they run, against the evaluation's budget",
          "[unit]") {
  Sandbox s;  // the default budget: 1,000,000 instructions, so 10,000,000 matching steps
  auto too_costly = [](const char* function, const char* bytes) {
    return std::string("ERR runtime: ") + kAt + function + ": pattern too costly for a " +
           bytes +
           "-byte subject (this evaluation may spend 10000000 matching steps, 10 per "
           "instruction of the Lua instruction limit)";
  };
  auto started = std::chrono::steady_clock::now();
  // Unguarded, each of these runs for seconds to years inside one instruction.
  CHECK(s.Eval("string.rep('a', 1e5):find('a*b')") == too_costly("string.find", "100000"));
  CHECK(s.Eval("string.rep('a', 1e6):find(string.rep('a*', 20) .. 'b')") ==
        too_costly("string.find", "1000000"));
  CHECK(s.Eval("('a'):rep(1e5):match('(a-)b')") == too_costly("string.match", "100000"));
  CHECK(s.Eval("for x in ('a'):rep(1e5):gmatch('a*b') do end") ==
        too_costly("string.gmatch", "100000"));
  CHECK(s.Eval("('a'):rep(1e5):gsub('.-.-b', '')") == too_costly("string.gsub", "100000"));
  CHECK(s.Eval("('('):rep(1e5):find('%b()')") == too_costly("string.find", "100000"));
  CHECK(s.Eval("('a'):rep(1e6):find(('a'):rep(1e4) .. 'b', 1, true)") ==
        too_costly("string.find", "1000000"));
  // The budget is per evaluation, so a loop of calls just under it cannot add up: the first
  // call (about 8e6 steps) runs, the second is refused, and pcall cannot get past that.
  CHECK(s.Eval("local s = ('a'):rep(2000) "
               "return {pcall(string.find, s, 'a*b'), (pcall(string.find, s, 'a*b'))}") ==
        "[true,false]");
  CHECK(s.Eval("local s, n = ('a'):rep(2000), 0 "
               "for k = 1, 1e4 do if pcall(string.find, s, 'a*b') then n = n + 1 end end "
               "return n") == "1");
  double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(took < 5);  // all of the above, even under the sanitizers

  // Everyday patterns on large subjects stay well inside the budget.
  CHECK(s.Eval("(('x'):rep(1e5) .. '\"id\":42,'):match('\"id\":(%d+)')") == "\"42\"");
  CHECK(s.Eval("(('y'):rep(1e5) .. '\"name\":\"z\"'):match('\"name\":\"(.-)\"')") ==
        "\"z\"");
  CHECK(s.Eval("select(2, ('k=v; '):rep(2000):gsub('(%w+)=(%w+)', '%2=%1'))") == "2000");
  CHECK(s.Eval("#(('(x)'):rep(100):match('%b()'))") == "3");
  CHECK(s.Eval("('ab'):rep(1e5):find('^a[b]+a')") == "1");
  CHECK(s.Eval("('ab'):rep(1e5):find('ba', 1, true)") == "2");
  CHECK(s.Eval("local n = 0 for w in ('one two three '):rep(1000):gmatch('%a+') do n = n + 1 "
               "end return n") == "3000");
  CHECK(s.Eval("('a'):rep(2000):find('a*b')") == "null");  // about 8e6 steps: allowed
  // Lua's own pattern errors still come through (raised below the guard: no position).
  CHECK(s.Eval("string.find('x', '[a')") == "ERR runtime: malformed pattern (missing ']')");

  SECTION("the budget follows lua_instruction_limit") {
    LuaLimits limits = TestLuaLimits();
    limits.instruction_limit = 1'000;
    Sandbox small(limits);
    CHECK(small.Eval("('a'):rep(2000):find('a*b')") ==
          "ERR runtime: " + kAt +
              "string.find: pattern too costly for a 2000-byte subject (this evaluation may "
              "spend 10000 matching steps, 10 per instruction of the Lua instruction limit)");
  }
}

TEST_CASE("Create refuses a memory limit too small for the sandbox", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.memory_limit = 1000;
  auto tiny = LuaSandbox::Create(limits, "r", 0);
  REQUIRE_FALSE(tiny.ok());
  CHECK(tiny.message() == "Lua memory limit (1000 bytes) is too small to create the Lua state");
  limits.memory_limit = 10'000;
  auto small = LuaSandbox::Create(limits, "r", 0);
  REQUIRE_FALSE(small.ok());
  CHECK(small.message() == "Lua memory limit (10000 bytes) is too small to set up the sandbox");
}

TEST_CASE("math.random is reproducible per instance", "[unit]") {
  const char* kDraws = "{math.random(1, 1000000), math.random(1000), math.random(0), "
                       "math.floor(math.random() * 1e9)}";
  auto draws = [&](uint64_t seed, int64_t id) {
    Sandbox s(TestLuaLimits(), nullptr, seed);
    s.rng = LuaSandbox::SeedInstanceRng(seed, id);
    return s.EvalIn(kDraws, s.Scope(id));
  };
  CHECK(draws(42, 3) == draws(42, 3));
  CHECK(draws(42, 3) != draws(42, 4));
  CHECK(draws(42, 3) != draws(43, 3));
  CHECK(LuaSandbox::SeedInstanceRng(42, 3) == LuaSandbox::SeedInstanceRng(42, 3));
  CHECK(LuaSandbox::SeedInstanceRng(42, 3) != LuaSandbox::SeedInstanceRng(42, 4));

  Sandbox s;
  uint64_t other = LuaSandbox::SeedInstanceRng(1, 9);
  EvalScope second{s.v_ref, LUA_NOREF, 9, &other};
  // Draws of one instance do not move another's sequence.
  std::string first = s.EvalIn("math.random(1, 1e9)", second);
  s.rng = LuaSandbox::SeedInstanceRng(1, 9);
  CHECK(s.EvalIn("math.random(1, 1e9)", s.Scope()) == first);

  CHECK(s.Eval("math.randomseed(5) local a = math.random(1e9) math.randomseed(5) "
               "return a == math.random(1e9)") == "true");
  CHECK(s.Eval("local x = math.random(3, 5) return x >= 3 and x <= 5") == "true");
  CHECK(s.Eval("local x = math.random() return x >= 0 and x < 1") == "true");
  CHECK(s.Eval("math.random(7, 7)") == "7");
  CHECK(s.Eval("math.type(math.random(10))") == "\"integer\"");
  CHECK(s.Eval("math.random(5, 1)") ==
        "ERR runtime: " + kAt + "bad argument #1 to 'random' (interval is empty)");
  CHECK(s.Eval("math.random(math.mininteger, math.maxinteger) ~= nil") == "true");
}

TEST_CASE("registry references", "[unit]") {
  Sandbox s;
  lua_pushinteger(s.lua->state(), 99);
  int ref = s.lua->Ref();
  REQUIRE(ref >= 0);
  s.lua->PushRef(ref);
  CHECK(lua_tointeger(s.lua->state(), -1) == 99);
  lua_pop(s.lua->state(), 1);
  s.lua->Unref(ref);
  s.lua->Unref(LUA_NOREF);
  s.lua->Unref(LUA_REFNIL);
  CHECK(lua_gettop(s.lua->state()) == 0);
}

TEST_CASE("released instance vars: the number is reused, the table is not", "[unit]") {
  Sandbox s(TestLuaLimits(), R"({"n": 6})");
  CHECK(s.Eval("v.n = 7 v.big = string.rep('x', 100000)") == "null");
  s.lua->CollectGarbage();
  size_t before_release = s.lua->memory_used();
  int released = s.v_ref;
  s.lua->ReleaseInstanceVars(released);
  s.lua->ReleaseInstanceVars(LUA_NOREF);  // ignored

  // The next instance gets the released number, with a fresh copy of the template (the
  // scope bound to that number before must not stick).
  int refs[2] = {LUA_NOREF, LUA_NOREF};
  REQUIRE(s.lua->NewInstanceVars(2, refs) == 2);
  CHECK(refs[0] == released);
  CHECK(refs[1] != released);
  s.v_ref = refs[0];
  CHECK(s.Eval("{v.n, v.big == nil}") == "[6,true]");
  // The released table, with its 100,000-byte string, is garbage.
  s.lua->CollectGarbage();
  size_t after_release = s.lua->memory_used();
  CHECK(after_release + 95000 < before_release);
  // A long cycle of instances holds no more memory than one.
  for (int n = 0; n < 2000; ++n) {
    int ref = s.lua->NewInstanceVars();
    REQUIRE(ref >= 0);
    s.lua->ReleaseInstanceVars(ref);
  }
  s.lua->CollectGarbage();
  CHECK(s.lua->memory_used() < after_release + 1024);
  CHECK(lua_gettop(s.lua->state()) == 0);
}

TEST_CASE("may_read_inbound: code that names i, _G, _ENV or load", "[unit]") {
  auto fresh = [] { return testing::NewSandbox(TestLuaLimits(), "r", 1); };
  for (const char* code : {"v.n = instance", "v.items = 1", "g.pi = 3", "v.i2 = 1",
                           "v.name == 'hi'", "v.x = instance_i", "loader"}) {
    INFO(code);
    auto lua = fresh();
    REQUIRE(lua->Compile(code, "c").ok());
    CHECK_FALSE(lua->may_read_inbound());
  }
  for (const char* code : {"i.http.status == 200", "v.s = i", "for i = 1, 2 do end",
                           "_G['i']", "_ENV.x", "load('return 1')", "v.s = 'i'", "x(i)"}) {
    INFO(code);
    auto lua = fresh();
    (void)lua->Compile(code, "c");  // a syntax error counts too
    CHECK(lua->may_read_inbound());
  }
}


TEST_CASE("AssignedVarsFields: the fields code assigns on v, each once", "[unit]") {
  using Fields = std::vector<std::string>;
  CHECK(AssignedVarsFields("v.n = instance") == Fields{"n"});
  CHECK(AssignedVarsFields("v.a=1 v . b =2; v.a = 3; v.c\n= 4") == Fields{"a", "b", "c"});
  CHECK(AssignedVarsFields("local x = v.a + 1; v.total = x") == Fields{"total"});
  CHECK(AssignedVarsFields("v.n >= 0").empty());
  CHECK(AssignedVarsFields("v.n == 0 and v.m ~= 1 or v.k <= 2").empty());
  CHECK(AssignedVarsFields("x.v.n = 1; vv.n = 2; av.n = 3; v_.n = 4").empty());
  CHECK(AssignedVarsFields("v['n'] = 1; v[1] = 2; v = 3; v.").empty());
  CHECK(AssignedVarsFields("v.t.x = 1").empty());  // a field of v.t
  CHECK(AssignedVarsFields("if v.ok then v.count = (v.count or 0) + 1 end") ==
        Fields{"count"});
}

TEST_CASE("v is made with room for the fields the run's code assigns", "[unit]") {
  auto lua = testing::NewSandbox(TestLuaLimits(), "r", 1);
  auto made_bytes = [&lua] {
    size_t before = lua->memory_used();
    int ref = lua->NewInstanceVars();
    REQUIRE(ref >= 0);
    size_t bytes = lua->memory_used() - before;
    lua->ReleaseInstanceVars(ref);
    return bytes;
  };
  lua_gc(lua->state(), LUA_GCSTOP);  // no collection step inside the measures
  made_bytes();                      // the first one also grows the registry
  size_t empty = made_bytes();
  Result<int> fn = lua->Compile("v.a = 1; v.b = 2; v.c = instance", "c");
  REQUIRE(fn.ok());
  CHECK(made_bytes() > empty);
  lua_gc(lua->state(), LUA_GCRESTART);
  // The room is unused space: a fresh v is still empty, and takes what it is given.
  int ref = lua->NewInstanceVars();
  lua->PushRef(ref);
  lua_pushnil(lua->state());
  CHECK(lua_next(lua->state(), -2) == 0);
  lua_pop(lua->state(), 1);
  uint64_t rng = 1;
  std::string error;
  REQUIRE(lua->Call(fn.value(), EvalScope{ref, LUA_NOREF, 7, &rng}, &error) ==
          LuaFailure::kNone);
  lua_pop(lua->state(), 1);
  lua->PushRef(ref);
  lua_getfield(lua->state(), -1, "c");
  CHECK(lua_tointeger(lua->state(), -1) == 7);
  lua_pop(lua->state(), 2);
  lua->ReleaseInstanceVars(ref);
}


bool StraightLine(LuaSandbox& lua, std::string_view code) {
  Result<int> fn = lua.Compile(code, "=op 0 (expression)");
  REQUIRE(fn.ok());
  return lua.straight_line(fn.value());
}

TEST_CASE("straight-line chunks: no loop, call, closure or to-be-closed variable", "[unit]") {
  auto lua = testing::NewSandbox();
  for (const char* code :
       {"v.n = instance", "v.n >= 0", "g.c = (g.c or 0) + 1", "v.s = 'a' .. instance",
        "if v.n then v.m = 1 else v.m = 2 end", "local t = {1, 2, x = v}; return #t",
        "v.a and v.b or -v.c", "d.msisdn", "goto skip; v.x = 1; ::skip::", "x.y.z"}) {
    INFO(code);
    CHECK(StraightLine(*lua, code));
  }
  for (const char* code :
       {"while true do end", "repeat v.n = 1 until v.n", "::top:: v.n = 1; goto top",
        "for k = 1, 3 do v.n = k end", "for k in next, v do end", "math.floor(1.5)",
        "tostring(1)", "v:m()", "return (function() end)", "do local c <close> = nil end",
        "return select('#')"}) {
    INFO(code);
    CHECK_FALSE(StraightLine(*lua, code));
  }
}

TEST_CASE("a straight-line chunk as long as the budget is counted", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.instruction_limit = 5;
  Sandbox box(limits);
  CHECK(StraightLine(*box.lua, "v.n = 1"));  // GETTABUP, SETFIELD, RETURN0
  CHECK_FALSE(StraightLine(*box.lua, "v.n = v.m + 1 + v.k"));  // 11 instructions
  CHECK(box.Eval("v.n = v.m + 1 + v.k") ==
        "ERR instructions: Lua instruction limit (5) exceeded");
}

TEST_CASE("hook_free false counts every chunk", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.hook_free = false;
  auto lua = testing::NewSandbox(limits);
  CHECK_FALSE(StraightLine(*lua, "v.n = instance"));
}

TEST_CASE("after a script's setmetatable, straight-line chunks are counted", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.instruction_limit = 1000;
  Sandbox box(limits);
  CHECK(box.Eval("g.n = 1") == "null");
  // A straight-line chunk whose index calls a looping metamethod: stopped by the budget.
  CHECK(box.Eval("local t = setmetatable(g, {__index = function() while true do end end})") ==
        "null");
  CHECK(StraightLine(*box.lua, "g.missing"));
  CHECK(box.Eval("g.missing") == "ERR instructions: Lua instruction limit (1000) exceeded");
  CHECK(box.Eval("v.n = 2; return v.n + g.n") == "3");
  // Arithmetic, comparison, concatenation and length metamethods the same way.
  CHECK(box.Eval("local t = setmetatable(v, {__add = function() while true do end end, "
                 "__lt = function() while true do end end, __concat = function() "
                 "while true do end end, __len = function() while true do end end})") ==
        "null");
  for (const char* code : {"v + 1", "v < v", "v .. 'x'", "#v"}) {
    INFO(code);
    CHECK(box.Eval(code) == "ERR instructions: Lua instruction limit (1000) exceeded");
  }
}

TEST_CASE("a setmetatable in a failing evaluation still ends hook-free calls", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.instruction_limit = 1000;
  Sandbox box(limits);
  CHECK(box.Eval("local t = setmetatable({}, {__index = function() while true do end end}); "
                 "g.t = t; error('x')")
            .rfind("ERR runtime:", 0) == 0);
  CHECK(box.Eval("g.t.y") == "ERR instructions: Lua instruction limit (1000) exceeded");
}

TEST_CASE("hook-free and counted chunks give the same results and errors", "[unit]") {
  LuaLimits counted = TestLuaLimits();
  counted.hook_free = false;
  Sandbox a;
  Sandbox b(counted);
  for (const char* code :
       {"v.n = instance", "v.n >= 0", "g.c = (g.c or 0) + 1", "g.c", "v.s = 'a' .. v.n",
        "v.x.y", "instance.x", "g + 1", "x = 1", "string.x = 1", "v.n // 0", "1 // 0",
        "'10' + 1", "'a' + 1", "{v.n, g.c, v.s}", "v.t = {1, 2, 3}; return v.t",
        "#v.t", "v.n < 'a'", "v.missing.deeper = 1", "_ENV.v.n", "i", "run_id",
        // Chunks that only read globals run bound to the base table (ReadsGlobalsOnly):
        // whatever they do through _G still meets the environment's guards.
        "_G.v = 1", "_G.x = 1", "_G.x", "rawget(_G, 'v')", "next(_G)", "rawequal(_G, _G)",
        "local e = _ENV; e.v = 1", "_ENV = {}", "v = 1", "instance = 2", "return _G == _ENV",
        "missing_name", "missing_name.x", "missing_name()", "string.upper('a')",
        "rawset(_G, 'v', 1)", "load('v = 1')", "pcall(load('v = 1'))", "v.n = instance"}) {
    INFO(code);
    CHECK(a.Eval(code) == b.Eval(code));
  }
}

// ReadsGlobalsOnly on the dump of `code` compiled as a chunk.
bool ReadsOnly(std::string_view code) {
  lua_State* L = luaL_newstate();
  REQUIRE(luaL_loadbuffer(L, code.data(), code.size(), "=t") == LUA_OK);
  std::string dump;
  lua_dump(
      L,
      [](lua_State*, const void* bytes, size_t size, void* out) {
        static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), size);
        return 0;
      },
      &dump, 1);
  lua_close(L);
  return ReadsGlobalsOnly(dump);
}

TEST_CASE("ReadsGlobalsOnly: no global assignment, no _ENV value, no closure", "[unit]") {
  for (const char* code :
       {"return v.n", "v.n = instance", "g.c = (g.c or 0) + 1", "return string.upper(x)",
        "_G.x = 1", "local _ENV = {}; x = 1", "for k = 1, 3 do v.n = k end", "return _ENV.v"}) {
    INFO(code);
    CHECK(ReadsOnly(code));
  }
  for (const char* code :
       {"x = 1", "v = {}", "local e = _ENV", "_ENV = {}", "_ENV.x = 1",
        "return function() end", "local function f() return v end", "return _ENV"}) {
    INFO(code);
    CHECK_FALSE(ReadsOnly(code));
  }
  CHECK_FALSE(ReadsGlobalsOnly("not a dump"));
  CHECK_FALSE(ReadsGlobalsOnly(""));
}

}  // namespace
}  // namespace testrund::ops
