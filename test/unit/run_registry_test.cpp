// SPDX-License-Identifier: Apache-2.0
// RunRegistry: the check order of docs/api.md#error-codes, run_id assignment and reuse, limits, retention,
// Query/Cancel/Resume errors, and the QueryTest object's shape.
#include <catch2/catch.hpp>

#include "test/unit/engine_test_util.h"

namespace testrund::ops {
namespace {

using testing::Engine;
using testing::ParseJson;
using testing::ToText;

constexpr std::string_view kOne = R"J({"operations": [{"type": "comment"}]})J";

TEST_CASE("Execute assigns tr_<n> and rejects a run_id in use", "[unit]") {
  Engine e;
  CHECK(e.Execute(kOne) == "tr_1");
  CHECK(e.Execute(kOne) == "tr_2");
  CHECK(e.Execute(R"J({"run_id": "a", "operations": [{"type": "halt"}]})J") == "a");
  CHECK(e.Execute(R"J({"run_id": "a", "operations": [{"type": "halt"}]})J").empty());
  CHECK(e.last.error == EngineError::kRunIdInUse);
}

TEST_CASE("Params are checked before run_id uniqueness and limits", "[unit]") {
  EngineLimits limits = TestEngineLimits();
  limits.max_runs = 1;
  Engine e(limits);
  CHECK(e.Execute(R"J({"run_id": "a", "operations": [{"type": "halt"}]})J") == "a");
  e.Execute(R"J({"run_id": "a", "operations": [{"type": "nosuch"}]})J");
  CHECK(e.last.error == EngineError::kInvalidParams);
  REQUIRE(e.last.problems.size() == 1);
  CHECK(e.last.problems[0].problem == "is unknown: \"nosuch\"");
  e.Execute(R"J({"run_id": "a", "operations": [{"type": "halt"}]})J");
  CHECK(e.last.error == EngineError::kRunIdInUse);
  e.Execute(R"J({"run_id": "b", "operations": [{"type": "halt"}]})J");
  CHECK(e.last.error == EngineError::kLimit);
}

TEST_CASE("max_instances rejects new runs at the limit and caps starts", "[unit]") {
  EngineLimits limits = TestEngineLimits();
  limits.max_instances = 5;
  Engine e(limits);
  auto id = e.Execute(R"J({"run_id": "a", "distribution": {"type": "load", "total": 10},
    "operations": [{"type": "halt"}]})J");
  e.clock.RunDue();
  CHECK(e.Counts(id).started == 5);
  CHECK(e.registry.instances_live() == 5);
  e.Execute(kOne);
  CHECK(e.last.error == EngineError::kLimit);
}

TEST_CASE("a completed run is discarded after QueryTest returned it", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "q", "operations": [{"type": "comment"}]})J");
  auto running = e.Query(id);
  REQUIRE(running.ok());
  CHECK_FALSE(running.value.completed);
  e.clock.RunDue();
  auto done = e.Query(id);
  REQUIRE(done.ok());
  CHECK(done.value.completed);
  auto gone = e.Query(id);
  CHECK(gone.error == EngineError::kUnknownRun);
  // Its id stays in use for 10 minutes.
  e.Execute(R"J({"run_id": "q", "operations": [{"type": "comment"}]})J");
  CHECK(e.last.error == EngineError::kRunIdInUse);
  CHECK(e.last.message.find("discarded") != std::string::npos);
  e.clock.AdvanceSeconds(601);
  CHECK(e.Execute(R"J({"run_id": "q", "operations": [{"type": "comment"}]})J") == "q");
}

TEST_CASE("completed_run_retention keeps a returned run queryable", "[unit]") {
  EngineLimits limits = TestEngineLimits();
  limits.completed_run_retention = 30;
  Engine e(limits);
  auto id = e.Execute(kOne);
  e.clock.RunDue();
  CHECK(e.Query(id).ok());
  e.clock.AdvanceSeconds(29);
  CHECK(e.Query(id).ok());
  e.clock.AdvanceSeconds(2);
  CHECK(e.Query(id).error == EngineError::kUnknownRun);
}

TEST_CASE("Cancel reports whether the run was in progress and discards it", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"operations": [{"type": "halt"}]})J");
  e.clock.RunDue();
  auto cancelled = e.Cancel(id);
  REQUIRE(cancelled.ok());
  CHECK(cancelled.value.was_running);
  CHECK(cancelled.value.snapshot.status == RunStatus::kCancelled);
  CHECK(cancelled.value.snapshot.counts.cancelled == 1);
  CHECK(e.Cancel(id).error == EngineError::kUnknownRun);
  CHECK(e.Query(id).error == EngineError::kUnknownRun);

  auto done = e.Execute(kOne);
  e.clock.RunDue();
  auto late = e.Cancel(done);
  REQUIRE(late.ok());
  CHECK_FALSE(late.value.was_running);
}

// Halts every instance for 60 s after counting it in g.n; the run starts 3 instances.
constexpr std::string_view kHalting = R"J({"run_id": "r", "globals": {"n": 0},
    "start_at": START, "distribution": {"type": "load", "total": 3},
    "operations": [{"type": "eval", "expression": "g.n = g.n + 1"},
                   {"type": "halt", "arguments": {"seconds": 60}}]})J";

std::string Halting(const Engine& e) {
  std::string text(kHalting);
  text.replace(text.find("START"), 5, std::to_string(ToSeconds(e.clock.WallNow())));
  return text;
}

TEST_CASE("Restart cancels what runs and starts the definition again, fresh", "[unit]") {
  Engine e;
  REQUIRE(e.Execute(Halting(e)) == "r");
  std::vector<std::pair<std::string, uint32_t>> restarted;
  e.registry.add_on_restarted([&restarted](const RunSeries& run, uint32_t n) {
    restarted.emplace_back(std::string(RunStatusName(run.status())), n);
  });
  int completions = 0;
  e.registry.add_on_completed([&completions](const RunSeries&) { ++completions; });
  e.clock.AdvanceSeconds(1);
  CHECK(e.Counts("r").halted == 3);

  auto restart = e.registry.Restart("r", kSnapshotQueryTest, e.scratch.GetAllocator());
  REQUIRE(restart.ok());
  CHECK(restart.value.restarts == 1);
  const RunSnapshot& before = restart.value.snapshot;
  CHECK(before.status == RunStatus::kCancelled);
  CHECK(before.status_reason == "Restarted by RestartTest.");
  CHECK(before.counts.cancelled == 3);
  CHECK(restarted == std::vector<std::pair<std::string, uint32_t>>{{"cancelled", 1}});
  CHECK(completions == 0);  // a restart is not the run's end

  // Fresh: nothing started yet, globals as the definition gives them, running at once (the
  // definition's start_at is not kept).
  RunSnapshot after = e.Peek("r", kSnapshotGlobals);
  CHECK(after.status == RunStatus::kRunning);
  CHECK(after.counts.started == 0);
  CHECK(after.restarts == 1);
  CHECK(ToText(after.globals) == R"J({"n":0})J");
  e.clock.AdvanceSeconds(1);
  after = e.Peek("r", kSnapshotGlobals);
  CHECK(after.counts.halted == 3);
  CHECK(ToText(after.globals) == R"J({"n":3})J");

  REQUIRE(e.registry.Restart("r", 0, e.scratch.GetAllocator()).ok());
  CHECK(e.Peek("r").restarts == 2);
  CHECK(restarted.back() == std::pair<std::string, uint32_t>{"cancelled", 2});
}

TEST_CASE("Restart of a completed run the daemon still holds starts it again", "[unit]") {
  Engine e;
  REQUIRE(e.Execute(kOne) == "tr_1");
  e.clock.AdvanceSeconds(1);
  REQUIRE(e.Completed("tr_1"));  // completed, not returned by a QueryTest yet
  auto restart = e.registry.Restart("tr_1", 0, e.scratch.GetAllocator());
  REQUIRE(restart.ok());
  CHECK(restart.value.snapshot.status == RunStatus::kCompleted);  // it had completed
  e.clock.AdvanceSeconds(1);
  RunSnapshot again = e.Peek("tr_1");
  CHECK(again.completed);
  CHECK(again.counts.passed == 1);
  CHECK(again.restarts == 1);
  // Once QueryTest returned it completed it is discarded (the retention rule), restarts or not.
  REQUIRE(e.Query("tr_1").ok());
  CHECK(e.registry.Restart("tr_1", 0, e.scratch.GetAllocator()).error ==
        EngineError::kUnknownRun);
}

TEST_CASE("Restart at a start_at waits for it; one out of bounds changes nothing", "[unit]") {
  Engine e;
  REQUIRE(e.Execute(Halting(e)) == "r");
  e.clock.AdvanceSeconds(1);
  double now = ToSeconds(e.clock.WallNow());
  auto late = e.registry.Restart("r", 0, e.scratch.GetAllocator(), now - 3600);
  CHECK(late.error == EngineError::kInvalidParams);
  CHECK(late.message.find("start_at is 3600.0 s in the past") != std::string::npos);
  CHECK(e.Counts("r").halted == 3);  // untouched
  CHECK(e.Peek("r").restarts == 0);
  REQUIRE(e.registry.Restart("r", 0, e.scratch.GetAllocator(), now + 5).ok());
  CHECK(e.Peek("r").status == RunStatus::kScheduled);
  e.clock.AdvanceSeconds(6);
  CHECK(e.Counts("r").halted == 3);
  CHECK(e.Peek("r").time_start.sec == static_cast<int64_t>(now + 5));
}

TEST_CASE("Restart of an unknown run is kUnknownRun", "[unit]") {
  Engine e;
  auto restart = e.registry.Restart("nope", 0, e.scratch.GetAllocator());
  CHECK(restart.error == EngineError::kUnknownRun);
  CHECK(restart.message == R"(unknown run_id "nope" (never existed, discarded, or cancelled))");
  REQUIRE(e.Execute(kOne) == "tr_1");
  REQUIRE(e.Cancel("tr_1").ok());
  CHECK(e.registry.Restart("tr_1", 0, e.scratch.GetAllocator()).error ==
        EngineError::kUnknownRun);
}

TEST_CASE("Resume distinguishes no such instance from not halted", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"distribution": {"type": "linear", "rate": 1, "total": 3},
    "operations": [{"type": "halt"}]})J");
  e.clock.RunDue();
  CHECK(e.registry.Resume(id, 3, nullptr).error == EngineError::kNoSuchInstance);
  CHECK(e.registry.Resume(id, 2, nullptr).error == EngineError::kNotHalted);  // not due yet
  CHECK(e.registry.Resume(id, 0, nullptr).error == EngineError::kNone);
  e.clock.RunDue();
  CHECK(e.registry.Resume(id, 0, nullptr).error == EngineError::kNotHalted);  // finished
}

TEST_CASE("The QueryTest object has every documented field", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "shape", "tags": ["x"], "globals": {"a": 1},
    "operations": [{"type": "wait", "arguments": {"seconds": 0.2}}]})J");
  e.clock.RunDue();
  rapidjson::Document running = e.Status(id);
  CHECK(running["completed"].GetInt() == 0);
  CHECK_FALSE(running.HasMember("time_finish"));
  CHECK_FALSE(running.HasMember("duration"));
  CHECK(ToText(running["globals"]) == R"J({"a":1})J");
  CHECK(ToText(running["tags"]) == R"J(["x"])J");
  CHECK(ToText(running["halted"]) == "[]");
  CHECK(running["first_call_summary"]["completed"].GetInt() == 0);
  CHECK(running["first_call_summary"].HasMember("time_start"));
  CHECK_FALSE(running["first_call_summary"].HasMember("check_log"));
  e.clock.AdvanceSeconds(0.25);
  rapidjson::Document done = e.Status(id);
  CHECK(done["completed"].GetInt() == 1);
  CHECK(done["duration"].GetDouble() == Approx(0.2));
  CHECK(ToText(done["time_start"]) == "[1700000000,0]");
  CHECK(ToText(done["time_finish"]) == "[1700000000,200000]");
  CHECK(ToText(done["counts"]) ==
        R"J({"started":1,"finished":1,"failed":0,"aborted":0,"cancelled":0,"passed":1,)J"
        R"J("late":0,"halted":0,"running":0})J");
  CHECK(ToText(done["first_call_summary"]) ==
        R"J({"idx":0,"completed":1,"time_start":[1700000000,0],)J"
        R"J("time_finish":[1700000000,200000],"duration":0.2})J");
  // The finish at exactly time_finish opens a third 100 ms bucket (intervals are half-open).
  CHECK(ToText(done["buckets"]) ==
        R"J([{"num_calls_started":1,"num_calls_finished":0},)J"
        R"J({"time_start":[1700000000,100000],"num_calls_started":0,"num_calls_finished":0},)J"
        R"J({"time_start":[1700000000,200000],"num_calls_started":0,"num_calls_finished":1}])J");
}

}  // namespace
}  // namespace testrund::ops
