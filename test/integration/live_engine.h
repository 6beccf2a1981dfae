// SPDX-License-Identifier: Apache-2.0
// What the op integration tests (protocol_test, jsonrpc_op_test, socket_ops_test) share:
// the engine running in process on a real event loop (EventClock + IoContext +
// RunRegistry), as the daemon runs it, so that a test reads check_log texts, i.* values,
// trace entries, latency counts and this process's descriptor count (OpenDescriptors,
// harness.h) exactly. Also the steps every op family's tests take alike: a run whose op
// times out, and the checks that a cancelled or timed-out run released its descriptors.
//
//   LiveEngine engine;
//   std::string id = engine.Execute(Ops(R"([{"type": "http", ...}])"));
//   engine.RunUntilDone(id);
//   CHECK(engine.CheckLog(id) == R"([{"op_idx":0,"status":"pass","text":"..."}])");
#pragma once

#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/net/event_clock.h"
#include "ops/base/event_handles.h"
#include "ops/net/io_context.h"
#include "ops/run_registry.h"
#include "test/fakes/test_limits.h"

namespace testrund::test {

// Compact JSON text of `value` (RapidJSON's own writer: tests compare exact texts).
std::string ToText(const rapidjson::Value& value);

// `{"operations": <ops>}`.
std::string Ops(std::string_view ops);

// `{"distribution": {"type": "load", "total": <total>, "backlog": <backlog>},
//   "operations": <ops>}`.
std::string LoadOps(int total, int backlog, std::string_view ops);

// The engine on a real event loop, as the daemon runs it.
struct LiveEngine {
  explicit LiveEngine(ops::EngineLimits limits = TestEngineLimits());

  // ExecuteTest with `params`; returns the run_id ("" when refused: see `last.problems`).
  std::string Execute(std::string_view params);
  // Whether the run has completed (it must exist).
  bool Completed(const std::string& run_id);
  // Runs the loop until the run completes (fails the test after `seconds`).
  void RunUntilDone(const std::string& run_id, double seconds = 20);
  // Cancels the run (CancelTest); false when it is unknown.
  bool Cancel(const std::string& run_id);
  // A few loop turns (deferred deletes, idle closes).
  void Turns(int n);
  // Runs the loop for `seconds`.
  void RunFor(double seconds);
  // Runs the loop until `done()` (fails the test after `seconds`).
  void RunUntil(const std::function<bool()>& done, double seconds = 20);
  // Runs `operations` (a JSON array; `extra`: more ExecuteTest members, each followed by a
  // comma) to completion and returns its CheckLog. Its run_id is kept in `last_id`.
  std::string RunOnce(std::string_view operations, std::string_view extra = "");
  // RunOnce for `operations` whose op 0 gets no answer and gives up after its "timeout" of
  // 0.3 seconds: also checks that the run took that long (but not much longer) and that op 0
  // recorded the wait as one latency sample.
  std::string RunOnceTimingOut(std::string_view operations);
  // The run's QueryTest status (without marking it returned).
  rapidjson::Document Status(const std::string& run_id);
  // The first call's check_log without its `step` members ("[]" when empty).
  std::string CheckLog(const std::string& run_id);
  // "op_idx|field|problem" lines of the last Execute's problems.
  std::string Problems() const;

  // The descriptor-release tests: every socket and timer an instance opened must be closed
  // when it ends, however it ends. They compare this process's descriptor count with a
  // baseline taken once the loop has settled (its deferred closes done). A released run may
  // leave at most 2 above the baseline, the margin these tests allow.
  size_t SettledDescriptors();
  // Cancels the run and checks that its instances gave back what they held: the descriptor
  // count is back near `baseline` and no instance is live.
  void CancelReleases(const std::string& run_id, size_t baseline);
  // Runs the run, whose `total` instances all time out, to completion and checks that they
  // all aborted and gave back their descriptors.
  void TimeoutsRelease(const std::string& run_id, uint64_t total, size_t baseline);

  ops::EventBasePtr base_owner;  // freed last
  event_base* base;
  ops::EventClock clock;
  ops::IoContext io;
  ops::RunRegistry registry;
  ops::ExecuteResult last;
  std::string last_id;  // of the last RunOnce
};

}  // namespace testrund::test
