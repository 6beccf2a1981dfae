// SPDX-License-Identifier: Apache-2.0
// Run status names (see run_snapshot.h).
#include "ops/stats/run_snapshot.h"

#include <array>

namespace testrund::ops {
namespace {

constexpr std::array<std::string_view, 6> kStatusNames = {"running",   "paused", "completed",
                                                          "cancelled", "failed", "scheduled"};

}  // namespace

std::string_view RunStatusName(RunStatus status) {
  return kStatusNames[static_cast<size_t>(status)];
}

std::optional<RunStatus> RunStatusFromName(std::string_view name) {
  for (size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == name) return static_cast<RunStatus>(i);
  }
  return std::nullopt;
}

}  // namespace testrund::ops
