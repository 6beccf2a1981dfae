// SPDX-License-Identifier: Apache-2.0
// What state_dir keeps of a run's webhook reporters (docs/decisions.md, "State that survives
// the daemon"): each reporter's outcome so far and the reports still pending, with their
// bodies, so that after a restart RunReporters (run_reporters.h) sends them again, their
// attempts counting on from the saved number. run_state.h writes and reads them as the run
// file's "reporters" member.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/report/reporter_spec.h"

namespace testrund::daemon {

// One report not yet sent or given up.
struct SavedReport {
  ops::ReportEvent event = ops::ReportEvent::kFinal;
  std::string body;         // the JSON text posted
  int failed_attempts = 0;  // attempts that had failed (an attempt cut by the stop is not one)
  std::string last_error;
};

// One reporter of the run, in the order of ExecuteTest's `reporters`.
struct SavedReporter {
  // The newest settled report's outcome: "idle" (none yet), "sent" or "failed".
  std::string state = "idle";
  int attempts = 0;
  std::string last_error;
  uint64_t sent = 0;
  uint64_t failed = 0;
  std::vector<SavedReport> pending;  // oldest first
  bool newest_pending = false;       // the newest report is pending.back(), not the settled one
};

}  // namespace testrund::daemon
