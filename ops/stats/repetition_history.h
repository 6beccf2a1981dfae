// SPDX-License-Identifier: Apache-2.0
// The finished repetitions of a repeating run (ExecuteTest `repeat`, docs/api.md#repeat), one
// RepetitionSummary each (ops/stats/run_snapshot.h). A history keeps the last
// kKeptRepetitions and counts the older ones, so a run repeated every minute for a year stays
// small.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "ops/stats/run_snapshot.h"

namespace testrund::ops {

// The summary of a repetition that ran, from its final snapshot (completed, failed or
// cancelled).
RepetitionSummary SummarizeRepetition(uint64_t repetition, const RunSnapshot& final_snapshot);

class RepetitionHistory {
 public:
  static constexpr size_t kKeptRepetitions = 100;

  // A history as saved: `kept` oldest first, `older` dropped before them.
  static RepetitionHistory FromState(const std::vector<RepetitionSummary>& kept,
                                     uint64_t older) {
    RepetitionHistory history;
    history.kept_.assign(kept.begin(), kept.end());
    history.older_ = older;
    return history;
  }

  void Add(RepetitionSummary summary);
  // `n` repetitions that ended before every kept one, summarized by their count alone.
  void AddDropped(uint64_t n) { older_ += n; }
  // The kept summaries, oldest first.
  const std::deque<RepetitionSummary>& kept() const { return kept_; }
  // Summaries dropped to keep the last kKeptRepetitions.
  uint64_t older() const { return older_; }
  // Every repetition recorded so far, dropped ones included.
  uint64_t total() const { return older_ + kept_.size(); }

 private:
  std::deque<RepetitionSummary> kept_;
  uint64_t older_ = 0;
};

}  // namespace testrund::ops
