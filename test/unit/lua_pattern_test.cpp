// SPDX-License-Identifier: Apache-2.0
// Lua patterns of expect.pattern (ops/lua_pattern.h): the syntax check agrees with Lua's
// rules, the shape counts what may backtrack, and matching runs in a real sandbox.
#include "ops/lua_pattern.h"

#include <catch2/catch.hpp>
#include <lua.hpp>
#include <string>

#include "ops/lua_sandbox.h"

using testrund::ops::LuaSandbox;
using testrund::ops::MatchPattern;
using testrund::ops::PatternProblem;
using testrund::ops::PatternResult;
using testrund::ops::PatternShape;
using testrund::ops::PatternSteps;

namespace {

std::string Problem(std::string_view pattern) {
  PatternShape shape;
  return PatternProblem(pattern, &shape);
}

}  // namespace

TEST_CASE("PatternProblem accepts well-formed patterns and counts their repetitions") {
  PatternShape shape;
  CHECK(PatternProblem("^(%d+)-(%a*)x?", &shape).empty());
  CHECK(shape.anchored);
  CHECK(shape.repeats == 2);  // the '-' after ')' is a literal
  CHECK(shape.optionals == 1);
  CHECK(PatternProblem("[]]", &shape).empty());
  CHECK(PatternProblem("[^]]+", &shape).empty());
  CHECK(shape.repeats == 1);
  CHECK_FALSE(shape.anchored);
  CHECK(PatternProblem("%b()%f[%w]%w-", &shape).empty());
  CHECK(shape.repeats == 1);
  CHECK(PatternProblem("(a)%1()", &shape).empty());
  CHECK(PatternProblem("[%]]%%$", &shape).empty());
  CHECK(PatternProblem("", &shape).empty());
}

TEST_CASE("PatternProblem names what Lua would reject") {
  CHECK(Problem("%") == "malformed pattern (ends with '%')");
  CHECK(Problem("[a") == "malformed pattern (missing ']')");
  CHECK(Problem("[a%") == "malformed pattern (missing ']')");
  CHECK(Problem("[^") == "malformed pattern (missing ']')");
  CHECK(Problem("((a)") == "unfinished capture");
  CHECK(Problem("a)") == "invalid pattern capture");
  CHECK(Problem("%1") == "invalid capture index %1 in pattern");
  CHECK(Problem("(a%1)") == "invalid capture index %1 in pattern");
  CHECK(Problem("%0") == "invalid capture index %0 in pattern");
  CHECK(Problem("%b(") == "missing arguments to '%b'");
  CHECK(Problem("%fa") == "missing '[' after '%f' in pattern");
  CHECK(Problem("%f[a") == "malformed pattern (missing ']')");
  CHECK(Problem(std::string(33, '(') + std::string(33, ')')) == "too many captures");
}

TEST_CASE("PatternSteps: positions times one factor per repetition") {
  CHECK(PatternSteps(PatternShape{true, 0, 0}, 100) == 1);
  CHECK(PatternSteps(PatternShape{false, 0, 0}, 9) == 10);
  CHECK(PatternSteps(PatternShape{false, 1, 0}, 9) == 100);
  CHECK(PatternSteps(PatternShape{true, 2, 3}, 9) == 800);
}

TEST_CASE("MatchPattern runs string.find in the sandbox, within the bound") {
  auto lua = LuaSandbox::Create(testrund::ops::LuaLimits(), "r", 1);
  REQUIRE(lua.ok());
  LuaSandbox& sandbox = *lua.value();
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
