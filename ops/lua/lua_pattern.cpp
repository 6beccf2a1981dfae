// SPDX-License-Identifier: Apache-2.0
// Lua pattern checks, cost bound and matching (see lua_pattern.h). The syntax rules follow
// the Lua 5.4 reference manual, §6.4.1 "Patterns".
#include "ops/lua/lua_pattern.h"

#include <vector>

#include <fmt/format.h>

#include "ops/lua/lua_pattern_cost.h"
#include "ops/lua/lua_sandbox.h"

namespace testrund::ops {
namespace {

constexpr int kMaxCaptures = 32;  // LUA_MAXCAPTURES

// The index just past the set that starts at `at` (just after its '['), or npos.
size_t SetEnd(std::string_view p, size_t at) {
  if (at < p.size() && p[at] == '^') ++at;
  // The first character is part of the set even when it is ']'.
  do {
    if (at >= p.size()) return std::string_view::npos;
    char c = p[at++];
    if (c == '%') {
      if (at >= p.size()) return std::string_view::npos;
      ++at;
    }
  } while (at >= p.size() || p[at] != ']');
  return at + 1;
}

}  // namespace

std::string PatternProblem(std::string_view p) {
  if (IsPlainPattern(p)) return "";  // string.find searches it as plain text
  size_t i = 0;
  if (!p.empty() && p[0] == '^') i = 1;
  std::vector<bool> closed;  // per capture, in order of their '('
  while (i < p.size()) {
    char c = p[i];
    if (c == '(') {
      if (closed.size() >= kMaxCaptures) return "too many captures";
      closed.push_back(false);
      ++i;
      continue;
    }
    if (c == ')') {
      size_t open = closed.size();
      while (open > 0 && closed[open - 1]) --open;
      if (open == 0) return "invalid pattern capture";
      closed[open - 1] = true;
      ++i;
      continue;
    }
    size_t item_end = i + 1;
    if (c == '%') {
      if (i + 1 >= p.size()) return "malformed pattern (ends with '%')";
      char e = p[i + 1];
      if (e == 'b') {
        if (i + 3 >= p.size()) return "malformed pattern (missing arguments to '%b')";
        i += 4;
        continue;
      }
      if (e == 'f') {
        if (i + 2 >= p.size() || p[i + 2] != '[') return "missing '[' after '%f' in pattern";
        size_t end = SetEnd(p, i + 3);
        if (end == std::string_view::npos) return "malformed pattern (missing ']')";
        i = end;
        continue;
      }
      if (e >= '0' && e <= '9') {
        size_t index = static_cast<size_t>(e - '1');
        if (e == '0' || index >= closed.size() || !closed[index]) {
          return fmt::format("invalid capture index %{}", e);
        }
        i += 2;
        continue;
      }
      item_end = i + 2;
    } else if (c == '[') {
      item_end = SetEnd(p, i + 1);
      if (item_end == std::string_view::npos) return "malformed pattern (missing ']')";
    }
    // A single-character class, maybe repeated.
    i = item_end;
    if (i < p.size() && (p[i] == '*' || p[i] == '+' || p[i] == '-' || p[i] == '?')) ++i;
  }
  for (bool done : closed) {
    if (!done) return "unfinished capture";
  }
  return "";
}

PatternResult MatchPattern(LuaSandbox& lua, std::string_view subject, std::string_view pattern,
                           std::string* error) {
  std::string problem = PatternProblem(pattern);
  if (!problem.empty()) {
    *error = problem;
    return PatternResult::kError;
  }
  double budget = lua.pattern_step_budget();
  if (EstimatePatternSteps(subject, pattern, PatternCall::kFind, false, budget) > budget) {
    return PatternResult::kTooCostly;
  }
  bool found = false;
  if (lua.Find(subject, pattern, &found, error) != LuaFailure::kNone) {
    return PatternResult::kError;
  }
  return found ? PatternResult::kMatch : PatternResult::kNoMatch;
}

}  // namespace testrund::ops
