// SPDX-License-Identifier: Apache-2.0
// ValueTemplate (docs/operations.md): strings wholly in {...} are Lua expressions evaluated per
// execution, `\{` escapes a literal brace, everything else is constant; syntax errors become
// problems at the attribute's field path.
#include "ops/lua/value_template.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <lua.hpp>
#include <string>

#include "ops/lua/lua_json.h"
#include "ops/lua/lua_sandbox.h"
#include "test/unit/json_text.h"
#include "test/unit/lua_test_util.h"
#include "test/fakes/test_limits.h"

namespace testrund::ops {
namespace {

using testing::ToText;

class Templates {
 public:
  Templates() : lua(testing::NewSandbox(TestLuaLimits(), "run-1", 0)) {
    testing::SetVarsTemplate(*lua, R"({"x": 41, "name": "ann", "f": 6.0})");
    v_ref = lua->NewInstanceVars();
  }

  ValueTemplate Compile(const char* json, const char* field = "arguments") {
    rapidjson::Document doc;
    doc.Parse(json);
    REQUIRE_FALSE(doc.HasParseError());
    return ValueTemplate::Compile(doc, *lua, 3, field, &problems);
  }

  EvalScope Scope() { return EvalScope{v_ref, LUA_NOREF, 12, nullptr}; }

  std::string Evaluate(const ValueTemplate& t) {
    rapidjson::Document out;
    std::string error;
    LuaFailure failure = t.Evaluate(*lua, Scope(), out, out.GetAllocator(), &error);
    if (failure != LuaFailure::kNone) return "ERR " + error;
    return ToText(out);
  }

  std::string String(const ValueTemplate& t) {
    std::string out;
    std::string error;
    LuaFailure failure = t.EvaluateString(*lua, Scope(), &out, &error);
    if (failure != LuaFailure::kNone) return "ERR " + error;
    return out;
  }

  std::unique_ptr<LuaSandbox> lua;
  int v_ref = LUA_NOREF;
  Problems problems;
};

TEST_CASE("constant templates", "[unit]") {
  Templates t;
  ValueTemplate c = t.Compile(R"({"a":[1,"x",{"b":null}],"s":"plain {not} lua","n":2.5})");
  CHECK(t.problems.empty());
  CHECK_FALSE(c.empty());
  CHECK(c.is_constant());
  CHECK(ToText(c.constant()) == R"({"a":[1,"x",{"b":null}],"s":"plain {not} lua","n":2.5})");
  CHECK(t.Evaluate(c) == ToText(c.constant()));
  CHECK(t.String(c) == ToText(c.constant()));  // a non-string constant as JSON text

  ValueTemplate s = t.Compile(R"("hello")");
  CHECK(s.is_constant());
  CHECK(t.String(s) == "hello");
  for (const char* literal : {R"("{")", R"("}")", R"("x{v.x}")", R"("{v.x} y")", R"("")"}) {
    ValueTemplate l = t.Compile(literal);
    CHECK(l.is_constant());
  }

  ValueTemplate none;
  CHECK(none.empty());
  CHECK(none.is_constant());
  CHECK(t.Evaluate(none) == "null");
  CHECK(t.String(none) == "");
}

TEST_CASE("the backslash escape", "[unit]") {
  Templates t;
  ValueTemplate e = t.Compile(R"("\\{\"a\":1}")");
  CHECK(e.is_constant());
  CHECK(t.String(e) == R"({"a":1})");
  CHECK(ToText(e.constant()) == R"("{\"a\":1}")");
  ValueTemplate nested = t.Compile(R"({"body":"\\{v.x}","other":"\\x"})");
  CHECK(nested.is_constant());
  CHECK(t.Evaluate(nested) == R"({"body":"{v.x}","other":"\\x"})");
  CHECK(t.problems.empty());
}

TEST_CASE("expressions", "[unit]") {
  Templates t;
  ValueTemplate n = t.Compile(R"("{v.x + 1}")");
  CHECK_FALSE(n.is_constant());
  CHECK(t.Evaluate(n) == "42");
  CHECK(t.String(n) == "42");
  CHECK(t.Evaluate(t.Compile(R"("{v.f}")")) == "6.0");
  CHECK(t.String(t.Compile(R"("{v.f}")")) == "6.0");
  CHECK(t.Evaluate(t.Compile(R"("{ {a=1} }")")) == R"({"a":1})");
  CHECK(t.Evaluate(t.Compile(R"("{ {1, 'two'} }")")) == R"([1,"two"])");
  CHECK(t.String(t.Compile(R"("{ {a=1} }")")) == R"({"a":1})");
  CHECK(t.Evaluate(t.Compile(R"("{'id-' .. instance}")")) == "\"id-12\"");
  CHECK(t.String(t.Compile(R"("{v.missing}")")) == "nil");
  CHECK(t.Evaluate(t.Compile(R"("{v.missing}")")) == "null");
  CHECK(t.String(t.Compile(R"("{v.x > 1}")")) == "true");
  CHECK(t.String(t.Compile(R"("{tostring}")")) == "function");
  CHECK(t.problems.empty());

  SECTION("nested in objects and arrays") {
    ValueTemplate m = t.Compile(
        R"({"headers":{"X-Id":"{instance}","Accept":"text/plain"},)"
        R"("params":[1,"{v.x * 2}",{"who":"{v.name}"}],"json":{"k":[true]}})");
    CHECK_FALSE(m.is_constant());
    CHECK(t.Evaluate(m) == R"({"headers":{"X-Id":12,"Accept":"text/plain"},)"
                           R"("params":[1,82,{"who":"ann"}],"json":{"k":[true]}})");
    CHECK(t.String(m) == t.Evaluate(m));
  }
  SECTION("Push leaves one Lua value") {
    lua_State* L = t.lua->state();
    std::string error;
    REQUIRE(t.Compile(R"("{ {a = v.x} }")").Push(*t.lua, t.Scope(), &error) == LuaFailure::kNone);
    REQUIRE(lua_istable(L, -1));
    lua_getfield(L, -1, "a");
    CHECK(lua_tointeger(L, -1) == 41);
    lua_pop(L, 2);
    REQUIRE(t.Compile(R"({"k":"{v.x}"})").Push(*t.lua, t.Scope(), &error) == LuaFailure::kNone);
    lua_getfield(L, -1, "k");
    CHECK(lua_isinteger(L, -1));
    lua_pop(L, 2);
    REQUIRE(t.Compile(R"("\\{x}")").Push(*t.lua, t.Scope(), &error) == LuaFailure::kNone);
    CHECK(std::string(lua_tostring(L, -1)) == "{x}");
    lua_pop(L, 1);
    REQUIRE(ValueTemplate().Push(*t.lua, t.Scope(), &error) == LuaFailure::kNone);
    CHECK(lua_isnil(L, -1));
    lua_pop(L, 1);
    CHECK(lua_gettop(L) == 0);
  }
  SECTION("runtime errors and limits") {
    CHECK(t.Evaluate(t.Compile(R"({"a":["{v.nope.x}"]})", "expect")) ==
          "ERR op 3 (expect.a.0):1: attempt to index a nil value (field 'nope')");
    CHECK(t.String(t.Compile(R"("{error('no', 0)}")")) == "ERR no");
    CHECK(t.Evaluate(t.Compile(R"("{(function() while true do end end)()}")")) ==
          "ERR Lua instruction limit (1000000) exceeded");
    CHECK(lua_gettop(t.lua->state()) == 0);
  }
}

TEST_CASE("syntax errors are problems at the field path", "[unit]") {
  Templates t;
  t.Compile(R"({"headers":{"X-Id":"{v.x +}"},"list":[1,"{)}"]})", "arguments");
  REQUIRE(t.problems.size() == 2);
  CHECK(t.problems[0].op_idx == 3);
  CHECK(t.problems[0].field == "arguments.headers.X-Id");
  CHECK(t.problems[0].problem ==
        "op 3 (arguments.headers.X-Id):1: unexpected symbol near <eof> (a string wholly in "
        "{...} is a Lua expression; start it with \\{ for literal text)");
  CHECK(t.problems[1].field == "arguments.list.1");
  CHECK(t.problems[1].problem ==
        "op 3 (arguments.list.1):1: unexpected symbol near ')' (a string wholly in {...} is a "
        "Lua expression; start it with \\{ for literal text)");

  t.problems.clear();
  t.Compile(R"("{\"a\":1}")", "arguments.body");
  REQUIRE(t.problems.size() == 1);
  CHECK(t.problems[0].field == "arguments.body");

  t.problems.clear();
  t.Compile(R"("{v.x = 1}")", "fail");  // an expression, not a statement
  REQUIRE(t.problems.size() == 1);
  CHECK(t.problems[0].field == "fail");
  CHECK(t.problems[0].problem ==
        "op 3 (fail):1: <eof> expected near '=' (a string wholly in {...} is a Lua "
        "expression; start it with \\{ for literal text)");

  t.problems.clear();
  t.Compile(R"({"body":"{}","b":"{  }"})", "arguments");
  REQUIRE(t.problems.size() == 2);
  CHECK(t.problems[0].field == "arguments.body");
  CHECK(t.problems[0].problem ==
        "empty Lua expression \"{}\" (write \"\\{}\" for the literal text)");
}

TEST_CASE("templates can be moved and outlive their source", "[unit]") {
  Templates t;
  ValueTemplate moved;
  {
    ValueTemplate original = t.Compile(R"({"a":"{v.x}","b":"c"})");
    moved = std::move(original);
  }
  CHECK(t.Evaluate(moved) == R"({"a":41,"b":"c"})");
}

}  // namespace
}  // namespace testrund::ops
