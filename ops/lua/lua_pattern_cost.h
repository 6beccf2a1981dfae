// SPDX-License-Identifier: Apache-2.0
// An upper bound on the work of one Lua pattern call (string.find, match, gmatch, gsub), so
// that the sandbox can refuse a call before it starts. Lua's matcher is C code: the
// instruction-count hook never fires inside it, and a backtracking pattern on a long subject
// (`('a'):rep(1e5):find('a*b')` is n²/2 steps; every further `*` multiplies by n) would stall
// the daemon's single thread for seconds or hours.
//
// The bound, in matcher steps:
//   starts × Π(factor of each item) × items, and at least the subject's length, where
//   - starts: 1 when the pattern is anchored (`^`); else the number of places where the
//     pattern's literal prefix (its leading plain characters, at most 16) occurs in the
//     subject; else every position (subject length + 1);
//   - factor: for a `*`, `+` or `-` item, 1 + the longest run of subject bytes its class
//     matches (that bounds how far it can expand from any position); 2 for `?`; subject
//     length + 1 for `%b` and back-references (each is a scan); 1 for everything else;
//   - items: the number of pattern items.
// A plain search (string.find's `plain`, or a pattern without special characters) is bounded
// by (occurrences of its first byte) × its length + the subject's length.
// A pattern this parser does not understand (malformed) is priced as if every item expanded
// over the whole subject; Lua itself then reports the malformation.
#pragma once

#include <string_view>

namespace testrund::ops {

enum class PatternCall {
  kFind,    // string.find: `^` anchors; plain search possible
  kMatch,   // string.match, string.gsub: `^` anchors
  kGmatch,  // string.gmatch: `^` does not anchor (Lua 5.4 iterates anyway)
};

// The bound above. Stops early and returns something over `budget` (up to 1e300) as soon as
// the bound is known to exceed it, so that the estimate itself examines at most about
// 2 × budget subject bytes.
double EstimatePatternSteps(std::string_view subject, std::string_view pattern, PatternCall call,
                            bool plain, double budget);

// Whether `pattern` has none of Lua's special characters, so that string.find matches it as
// plain text (and accepts any such text, `a)` included).
bool IsPlainPattern(std::string_view pattern);

}  // namespace testrund::ops
