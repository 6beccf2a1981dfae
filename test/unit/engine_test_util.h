// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the engine's unit tests: a RunRegistry on a FakeClock fed with JSON
// text, and the QueryTest object of a run as a rapidjson document.
#pragma once

#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "test/fakes/fake_clock.h"
#include "ops/run_registry.h"
#include "rpc/run_result.h"
#include "test/unit/json_text.h"

namespace testrund::ops::testing {

inline rapidjson::Document ParseJson(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) throw std::runtime_error("bad test JSON: " + std::string(text));
  return doc;
}

struct Engine {
  explicit Engine(EngineLimits limits = EngineLimits()) : registry(clock, limits) {}

  // Starts a run from ExecuteTest params text; returns the run_id ("" on error, see last).
  std::string Execute(std::string_view params) {
    rapidjson::Document doc = ParseJson(params);
    last = registry.Execute(doc);
    return last.run_id;
  }
  // The run itself (without marking it returned).
  Run* Get(const std::string& run_id) {
    for (const Run* run : registry.Runs()) {
      if (run->run_id() == run_id) return const_cast<Run*>(run);
    }
    return nullptr;
  }
  rapidjson::Document Status(const std::string& run_id) {
    rapidjson::Document doc;
    Run* run = Get(run_id);
    if (run != nullptr) WriteRunStatus(*run, doc, doc.GetAllocator());
    return doc;
  }
  const RunCounts& Counts(const std::string& run_id) { return Get(run_id)->counts(); }

  FakeClock clock;
  RunRegistry registry;
  ExecuteResult last;
};

}  // namespace testrund::ops::testing
