// SPDX-License-Identifier: Apache-2.0
// Lua patterns of expect.pattern (ops/lua/lua_pattern.h): the syntax check agrees with Lua's
// rules, and matching runs in a real sandbox within the sandbox's pattern budget.
#include "ops/lua/lua_pattern.h"

#include <catch2/catch.hpp>
#include <lua.hpp>
#include <string>

#include "ops/lua/lua_sandbox.h"
#include "test/unit/lua_test_util.h"
#include "test/fakes/test_limits.h"

using testrund::ops::LuaSandbox;
using testrund::ops::MatchPattern;
using testrund::ops::PatternProblem;
using testrund::ops::PatternResult;
using testrund::ops::testing::LuaFindError;

namespace {

std::string Problem(std::string_view pattern) { return PatternProblem(pattern); }

}  // namespace

TEST_CASE("PatternProblem accepts well-formed patterns") {
  for (const char* pattern : {"^(%d+)-(%a*)x?", "[]]", "[^]]+", "%b()%f[%w]%w-", "(a)%1()",
                              "[%]]%%$", ""}) {
    INFO(pattern);
    CHECK(Problem(pattern).empty());
  }
}

TEST_CASE("PatternProblem names what Lua would reject, in Lua's words") {
  const std::string too_many = std::string(33, '(') + std::string(33, ')');
  const std::pair<std::string, std::string> cases[] = {
      {"%", "malformed pattern (ends with '%')"},
      {"[a", "malformed pattern (missing ']')"},
      {"[a%", "malformed pattern (missing ']')"},
      {"[^", "malformed pattern (missing ']')"},
      {"((a)", "unfinished capture"},
      {"(a))", "invalid pattern capture"},
      {"%1", "invalid capture index %1"},
      {"%1(a)", "invalid capture index %1"},
      {"(a%1)", "invalid capture index %1"},
      {"%0", "invalid capture index %0"},
      {"%b(", "malformed pattern (missing arguments to '%b')"},
      {"%fa", "missing '[' after '%f' in pattern"},
      {"%f[a", "malformed pattern (missing ']')"},
      {too_many, "too many captures"},
  };
  for (const auto& [pattern, problem] : cases) {
    INFO(pattern);
    CHECK(Problem(pattern) == problem);
    CHECK(LuaFindError("xa", pattern) == problem);
  }
}

TEST_CASE("PatternProblem accepts text without special characters, as string.find does") {
  // string.find searches such a pattern as plain text, so a lone ')' or ']' is no error.
  for (const char* pattern : {"a)", ")", "a]", "}{"}) {
    INFO(pattern);
    CHECK(Problem(pattern).empty());
    CHECK(LuaFindError("xa", pattern).empty());
  }
}

TEST_CASE("MatchPattern runs string.find in the sandbox, within the bound") {
  auto lua = testrund::ops::testing::NewSandbox(testrund::test::TestLuaLimits(), "r", 1);
  LuaSandbox& sandbox = *lua;
  std::string error;
  CHECK(MatchPattern(sandbox, "hello", "^h.-o$", &error) == PatternResult::kMatch);
  CHECK(MatchPattern(sandbox, "hello", "x", &error) == PatternResult::kNoMatch);
  CHECK(MatchPattern(sandbox, "x(a(b))y", "%b()", &error) == PatternResult::kMatch);
  CHECK(MatchPattern(sandbox, std::string("a\0b", 3), "%z?b$", &error) == PatternResult::kMatch);
  CHECK(MatchPattern(sandbox, "[x", "[a", &error) == PatternResult::kError);
  CHECK(error == "malformed pattern (missing ']')");
  std::string long_subject(2000, 'a');
  CHECK(MatchPattern(sandbox, long_subject, "(.-)x(.-)y", &error) == PatternResult::kTooCostly);
  CHECK(MatchPattern(sandbox, long_subject, "^(a+)$", &error) == PatternResult::kMatch);
  CHECK(lua_gettop(sandbox.state()) == 0);
}

TEST_CASE("MatchPattern has a budget of its own, whatever the last evaluation spent") {
  auto lua = testrund::ops::testing::NewSandbox(testrund::test::TestLuaLimits(), "r", 1);
  LuaSandbox& sandbox = *lua;
  CHECK(sandbox.pattern_step_budget() == 10.0 * 1'000'000);
  // An evaluation that spends most of its pattern budget: 1701 starts × 1701 × 2 items,
  // about 5.8 million steps, twice of which would be over it.
  auto fn = sandbox.Compile("local s = ('a'):rep(1700) return s:find('a-b') == nil", "spend");
  REQUIRE(fn.ok());
  int v_ref = sandbox.NewInstanceVars();
  uint64_t rng = 1;
  std::string error;
  REQUIRE(sandbox.Call(fn.value(), testrund::ops::EvalScope{v_ref, LUA_NOREF, 0, &rng},
                       &error) == testrund::ops::LuaFailure::kNone);
  CHECK(lua_toboolean(sandbox.state(), -1));
  lua_pop(sandbox.state(), 1);
  std::string subject(1700, 'a');
  CHECK(MatchPattern(sandbox, subject, "a-b", &error) == PatternResult::kNoMatch);
  CHECK(lua_gettop(sandbox.state()) == 0);
}
