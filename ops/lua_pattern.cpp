// SPDX-License-Identifier: Apache-2.0
// Lua pattern checks, cost bound and matching (see lua_pattern.h). The syntax rules follow
// the Lua 5.4 reference manual, §6.4.1 "Patterns".
#include "ops/lua_pattern.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/lua_sandbox.h"

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

std::string PatternProblem(std::string_view p, PatternShape* shape) {
  *shape = PatternShape();
  size_t i = 0;
  if (!p.empty() && p[0] == '^') {
    shape->anchored = true;
    i = 1;
  }
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
        if (i + 3 >= p.size()) return "missing arguments to '%b'";
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
          return fmt::format("invalid capture index %{} in pattern", e);
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
    if (i < p.size()) {
      if (p[i] == '*' || p[i] == '+' || p[i] == '-') {
        ++shape->repeats;
        ++i;
      } else if (p[i] == '?') {
        ++shape->optionals;
        ++i;
      }
    }
  }
  for (bool done : closed) {
    if (!done) return "unfinished capture";
  }
  return "";
}

double PatternSteps(const PatternShape& shape, size_t subject_length) {
  double positions = static_cast<double>(subject_length) + 1;
  return (shape.anchored ? 1 : positions) * std::pow(positions, shape.repeats) *
         std::pow(2.0, shape.optionals);
}

namespace {

struct FindArgs {
  std::string_view subject;
  std::string_view pattern;
  bool found = false;
};

// string.find through the sandbox's own string library (the string metatable's __index).
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

PatternResult MatchPattern(LuaSandbox& lua, std::string_view subject, std::string_view pattern,
                           std::string* error) {
  PatternShape shape;
  std::string problem = PatternProblem(pattern, &shape);
  if (!problem.empty()) {
    *error = problem;
    return PatternResult::kError;
  }
  if (PatternSteps(shape, subject.size()) > kMaxPatternSteps) return PatternResult::kTooCostly;
  lua_State* L = lua.state();
  FindArgs args{subject, pattern};
  lua_pushcfunction(L, FindProtected);
  lua_pushlightuserdata(L, &args);
  int status = lua_pcall(L, 1, 0, 0);
  if (status == LUA_OK) return args.found ? PatternResult::kMatch : PatternResult::kNoMatch;
  *error = status == LUA_ERRMEM || lua_type(L, -1) != LUA_TSTRING
               ? fmt::format("Lua memory limit ({} bytes) exceeded", lua.limits().memory_limit)
               : std::string(lua_tostring(L, -1));
  lua_pop(L, 1);
  if (status == LUA_ERRMEM) lua.CollectGarbage();
  return PatternResult::kError;
}

}  // namespace testrund::ops
