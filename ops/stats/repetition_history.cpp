// SPDX-License-Identifier: Apache-2.0
// The repetitions of a repeating run (see repetition_history.h).
#include "ops/stats/repetition_history.h"

#include <utility>

namespace testrund::ops {

std::string_view RepetitionStatusName(RepetitionStatus status) {
  switch (status) {
    case RepetitionStatus::kCompleted:
      return "completed";
    case RepetitionStatus::kFailed:
      return "failed";
    case RepetitionStatus::kCancelled:
      return "cancelled";
    case RepetitionStatus::kSkipped:
      return "skipped";
    case RepetitionStatus::kInterrupted:
      return "interrupted";
  }
  return "completed";
}

RepetitionSummary SummarizeRepetition(uint64_t repetition, const RunSnapshot& s) {
  RepetitionSummary summary;
  summary.repetition = repetition;
  summary.status = s.status == RunStatus::kFailed      ? RepetitionStatus::kFailed
                   : s.status == RunStatus::kCancelled ? RepetitionStatus::kCancelled
                                                       : RepetitionStatus::kCompleted;
  summary.status_reason = s.status_reason;
  summary.start = s.time_start;
  summary.end = s.time_finish;
  summary.counts = s.counts;
  for (const ThresholdResult& r : s.thresholds) {
    summary.thresholds.push_back(ThresholdVerdict{ThresholdText(r.threshold), r.ok, r.value});
  }
  return summary;
}

void RepetitionHistory::Add(RepetitionSummary summary) {
  kept_.push_back(std::move(summary));
  if (kept_.size() > kKeptRepetitions) {
    kept_.pop_front();
    ++older_;
  }
}

}  // namespace testrund::ops
