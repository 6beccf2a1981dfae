// SPDX-License-Identifier: Apache-2.0
// Lua patterns of `expect.pattern` (tcp.receive, udp.receive): a syntax check at
// ExecuteTest time, and matching in the run's sandbox with a bounded cost.
//
// Why a bound: Lua's pattern matcher is C code, so the sandbox's instruction budget cannot
// interrupt it, and a backtracking pattern on a long subject can take time exponential in
// its number of repetition items. Before matching, the worst case is estimated from the
// pattern's shape: every `*`, `+` or `-` item may retry at each of the subject's n + 1
// positions, every `?` item twice, and an unanchored pattern is tried from each position:
//     steps = (anchored ? 1 : n + 1) * (n + 1)^(number of * + -) * 2^(number of ?)
// A match whose bound exceeds kMaxPatternSteps is not attempted; the expectation fails
// with a text that says so. Allocations made by the match count against the run's Lua
// memory limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace testrund::ops {

class LuaSandbox;

// The largest estimated number of matcher steps a pattern may cost (about 0.1 s at worst).
constexpr double kMaxPatternSteps = 1e8;

struct PatternShape {
  bool anchored = false;  // starts with '^'
  int repeats = 0;        // `*`, `+` and `-` items
  int optionals = 0;      // `?` items
};

// Checks `pattern` as Lua 5.4 would when matching it. Returns "" when it is well formed
// (and fills *shape), else Lua's text for the problem, e.g. "malformed pattern (missing
// ']')", "unfinished capture", "invalid capture index %2 in pattern".
std::string PatternProblem(std::string_view pattern, PatternShape* shape);

// The worst-case step estimate for matching `shape` against `subject_length` bytes.
double PatternSteps(const PatternShape& shape, size_t subject_length);

enum class PatternResult { kMatch, kNoMatch, kTooCostly, kError };

// string.find(subject, pattern) in `lua` (the run's sandbox), unless the estimate exceeds
// kMaxPatternSteps (kTooCostly). kError: *error holds Lua's message (a malformed pattern
// given through a `{...}` value, or the run's memory limit).
PatternResult MatchPattern(LuaSandbox& lua, std::string_view subject, std::string_view pattern,
                           std::string* error);

}  // namespace testrund::ops
