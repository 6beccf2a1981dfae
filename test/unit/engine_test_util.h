// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the engine's unit tests: a RunRegistry on a FakeClock fed with JSON
// text, and the QueryTest object of a run as a rapidjson document.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/run_registry.h"
#include "rpc/run_result.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/test_limits.h"
#include "test/unit/json_text.h"

namespace testrund::ops::testing {

inline rapidjson::Document ParseJson(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) throw std::runtime_error("bad test JSON: " + std::string(text));
  return doc;
}

struct Engine {
  explicit Engine(EngineLimits limits = TestEngineLimits(),
                  const OpTable& op_types = LogicOpTable())
      : registry(clock, limits, op_types) {}

  // Starts a run from ExecuteTest params text; returns the run_id ("" on error, see last).
  std::string Execute(std::string_view params) {
    rapidjson::Document doc = ParseJson(params);
    last = registry.Execute(doc);
    return last.run_id;
  }
  // The run's snapshot (without marking it returned); parts as RunSnapshot says.
  RunSnapshot Peek(const std::string& run_id, unsigned parts = 0) {
    std::optional<RunSnapshot> snapshot = registry.Peek(run_id, parts, scratch.GetAllocator());
    if (!snapshot) throw std::runtime_error("no run " + run_id);
    return std::move(*snapshot);
  }
  // The run's QueryTest object (without marking it returned).
  rapidjson::Document Status(const std::string& run_id) {
    rapidjson::Document doc;
    std::optional<RunSnapshot> snapshot =
        registry.Peek(run_id, kSnapshotQueryTest, doc.GetAllocator());
    if (snapshot) {
      static_cast<rapidjson::Value&>(doc) =
          rpc::QueryTestResult(std::move(*snapshot), doc.GetAllocator());
    }
    return doc;
  }
  RunCounts Counts(const std::string& run_id) { return Peek(run_id).counts; }
  bool Completed(const std::string& run_id) { return Peek(run_id).completed; }
  EngineResult<RunSnapshot> Query(const std::string& run_id) {
    return registry.Query(run_id, kSnapshotQueryTest, scratch.GetAllocator());
  }
  EngineResult<CancelResult> Cancel(const std::string& run_id) {
    return registry.Cancel(run_id, kSnapshotQueryTest, scratch.GetAllocator());
  }

  FakeClock clock;
  RunRegistry registry;
  ExecuteResult last;
  rapidjson::Document scratch;  // the JSON values of snapshots
};

}  // namespace testrund::ops::testing
