// SPDX-License-Identifier: Apache-2.0
// Problem: one thing wrong with an ExecuteTest definition. Validation collects every
// problem at once; the rpc layer turns the list into the -32602 error's `data`
// (`{"op_idx"?, "field", "problem"}`, SPEC §2).
#pragma once

#include <string>
#include <vector>

namespace testrund::ops {

struct Problem {
  int op_idx = -1;      // -1: not about one operation (e.g. `distribution.rate`)
  std::string field;    // dotted path inside the op or the params, e.g. "arguments.seconds"
  std::string problem;  // a sentence quoting the offending value
};

using Problems = std::vector<Problem>;

}  // namespace testrund::ops
