// SPDX-License-Identifier: Apache-2.0
// Lua patterns of `expect.pattern` (tcp.receive, udp.receive): a syntax check at
// ExecuteTest time, and matching in the run's sandbox with a bounded cost.
//
// Why a bound: Lua's pattern matcher is C code, so the sandbox's instruction budget cannot
// interrupt it, and a backtracking pattern on a long subject can take time exponential in
// its number of repetition items. The bound is the one every string.find of an expression
// gets (ops/lua/lua_pattern_cost.h, LuaSandbox::pattern_step_budget): a match whose estimated
// worst case exceeds it is not attempted, and the expectation fails with a text that says
// so. Allocations made by the match count against the run's Lua memory limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace testrund::ops {

class LuaSandbox;

// Checks `pattern` as Lua 5.4's string.find would. Returns "" when it is well formed (or
// has no special characters: then it is plain text), else Lua's text for the problem, e.g.
// "malformed pattern (missing ']')", "unfinished capture", "invalid capture index %2".
std::string PatternProblem(std::string_view pattern);

enum class PatternResult { kMatch, kNoMatch, kTooCostly, kError };

// string.find(subject, pattern) in `lua` (the run's sandbox), unless the estimate exceeds
// lua.pattern_step_budget() (kTooCostly). kError: *error holds Lua's message (a malformed
// pattern given through a `{...}` value, or the run's memory limit).
PatternResult MatchPattern(LuaSandbox& lua, std::string_view subject, std::string_view pattern,
                           std::string* error);

}  // namespace testrund::ops
