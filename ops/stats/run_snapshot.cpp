// SPDX-License-Identifier: Apache-2.0
// Run status names and latency summaries (see run_snapshot.h).
#include "ops/stats/run_snapshot.h"

#include <array>

namespace testrund::ops {
namespace {

constexpr std::array<std::string_view, 7> kStatusNames = {
    "running", "paused", "completed", "cancelled", "failed", "scheduled", "interrupted"};

}  // namespace

std::string_view RunStatusName(RunStatus status) {
  return kStatusNames[static_cast<size_t>(status)];
}

LatencySummary SummarizeLatency(int op_idx, const LatencyHistogram& histogram) {
  LatencySummary summary;
  summary.op_idx = op_idx;
  summary.count = histogram.count();
  summary.min = histogram.min();
  summary.max = histogram.max();
  for (size_t j = 0; j < summary.quantiles.size(); ++j) {
    summary.quantiles[j] = histogram.Percentile(kReportedQuantiles[j].q);
  }
  return summary;
}

std::optional<RunStatus> RunStatusFromName(std::string_view name) {
  for (size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == name) return static_cast<RunStatus>(i);
  }
  return std::nullopt;
}

}  // namespace testrund::ops
