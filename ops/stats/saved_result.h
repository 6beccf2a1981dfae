// SPDX-License-Identifier: Apache-2.0
// What the engine reads back of a run's QueryTest object saved in state_dir
// (docs/decisions.md, "State that survives the daemon"): the summary a snapshot of a run
// that no longer runs shows (ListTests, /metrics), and the counts of a repetition that the
// daemon's stop interrupted. A member that is missing or of another type reads as zero or
// empty: the file was checked when it was read, and these are only its summary.
#pragma once

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/stats/run_snapshot.h"

namespace testrund::ops {

RunCounts CountsInResult(const rapidjson::Value& result);
// `[sec, usec]` member `name`.
WallTime WallInResult(const rapidjson::Value& result, const char* name);
std::vector<std::string> TagsInResult(const rapidjson::Value& result);

}  // namespace testrund::ops
