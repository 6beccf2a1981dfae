// SPDX-License-Identifier: Apache-2.0
// The problem texts the data readers share (see reader_problems.h).
#include "ops/data/reader_problems.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace testrund::ops {

std::string OverMaxBytes(uint64_t bytes, uint64_t max) {
  return fmt::format("{} bytes, over max_data_bytes ({})", bytes, max);
}

std::string Counted(uint64_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

void CappedProblems::Finish() {
  if (count_ <= kShown) return;
  uint64_t more = count_ - kShown;
  problems_->push_back(
      fmt::format("and {} more {}{} {}", more, noun_, more == 1 ? "" : "s", what_));
}

Status ProblemsError(const std::vector<std::string>& problems, size_t first) {
  auto begin = problems.begin() + static_cast<std::ptrdiff_t>(first);
  return Status::Error(fmt::format("{}", fmt::join(begin, problems.end(), "; ")));
}

}  // namespace testrund::ops
