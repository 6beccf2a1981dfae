// SPDX-License-Identifier: Apache-2.0
// JSON <-> Lua (docs/operations.md): integers stay integers and floats floats both ways, arrays are
// exactly the tables keyed 1..n, an empty table is {}, null is nil, values JSON cannot hold
// are skipped, and a conversion under the memory cap fails cleanly.
#include "ops/lua/lua_json.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <lua.hpp>
#include <string>

#include "ops/lua/lua_sandbox.h"
#include "test/unit/json_text.h"
#include "test/unit/lua_test_util.h"
#include "test/fakes/test_limits.h"

namespace testrund::ops {
namespace {

using testing::ToText;

class Json {
 public:
  explicit Json(const LuaLimits& limits = TestLuaLimits()) : lua(testing::NewSandbox(limits)) {}

  // Pushes `json` as the instance's v and runs `code`; the result as JSON text.
  std::string With(const char* json, const char* code) {
    rapidjson::Document in;
    in.Parse<rapidjson::kParseFullPrecisionFlag>(json);
    REQUIRE_FALSE(in.HasParseError());
    REQUIRE(PushJson(*lua, in) == LuaFailure::kNone);
    int v = lua->Ref();
    Result<int> fn = lua->Compile(code, "=test");
    REQUIRE(fn.ok());
    std::string error;
    EvalScope scope{v, LUA_NOREF, 0, nullptr};
    LuaFailure failure = lua->Call(fn.value(), scope, &error);
    lua->Unref(v);
    if (failure != LuaFailure::kNone) return "ERR " + error;
    return Pop();
  }

  // Converts the value at the top to JSON text and pops it.
  std::string Pop(int max_depth = 64) {
    rapidjson::Document out;
    ToJson(lua->state(), -1, out, out.GetAllocator(), max_depth);
    lua_pop(lua->state(), 1);
    return ToText(out);
  }

  // JSON text -> Lua -> JSON text.
  std::string RoundTrip(const char* json) { return With(json, "v"); }

  std::unique_ptr<LuaSandbox> lua;
};

TEST_CASE("JSON numbers: integers stay integers, floats stay floats", "[unit]") {
  Json j;
  CHECK(j.With(R"({"n": 6})", "'cause ' .. v.n") == "\"cause 6\"");
  CHECK(j.With(R"({"n": 6.0})", "'cause ' .. v.n") == "\"cause 6.0\"");
  CHECK(j.With(R"({"n": 6, "f": 6.5, "e": 1e2, "z": -0.0})",
               "{math.type(v.n), math.type(v.f), math.type(v.e), math.type(v.z)}") ==
        R"(["integer","float","float","float"])");
  CHECK(j.RoundTrip(R"({"n":6,"f":6.0,"e":1e2,"x":0.1,"t":1.7976931348623157e308,"neg":-7})") ==
        R"({"e":100.0,"f":6.0,"n":6,"neg":-7,"t":1.7976931348623157e308,"x":0.1})");
  CHECK(j.With(R"({"t":0.30000000000000004})", "v.t == 0.1 + 0.2") == "true");
  // RapidJSON's Grisu2 round-trips exactly but is not always shortest: 0.1 + 0.2 is written
  // 0.30000000000000007 (the same double as 0.30000000000000004).
  CHECK(j.With("{}", "0.1 + 0.2") == "0.30000000000000007");
  CHECK(j.RoundTrip("[9223372036854775807,-9223372036854775808]") ==
        "[9223372036854775807,-9223372036854775808]");
  // Beyond int64: a float.
  CHECK(j.With("[18446744073709551615]", "math.type(v[1])") == "\"float\"");
  CHECK(j.RoundTrip("[18446744073709551615]") == "[18446744073709553000.0]");  // RapidJSON's form
  CHECK(j.With("{}", "{1/3, 2^53, 1e300, 6.0, 3 // 2, 7 / 7}") ==
        "[0.3333333333333333,9007199254740992.0,1e300,6.0,1,1.0]");
  CHECK(j.With("{}", "{0/0, 1/0, -1/0}") == "[null,null,null]");
}

TEST_CASE("JSON structures map to tables and back", "[unit]") {
  Json j;
  CHECK(j.RoundTrip(R"({"a":{"b":{"c":[1,"x",true,false]}},"s":"t"})") ==
        R"({"a":{"b":{"c":[1,"x",true,false]}},"s":"t"})");
  CHECK(j.RoundTrip(R"({"empty_object":{},"empty_array":[]})") ==
        R"({"empty_array":{},"empty_object":{}})");  // an empty table is {}
  CHECK(j.RoundTrip(R"({"gone":null,"kept":1})") == R"({"kept":1})");
  CHECK(j.With(R"({"gone":null})", "v.gone == nil") == "true");
  CHECK(j.RoundTrip("[1,2,null]") == "[1,2]");
  CHECK(j.RoundTrip("[1,null,3]") == R"({"1":1,"3":3})");  // keys are not exactly 1..n
  CHECK(j.With("[10,20,30]", "#v") == "3");
  CHECK(j.With(R"({"k":{"n":[5]}})", "v.k.n[1]") == "5");
  // Object members come out sorted by name.
  CHECK(j.RoundTrip(R"({"b":1,"a":2,"c":{"z":1,"y":2}})") == R"({"a":2,"b":1,"c":{"y":2,"z":1}})");
}

TEST_CASE("JSON strings", "[unit]") {
  Json j;
  CHECK(j.RoundTrip(R"(["h\u00e9llo \u2713 \ud83d\ude00","tab\tquote\"back\\slash"])") ==
        "[\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\",\"tab\\tquote\\\"back\\\\slash\"]");
  CHECK(j.With(R"(["h\u00e9llo"])", "#v[1]") == "6");  // bytes, as Lua counts them
  CHECK(j.With(R"(["h\u00e9llo"])", "utf8.len(v[1])") == "5");
  CHECK(j.RoundTrip(R"(["a\u0000b"])") == R"(["a\u0000b"])");
  CHECK(j.With(R"(["a\u0000b"])", "#v[1]") == "3");
}

TEST_CASE("Lua tables to JSON", "[unit]") {
  Json j;
  CHECK(j.With("{}", "{}") == "{}");
  CHECK(j.With("{}", "{1, 2, 3}") == "[1,2,3]");
  CHECK(j.With("{}", "{a = 1, b = {c = {}}}") == R"({"a":1,"b":{"c":{}}})");
  CHECK(j.With("{}", "{[1] = 'x', y = 2}") == R"({"1":"x","y":2})");
  CHECK(j.With("{}", "{[2] = 'x', [3] = 'y'}") == R"({"2":"x","3":"y"})");
  CHECK(j.With("{}", "{[-1] = 'x', [1.5] = 'y'}") == R"({"-1":"x","1.5":"y"})");
  CHECK(j.With("{}", "{[true] = 1, [{}] = 2, ok = 3}") == R"({"ok":3})");
  CHECK(j.With("{}", "{[1] = 'int', ['1'] = 'str'}").size() == std::string(R"({"1":"int"})").size());
  SECTION("functions and other values are skipped") {
    CHECK(j.With("{}", "{f = function() end, n = 1}") == R"({"n":1})");
    CHECK(j.With("{}", "{1, tostring, 3}") == "[1,null,3]");  // in arrays: null, keeps indices
    CHECK(j.With("{}", "tostring") == "null");
    CHECK(j.With("{}", "{f = function() end}") == "{}");
  }
  SECTION("cycles and depth are cut off") {
    CHECK(j.With("{}", "local t = {a = 1} t.self = t return t") == R"({"a":1,"self":null})");
    CHECK(j.With("{}", "local t = {} for k = 1, 100 do t = {t} end return t").find("null") !=
          std::string::npos);
    Result<int> fn = j.lua->Compile("{a = {b = {c = 1}}}", "=t");
    REQUIRE(fn.ok());
    std::string error;
    REQUIRE(j.lua->Call(fn.value(), EvalScope{-1, -2, 0, nullptr}, &error) == LuaFailure::kNone);
    CHECK(j.Pop(2) == R"({"a":{"b":null}})");
  }
  SECTION("metamethods do not run") {
    CHECK(j.With("{}", "setmetatable({}, {__index = function() error('ran') end,"
                       " __pairs = function() error('ran') end})") == "{}");
  }
  SECTION("scalars") {
    CHECK(j.With("{}", "nil") == "null");
    CHECK(j.With("{}", "true") == "true");
    CHECK(j.With("{}", "'s'") == "\"s\"");
  }
  CHECK(lua_gettop(j.lua->state()) == 0);
}

TEST_CASE("PushJson under the memory cap fails cleanly", "[unit]") {
  LuaLimits limits = TestLuaLimits();
  limits.memory_limit = 256u << 10;
  Json j(limits);
  rapidjson::Document big;
  big.SetArray();
  for (int k = 0; k < 20000; ++k) {
    std::string s = "element number " + std::to_string(k);
    big.PushBack(rapidjson::Value(s.c_str(), big.GetAllocator()), big.GetAllocator());
  }
  int top = lua_gettop(j.lua->state());
  CHECK(PushJson(*j.lua, big) == LuaFailure::kMemoryLimit);
  CHECK(lua_gettop(j.lua->state()) == top);
  CHECK(j.With(R"({"still":"usable"})", "v.still") == "\"usable\"");
  // Scalars need no allocation at all.
  rapidjson::Document n;
  n.Parse("42");
  REQUIRE(PushJson(*j.lua, n) == LuaFailure::kNone);
  CHECK(j.Pop() == "42");
}

TEST_CASE("LuaScalarText writes values as tostring does", "[unit]") {
  Json j;
  lua_State* L = j.lua->state();
  std::string out;
  lua_pushinteger(L, 6);
  CHECK((LuaScalarText(L, -1, &out) && out == "6"));
  lua_pushnumber(L, 6.0);
  CHECK((LuaScalarText(L, -1, &out) && out == "6.0"));
  lua_pushnumber(L, 0.1);
  CHECK((LuaScalarText(L, -1, &out) && out == "0.1"));
  lua_pushnumber(L, 1e100);
  CHECK((LuaScalarText(L, -1, &out) && out == "1e+100"));
  lua_pushnil(L);
  CHECK((LuaScalarText(L, -1, &out) && out == "nil"));
  lua_pushboolean(L, 0);
  CHECK((LuaScalarText(L, -1, &out) && out == "false"));
  lua_pushliteral(L, "text");
  CHECK((LuaScalarText(L, -1, &out) && out == "text"));
  lua_newtable(L);
  out = "unchanged";
  CHECK_FALSE(LuaScalarText(L, -1, &out));
  CHECK(out == "unchanged");
  CHECK(lua_isinteger(L, -8));  // not converted in place
  lua_settop(L, 0);
}

}  // namespace
}  // namespace testrund::ops
