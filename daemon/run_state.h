// SPDX-License-Identifier: Apache-2.0
// A run's state_dir file (docs/decisions.md, "State that survives the daemon"): what the
// registry holds of a run, as the JSON text StateStore saves, and read back. Reading checks
// every member it uses, so a file that parses but was not written by this code is refused
// with the member named (and moved aside by the caller), never half restored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "daemon/saved_reports.h"
#include "ops/base/clock.h"
#include "ops/base/status.h"
#include "ops/run_series.h"

namespace testrund::daemon {

struct SavedRun {
  std::string run_id;
  rapidjson::Document params;  // the accepted ExecuteTest params, with the run_id
  uint32_t restarts = 0;
  ops::SeriesState series;
  rapidjson::Document result;  // the current repetition's QueryTest object at the save
  ops::WallTime saved_at;
  std::vector<SavedReporter> reporters;  // empty: the run has none (or the file predates them)
};

// The file's text (format 1); "reporters" only when `reporters` is not empty.
std::string SavedRunText(const std::string& run_id, const rapidjson::Value& params,
                         uint32_t restarts, const ops::SeriesState& series,
                         const rapidjson::Value& result, ops::WallTime saved_at,
                         const std::vector<SavedReporter>& reporters = {});

// `state` read back; an error names the first member that is missing or wrong.
Result<SavedRun> ReadSavedRun(const rapidjson::Value& state);

}  // namespace testrund::daemon
