// SPDX-License-Identifier: Apache-2.0
// The pattern cost bound (see lua_pattern_cost.h). The item syntax and the character classes
// follow the Lua 5.4 manual, §6.4.1 "Patterns".
#include "ops/lua/lua_pattern_cost.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace testrund::ops {
namespace {

constexpr double kSaturated = 1e300;
constexpr size_t kMaxLiteralPrefix = 16;
constexpr std::string_view kSpecials = "^$*+?.([%-";

double Times(double a, double b) { return std::min(a * b, kSaturated); }

// `%c` with a letter: does byte `ch` belong to the class? (Upper case: the complement.)
bool InLetterClass(unsigned char ch, unsigned char letter) {
  bool in;
  switch (std::tolower(letter)) {
    case 'a': in = std::isalpha(ch); break;
    case 'c': in = std::iscntrl(ch); break;
    case 'd': in = std::isdigit(ch); break;
    case 'g': in = std::isgraph(ch); break;
    case 'l': in = std::islower(ch); break;
    case 'p': in = std::ispunct(ch); break;
    case 's': in = std::isspace(ch); break;
    case 'u': in = std::isupper(ch); break;
    case 'w': in = std::isalnum(ch); break;
    case 'x': in = std::isxdigit(ch); break;
    default: return letter == ch;  // `%` before a non-class letter: that letter
  }
  return std::isupper(letter) ? !in : in;
}

// Does `ch` match the set `[...]` whose text (brackets included) is `set`?
bool InSet(unsigned char ch, std::string_view set) {
  size_t i = 1;
  size_t end = set.size() - 1;  // the closing ']'
  bool negate = i < end && set[i] == '^';
  if (negate) ++i;
  bool found = false;
  while (i < end) {
    auto c = static_cast<unsigned char>(set[i]);
    if (c == '%' && i + 1 < end) {
      found = found || InLetterClass(ch, static_cast<unsigned char>(set[i + 1]));
      i += 2;
    } else if (i + 2 < end && set[i + 1] == '-') {
      found = found || (c <= ch && ch <= static_cast<unsigned char>(set[i + 2]));
      i += 3;
    } else {
      found = found || c == ch;
      ++i;
    }
  }
  return negate ? !found : found;
}

// Does `ch` match the single-character class `cls` (`.`, `%x`, `[...]` or a literal)?
bool InClass(unsigned char ch, std::string_view cls) {
  if (cls == ".") return true;
  if (cls[0] == '%') return InLetterClass(ch, static_cast<unsigned char>(cls[1]));
  if (cls[0] == '[') return InSet(ch, cls);
  return static_cast<unsigned char>(cls[0]) == ch;
}

// The longest run of subject bytes in class `cls`.
size_t LongestRun(std::string_view subject, std::string_view cls) {
  if (cls == ".") return subject.size();
  size_t best = 0;
  size_t run = 0;
  for (char c : subject) {
    run = InClass(static_cast<unsigned char>(c), cls) ? run + 1 : 0;
    best = std::max(best, run);
  }
  return best;
}

// The end of the single-character class starting at `p[i]`; npos when malformed.
size_t ClassEnd(std::string_view p, size_t i) {
  if (p[i] == '%') return i + 2 <= p.size() ? i + 2 : std::string_view::npos;
  if (p[i] != '[') return i + 1;
  size_t j = i + 1;
  if (j < p.size() && p[j] == '^') ++j;
  // The first character of a set is literal, even ']' (as in Lua).
  do {
    if (j >= p.size()) return std::string_view::npos;
    if (p[j++] == '%') ++j;
  } while (j >= p.size() || p[j] != ']');
  return j + 1;
}

size_t Occurrences(std::string_view subject, std::string_view needle) {
  size_t count = 0;
  for (size_t at = subject.find(needle); at != std::string_view::npos;
       at = subject.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

double PlainSteps(std::string_view subject, std::string_view needle) {
  double n = static_cast<double>(subject.size());
  if (needle.empty()) return n + 1;
  size_t first = static_cast<size_t>(std::count(subject.begin(), subject.end(), needle[0]));
  return Times(static_cast<double>(first), static_cast<double>(needle.size())) + n + 1;
}

struct PatternShape {
  bool anchored = false;
  std::string prefix;    // leading literal characters
  double per_start = 1;  // Π factors
  double items = 0;
  double scanned = 0;    // subject bytes the estimate itself has examined
};

enum class ShapeResult { kOk, kMalformed, kOverBudget };

// Walks the pattern's items. Stops with kOverBudget as soon as the bound or the estimate's own
// work exceeds `budget`.
ShapeResult Shape(std::string_view subject, std::string_view p, PatternCall call, double budget,
                  PatternShape* shape) {
  double all = static_cast<double>(subject.size()) + 1;
  size_t i = 0;
  if (call != PatternCall::kGmatch && !p.empty() && p[0] == '^') {
    shape->anchored = true;
    i = 1;
  }
  bool in_prefix = true;
  while (i < p.size()) {
    if (shape->per_start > budget || shape->scanned > budget) return ShapeResult::kOverBudget;
    shape->items += 1;
    char c = p[i];
    if (c == '(' || c == ')') {  // captures are zero-width
      ++i;
      continue;
    }
    if (c == '$' && i + 1 == p.size()) break;
    if (c == '%' && i + 1 < p.size() && (p[i + 1] == 'b' || p[i + 1] == 'f' ||
                                          std::isdigit(static_cast<unsigned char>(p[i + 1])))) {
      in_prefix = false;
      if (p[i + 1] == 'b') {
        if (i + 4 > p.size()) return ShapeResult::kMalformed;
        shape->per_start = Times(shape->per_start, all);
        i += 4;
      } else if (p[i + 1] == 'f') {
        if (i + 2 >= p.size() || p[i + 2] != '[') return ShapeResult::kMalformed;
        size_t end = ClassEnd(p, i + 2);
        if (end == std::string_view::npos) return ShapeResult::kMalformed;
        i = end;
      } else {
        shape->per_start = Times(shape->per_start, all);
        i += 2;
      }
      continue;
    }
    size_t end = ClassEnd(p, i);
    if (end == std::string_view::npos) return ShapeResult::kMalformed;
    std::string_view cls = p.substr(i, end - i);
    char quantifier = end < p.size() ? p[end] : '\0';
    if (quantifier == '*' || quantifier == '+' || quantifier == '-') {
      in_prefix = false;
      double run = static_cast<double>(LongestRun(subject, cls));
      shape->scanned += all;
      shape->per_start = Times(shape->per_start, run + 1);
      i = end + 1;
      continue;
    }
    if (quantifier == '?') {
      in_prefix = false;
      shape->per_start = Times(shape->per_start, 2);
      i = end + 1;
      continue;
    }
    bool literal = cls.size() == 1 ? cls != "."
                                   : cls[0] == '%' &&
                                         !std::isalnum(static_cast<unsigned char>(cls[1]));
    if (in_prefix && literal && shape->prefix.size() < kMaxLiteralPrefix) {
      shape->prefix.push_back(cls.back());
    } else {
      in_prefix = false;
    }
    i = end;
  }
  return shape->per_start > budget ? ShapeResult::kOverBudget : ShapeResult::kOk;
}

}  // namespace

bool IsPlainPattern(std::string_view pattern) {
  return pattern.find_first_of(kSpecials) == std::string_view::npos;
}

double EstimatePatternSteps(std::string_view subject, std::string_view pattern, PatternCall call,
                            bool plain, double budget) {
  double n = static_cast<double>(subject.size());
  if (n + 1 > budget) return n + 1;
  if (call == PatternCall::kFind && (plain || IsPlainPattern(pattern))) {
    return PlainSteps(subject, pattern);
  }
  PatternShape shape;
  switch (Shape(subject, pattern, call, budget, &shape)) {
    case ShapeResult::kOk:
      break;
    case ShapeResult::kOverBudget:
      return kSaturated;
    case ShapeResult::kMalformed: {
      // Price every item as a full expansion.
      double bound = n + 1;
      for (size_t k = 0; k < pattern.size() && bound <= budget; ++k) bound = Times(bound, n + 1);
      return bound;
    }
  }
  double starts = shape.anchored         ? 1
                  : shape.prefix.empty() ? n + 1
                                         : static_cast<double>(Occurrences(subject, shape.prefix));
  double steps = Times(Times(starts, shape.per_start), std::max(shape.items, 1.0));
  return std::max(steps, n + 1);
}

}  // namespace testrund::ops
