// SPDX-License-Identifier: Apache-2.0
// Problem: one thing wrong with what a client sent (a method's params, an ExecuteTest
// definition, an op's attributes). Readers collect every problem at once; the rpc layer
// turns the list into the -32602 error's `data` ([{"op_idx"?, "field", "problem"}],
// docs/api.md#error-codes), and an op that finds one while it executes aborts with its Text().
//
// A problem text never repeats its field (the message writes "field problem") and quotes
// the offending value with QuoteValue, the one way values are quoted in problems.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace testrund::ops {

struct Problem {
  int op_idx = -1;      // -1: not about one operation (e.g. `distribution.rate`)
  std::string field;    // dotted path inside the op or the params, e.g. "arguments.seconds"
  std::string problem;  // e.g. "must be an integer, got \"4x\""

  // "<field> <problem>" ("<problem>" when there is no field): the abort text of an op that
  // finds the problem while it executes.
  std::string Text() const;
};

using Problems = std::vector<Problem>;

// A short quote of a value for a problem text: strings JSON-quoted (cut after 60 bytes,
// marked "...", never inside a UTF-8 sequence), numbers as written, true, false, null,
// "an object", "an array" ("an empty object", "an empty array").
std::string QuoteValue(const rapidjson::Value& value);
// QuoteValue of a string.
std::string QuoteText(std::string_view text);

}  // namespace testrund::ops
