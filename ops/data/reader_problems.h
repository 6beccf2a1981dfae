// SPDX-License-Identifier: Apache-2.0
// What the CSV and JSON rows readers say the same way: the byte limit, counted nouns, a
// cap on problems of one kind, so that a million bad rows make six problems, not a million
// (the first five, then "and N more rows ..."), and the error that carries them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/status.h"

namespace testrund::ops {

// "{bytes} bytes, over max_data_bytes ({max})".
std::string OverMaxBytes(uint64_t bytes, uint64_t max);

// "1 field", "3 fields": `count` and `noun`, with an "s" unless count is 1.
std::string Counted(uint64_t count, std::string_view noun);

// Things (rows, columns) with one kind of problem: the first kShown are described, the
// rest counted.
class CappedProblems {
 public:
  static constexpr uint64_t kShown = 5;

  // `noun` and `what` make the final sentence: "row", "of the wrong length" -> "and 3 more
  // rows of the wrong length".
  CappedProblems(std::vector<std::string>* problems, std::string_view noun, std::string_view what)
      : problems_(problems), noun_(noun), what_(what) {}

  // Counts one; `describe()` makes its problem text, called only for the first kShown.
  template <typename Describe>
  void Add(Describe describe) {
    if (count_++ < kShown) problems_->push_back(describe());
  }
  // Adds "and N more <noun>s <what>" when more than kShown were counted.
  void Finish();

 private:
  std::vector<std::string>* problems_;
  std::string_view noun_;
  std::string_view what_;
  uint64_t count_ = 0;
};

// The error a reader returns with the problems it added (problems[first] on): their
// sentences joined by "; ".
Status ProblemsError(const std::vector<std::string>& problems, size_t first);

}  // namespace testrund::ops
