// SPDX-License-Identifier: Apache-2.0
// Run lifecycle extensions on a fake clock: pause arithmetic (no starts while paused, the
// schedule shifted after, no burst, paused_seconds), stage integrals, max_failures with
// instances in flight, percent_complete by time, seed reproducibility, first_fail_summary's
// trace_log.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "test/unit/engine_test_util.h"

namespace testrund::ops {
namespace {

using testing::Engine;
using testing::ParseJson;
using testing::ToText;

// Exact steps of fake time (AdvanceSeconds(0.04) may land a nanosecond short).
constexpr MonoNs kMs = 1'000'000;

std::string Str(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }


TEST_CASE("pause stops starts, unpause shifts the schedule by the pause", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "p", "distribution": {"type": "linear", "rate": 10,
    "total": 0, "duration": 10}, "operations": [{"type": "comment"}]})J");
  e.clock.Advance(2050 * kMs);  // k/10 <= 2.05: k = 0..20
  CHECK(e.Counts(id).started == 21);
  REQUIRE(e.registry.Pause(id).error == EngineError::kNone);
  CHECK(e.Peek(id).status == RunStatus::kPaused);
  e.clock.Advance(5000 * kMs);
  rapidjson::Document paused = e.Status(id);
  CHECK(Str(paused["status"]) == "paused");
  CHECK(paused["completed"].GetInt() == 0);
  CHECK(paused["counts"]["started"].GetUint64() == 21);
  CHECK(paused["paused_seconds"].GetDouble() == 5.0);
  CHECK(paused["percent_complete"].GetDouble() == Approx(20.5));  // frozen while paused

  REQUIRE(e.registry.Unpause(id).error == EngineError::kNone);
  CHECK(e.Peek(id).status == RunStatus::kRunning);
  e.clock.RunDue();
  CHECK(e.Counts(id).started == 21);  // no catch-up burst
  e.clock.Advance(40 * kMs);        // active 2.09: k = 21 is planned at active 2.1
  CHECK(e.Counts(id).started == 21);
  e.clock.Advance(10 * kMs);
  CHECK(e.Counts(id).started == 22);
  e.clock.Advance(950 * kMs);  // active 3.05: k = 0..30
  CHECK(e.Counts(id).started == 31);
  e.clock.Advance(10000 * kMs);
  REQUIRE(e.Completed(id));
  rapidjson::Document done = e.Status(id);
  CHECK(Str(done["status"]) == "completed");
  CHECK(done["counts"]["started"].GetUint64() == 100);
  CHECK(done["counts"]["late"].GetUint64() == 0);
  CHECK(done["paused_seconds"].GetDouble() == 5.0);
  // The last start (k = 99) is at active 9.9 s, i.e. 14.9 s after the start.
  CHECK(done["duration"].GetDouble() == Approx(14.9));
  CHECK(done["percent_complete"].GetDouble() == 100.0);
}

TEST_CASE("pause twice adds up both pauses", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "p2", "distribution": {"type": "linear", "rate": 1,
    "total": 10}, "operations": [{"type": "comment"}]})J");
  std::string message;
  e.clock.Advance(1500 * kMs);  // 0, 1
  REQUIRE(e.registry.Pause(id).error == EngineError::kNone);
  e.clock.Advance(3000 * kMs);
  REQUIRE(e.registry.Unpause(id).error == EngineError::kNone);
  e.clock.Advance(1000 * kMs);  // active 2.5: 0, 1, 2
  CHECK(e.Counts(id).started == 3);
  REQUIRE(e.registry.Pause(id).error == EngineError::kNone);
  e.clock.Advance(2000 * kMs);
  CHECK(e.Status(id)["paused_seconds"].GetDouble() == 5.0);
  REQUIRE(e.registry.Unpause(id).error == EngineError::kNone);
  e.clock.Advance(400 * kMs);  // active 2.9
  CHECK(e.Counts(id).started == 3);
  e.clock.Advance(100 * kMs);  // active 3.0
  CHECK(e.Counts(id).started == 4);
  e.clock.Advance(10000 * kMs);
  CHECK(e.Counts(id).started == 10);
  CHECK(e.Counts(id).late == 0);
  CHECK(e.Status(id)["paused_seconds"].GetDouble() == 5.0);
}

TEST_CASE("pause and unpause in the wrong state are kBadState with a sentence", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "ps", "distribution": {"type": "linear", "rate": 10,
    "total": 3}, "operations": [{"type": "comment"}]})J");
  EngineStatus unpaused = e.registry.Unpause(id);
  CHECK(unpaused.error == EngineError::kBadState);
  CHECK(unpaused.message == "run \"ps\" is running, not paused");
  REQUIRE(e.registry.Pause(id).error == EngineError::kNone);
  EngineStatus paused = e.registry.Pause(id);
  CHECK(paused.error == EngineError::kBadState);
  CHECK(paused.message == "run \"ps\" is paused, not running");
  REQUIRE(e.registry.Unpause(id).error == EngineError::kNone);
  e.clock.Advance(1000 * kMs);
  REQUIRE(e.Completed(id));
  EngineStatus done = e.registry.Pause(id);
  CHECK(done.error == EngineError::kBadState);
  CHECK(done.message == "run \"ps\" is completed, not running");
  done = e.registry.Unpause(id);
  CHECK(done.error == EngineError::kBadState);
  CHECK(done.message == "run \"ps\" is completed, not paused");
  EngineStatus unknown = e.registry.Pause("nope");
  CHECK(unknown.error == EngineError::kUnknownRun);
  CHECK(unknown.message == "unknown run_id \"nope\" (never existed, discarded, or cancelled)");
  CHECK(e.registry.Unpause("nope").error == EngineError::kUnknownRun);
}

TEST_CASE("instances in flight carry on while paused", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "pf", "distribution": {"type": "load", "total": 3,
    "backlog": 1}, "operations": [{"type": "wait", "arguments": {"seconds": 1}}]})J");
  e.clock.Advance(500 * kMs);
  std::string message;
  REQUIRE(e.registry.Pause(id).error == EngineError::kNone);
  e.clock.Advance(1000 * kMs);
  const RunCounts& c = e.Counts(id);
  CHECK(c.started == 1);
  CHECK(c.finished == 1);
  CHECK(c.running == 0);
  CHECK_FALSE(e.Completed(id));
  REQUIRE(e.registry.Unpause(id).error == EngineError::kNone);
  e.clock.RunDue();
  CHECK(e.Counts(id).started == 2);
  e.clock.Advance(2000 * kMs);
  CHECK(e.Counts(id).passed == 3);
  CHECK(e.Completed(id));
  CHECK(e.Status(id)["paused_seconds"].GetDouble() == 1.0);
}

TEST_CASE("a run cancelled while paused keeps its pause time", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "pc", "distribution": {"type": "linear", "rate": 1,
    "total": 0}, "operations": [{"type": "comment"}]})J");
  e.clock.Advance(1000 * kMs);
  REQUIRE(e.registry.Pause(id).error == EngineError::kNone);
  e.clock.Advance(2500 * kMs);
  auto cancel = e.Cancel(id);
  REQUIRE(cancel.ok());
  CHECK(cancel.value.was_running);
  const RunSnapshot& status = cancel.value.snapshot;
  CHECK(status.status == RunStatus::kCancelled);
  CHECK(status.status_reason == "Cancelled by CancelTest.");
  CHECK(status.paused_ns == 2500 * kMs);

}

TEST_CASE("stages start exactly the integral of the rate", "[unit]") {
  SECTION("a ramp from 0 to 10/s over 10 s starts 50") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "s1", "distribution": {"type": "linear", "total": 0,
      "stages": [{"duration": 10, "rate": 10}]}, "operations": [{"type": "comment"}]})J");
    e.clock.Advance(4500 * kMs);  // integral t^2/2 = 10.125: k = 0..10
    CHECK(e.Counts(id).started == 11);
    CHECK(e.Status(id)["percent_complete"].GetDouble() == Approx(45.0));
    e.clock.Advance(10000 * kMs);
    CHECK(e.Counts(id).started == 50);
    CHECK(e.Completed(id));
  }
  SECTION("ramp up, hold, ramp down: 50 + 200 + 50") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "s2", "distribution": {"type": "linear", "total": 0,
      "stages": [{"duration": 5, "rate": 20}, {"duration": 10, "rate": 20},
                 {"duration": 5, "rate": 0}]}, "operations": [{"type": "comment"}]})J");
    e.clock.Advance(7525 * kMs);  // 50 + 20 * 2.525 = 100.5: k = 0..100
    CHECK(e.Counts(id).started == 101);
    e.clock.Advance(20000 * kMs);
    CHECK(e.Counts(id).started == 300);
    CHECK(e.Counts(id).late == 0);
    CHECK(e.Completed(id));
  }
  SECTION("the distribution's rate is where the first stage starts") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "s3", "distribution": {"type": "linear", "rate": 10,
      "total": 0, "stages": [{"duration": 2, "rate": 10}, {"duration": 2, "rate": 0}]},
      "operations": [{"type": "comment"}]})J");
    e.clock.Advance(10000 * kMs);
    CHECK(e.Counts(id).started == 30);  // 10 * 2 + 10 * 2 / 2
  }
  SECTION("stages whose rate stays 0 start nothing and the run completes at once") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "s0", "distribution": {"type": "linear",
      "stages": [{"duration": 0.5, "rate": 0}, {"duration": 2, "rate": 0}]},
      "operations": [{"type": "comment"}]})J");
    e.clock.RunDue();
    REQUIRE(e.Completed(id));
    CHECK(e.Counts(id).started == 0);
    rapidjson::Document status = e.Status(id);
    CHECK(Str(status["status"]) == "completed");
    CHECK(status["percent_complete"].GetDouble() == 100.0);
    CHECK(status["duration"].GetDouble() == 0.0);
  }
  SECTION("total caps the stages") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "s4", "distribution": {"type": "linear", "total": 30,
      "stages": [{"duration": 10, "rate": 100}]}, "operations": [{"type": "comment"}]})J");
    e.clock.Advance(20000 * kMs);
    CHECK(e.Counts(id).started == 30);
    CHECK(e.Completed(id));
  }
  SECTION("a pause inside a ramp shifts the rest of it") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "s5", "distribution": {"type": "linear", "total": 0,
      "stages": [{"duration": 10, "rate": 10}]}, "operations": [{"type": "comment"}]})J");
    e.clock.Advance(4500 * kMs);
    std::string message;
    REQUIRE(e.registry.Pause(id).error == EngineError::kNone);
    e.clock.Advance(100000 * kMs);
    CHECK(e.Counts(id).started == 11);
    REQUIRE(e.registry.Unpause(id).error == EngineError::kNone);
    e.clock.Advance(1500 * kMs);  // active 6.0: integral 18, k = 0..18
    CHECK(e.Counts(id).started == 19);
    e.clock.Advance(10000 * kMs);
    CHECK(e.Counts(id).started == 50);
  }
}

TEST_CASE("max_failures: in-flight instances finish, then the run fails", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "mf", "max_failures": 0, "distribution": {"type": "load",
    "total": 10, "backlog": 3}, "operations": [
      {"type": "assert", "expression": "instance ~= 0", "abort": "stop"},
      {"type": "wait", "arguments": {"seconds": 1}}]})J");
  e.clock.RunDue();
  {
    rapidjson::Document status = e.Status(id);
    CHECK(ToText(status["counts"]) ==
          R"J({"started":3,"finished":1,"failed":0,"aborted":1,"cancelled":0,"passed":0,)J"
          R"J("late":0,"halted":0,"running":2})J");
    CHECK(Str(status["status"]) == "running");
    CHECK_FALSE(status.HasMember("status_reason"));
  }
  e.clock.Advance(1000 * kMs);
  rapidjson::Document status = e.Status(id);
  CHECK(ToText(status["counts"]) ==
        R"J({"started":3,"finished":3,"failed":0,"aborted":1,"cancelled":0,"passed":2,)J"
        R"J("late":0,"halted":0,"running":0})J");
  CHECK(status["completed"].GetInt() == 1);
  CHECK(Str(status["status"]) == "failed");
  CHECK(Str(status["status_reason"]) ==
        "Failed or aborted instances (1) exceeded max_failures (0); no further instances were "
        "started.");
}

TEST_CASE("max_failures counts fails and aborts together, strictly more than the limit", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "mf2", "max_failures": "2", "distribution": {"type": "load",
    "total": 100, "backlog": 1}, "operations": [
      {"type": "assert", "expression": "instance % 2 == 0", "fail": "odd"},
      {"type": "assert", "expression": "instance % 4 ~= 0", "abort": "four"}]})J");
  e.clock.RunDue();
  // 0 aborts, 1 fails, 2 passes, 3 fails: 3 > 2.
  const RunCounts& c = e.Counts(id);
  CHECK(c.started == 4);
  CHECK(c.aborted == 1);
  CHECK(c.failed == 2);
  CHECK(c.passed == 1);
  CHECK(e.Peek(id).status == RunStatus::kFailed);
}

TEST_CASE("a run cancelled after max_failures tripped is cancelled", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "mf3", "max_failures": 0, "distribution": {"type": "load",
    "total": 10, "backlog": 2}, "operations": [
      {"type": "assert", "expression": "instance ~= 0", "abort": "stop"},
      {"type": "halt"}]})J");
  e.clock.RunDue();
  auto cancel = e.Cancel(id);
  REQUIRE(cancel.ok());
  CHECK(cancel.value.snapshot.status == RunStatus::kCancelled);
  CHECK(cancel.value.snapshot.status_reason == "Cancelled by CancelTest.");
  CHECK(cancel.value.snapshot.counts.cancelled == 1);
}

TEST_CASE("percent_complete comes from time when there is no total", "[unit]") {
  SECTION("linear with duration") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "pt", "distribution": {"type": "linear", "rate": 3,
      "total": 0, "duration": 10}, "operations": [{"type": "comment"}]})J");
    e.clock.Advance(2500 * kMs);
    CHECK(e.Status(id)["percent_complete"].GetDouble() == 25.0);
    CHECK(e.Counts(id).started == 8);  // k/3 <= 2.5
    e.clock.Advance(10000 * kMs);
    CHECK(e.Counts(id).started == 30);
    CHECK(e.Completed(id));
  }
  SECTION("load with duration") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "pl", "distribution": {"type": "load", "total": 0,
      "duration": 4, "backlog": 2}, "operations": [{"type": "wait", "arguments": {"seconds": 1}}]})J");
    e.clock.Advance(1500 * kMs);
    CHECK(e.Status(id)["percent_complete"].GetDouble() == Approx(37.5));
    e.clock.Advance(10000 * kMs);
    // Starts at 0, 1, 2, 3 (two each); a start at 4 s is at the exclusive end.
    CHECK(e.Counts(id).started == 8);
    CHECK(e.Completed(id));
  }
  SECTION("linear without duration has no percent and runs until cancelled") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "pu", "distribution": {"type": "linear", "rate": 1,
      "total": 0}, "operations": [{"type": "comment"}]})J");
    REQUIRE(id == "pu");
    e.clock.Advance(1000000 * kMs);
    CHECK(e.Counts(id).started == 1001);
    CHECK_FALSE(e.Status(id).HasMember("percent_complete"));
    CHECK_FALSE(e.Completed(id));
  }
  SECTION("with a total, by instances started") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "pn", "distribution": {"type": "linear", "rate": 1,
      "total": 5}, "operations": [{"type": "comment"}]})J");
    e.clock.Advance(2500 * kMs);
    CHECK(e.Status(id)["percent_complete"].GetDouble() == 60.0);
  }
}

std::string SeededGlobals(std::string_view seed, int backlog) {
  Engine e;
  auto id = e.Execute(std::string(R"J({"run_id": "sd", "seed": )J") + std::string(seed) +
                      R"J(, "distribution": {"type": "load", "total": 6, "backlog": )J" +
                      std::to_string(backlog) + R"J(}, "operations": [
      {"type": "eval", "expression": "v.a = math.random(1000000000)"},
      {"type": "wait", "arguments": {"seconds": "{0.001 * (6 - instance)}"}},
      {"type": "eval", "expression": "g['i' .. instance] = {v.a, math.random(1, 6), math.random()}"}]})J");
  e.clock.Advance(1000 * kMs);
  REQUIRE(e.Completed(id));
  return ToText(e.Status(id)["globals"]);
}

TEST_CASE("seed: every instance draws the same sequence in every run", "[unit]") {
  std::string a = SeededGlobals("42", 1);
  CHECK(a.find("\"i5\":[") != std::string::npos);
  // Other interleavings of the instances, the seed as a string: the same draws.
  CHECK(SeededGlobals("42", 6) == a);
  CHECK(SeededGlobals("\"42\"", 3) == a);
  CHECK(SeededGlobals("43", 1) != a);
  CHECK(SeededGlobals("-42", 1) != a);
}

TEST_CASE("first_fail_summary keeps the failing instance's trace_log", "[unit]") {
  SECTION("trace_level 1 comments") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "ft", "trace_level": 1, "distribution": {"type": "load",
      "total": 5}, "operations": [
        {"type": "comment", "text": "{'at ' .. instance}"},
        {"type": "assert", "expression": "instance ~= 3", "fail": "f"}]})J");
    e.clock.RunDue();
    rapidjson::Document status = e.Status(id);
    const auto& ff = status["first_fail_summary"];
    CHECK(ff["idx"].GetInt64() == 3);
    CHECK(ff["completed"].GetInt() == 1);
    CHECK(ToText(ff["check_log"]) == R"J([{"op_idx":1,"step":1,"status":"fail","text":"f"}])J");
    REQUIRE(ff.HasMember("trace_log"));
    REQUIRE(ff["trace_log"].Size() == 1);
    CHECK(Str(ff["trace_log"][0]["text"]) == "at 3");
    CHECK(Str(ff["trace_log"][0]["path"]) == "trace.notice");
    CHECK(ff["trace_log"][0]["op_idx"].GetInt() == 0);
    const auto& fc = status["first_call_summary"];
    REQUIRE(fc["trace_log"].Size() == 1);
    CHECK(Str(fc["trace_log"][0]["text"]) == "at 0");
  }
  SECTION("a halt comment at trace_level 0, entries after the fail included") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "fh", "distribution": {"type": "load", "total": 3},
      "operations": [
        {"type": "assert", "expression": "instance ~= 2", "fail": "f"},
        {"type": "halt", "arguments": {"seconds": 1, "comment": "{'halt ' .. instance}"}}]})J");
    e.clock.Advance(2000 * kMs);
    rapidjson::Document status = e.Status(id);
    const auto& ff = status["first_fail_summary"];
    CHECK(ff["idx"].GetInt64() == 2);
    CHECK(ToText(ff["check_log"]) ==
          R"J([{"op_idx":0,"step":0,"status":"fail","text":"f"},)J"
          R"J({"op_idx":1,"step":1,"status":"abort","text":"Halt timed out after 1 seconds."}])J");
    REQUIRE(ff["trace_log"].Size() == 1);
    CHECK(Str(ff["trace_log"][0]["text"]) == "halt 2");
    CHECK(status["counts"]["aborted"].GetUint64() == 3);
  }
  SECTION("nothing to trace: no trace_log") {
    Engine e;
    auto id = e.Execute(R"J({"run_id": "fn", "distribution": {"type": "load", "total": 3},
      "operations": [{"type": "assert", "expression": "instance ~= 1"}]})J");
    e.clock.RunDue();
    rapidjson::Document status = e.Status(id);
    CHECK(status["first_fail_summary"]["idx"].GetInt64() == 1);
    CHECK_FALSE(status["first_fail_summary"].HasMember("trace_log"));
  }
}

}  // namespace
}  // namespace testrund::ops
