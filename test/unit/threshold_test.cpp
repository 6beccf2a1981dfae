// SPDX-License-Identifier: Apache-2.0
// Thresholds (ops/stats/threshold*.h): each metric measured and judged, the rule's text, and
// runs on a fake clock that pass, fail at the end, are ended mid-run by an `abort` threshold
// (not before `after`), skip checks while paused; every bad `thresholds` entry.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "ops/stats/run_snapshot.h"
#include "ops/stats/threshold.h"
#include "test/unit/engine_test_util.h"

namespace testrund::ops {
namespace {

using testing::Engine;

std::string Reason(Engine& e, const std::string& id) {
  rapidjson::Document status = e.Status(id);
  return status.HasMember("status_reason") ? status["status_reason"].GetString() : "";
}

const rapidjson::Value& ThresholdsOf(const rapidjson::Document& status) {
  REQUIRE(status.HasMember("thresholds"));
  return status["thresholds"];
}

TEST_CASE("each metric is measured from the run's counts and latencies", "[unit]") {
  RunCounts counts;
  counts.started = 200;
  counts.finished = 100;
  counts.failed = 3;
  counts.aborted = 2;
  counts.late = 50;
  LatencyHistogram latency;
  for (int ms = 1; ms <= 100; ++ms) latency.Record(ms * 1'000'000LL);
  ThresholdInputs in{&counts, &latency, 42.5};
  auto measure = [&](ThresholdMetric metric) {
    Threshold t;
    t.metric = metric;
    t.op_idx = 0;
    return MeasureThreshold(t, in);
  };
  CHECK(measure(ThresholdMetric::kFailedRatio) == Approx(0.05));
  CHECK(measure(ThresholdMetric::kAbortedRatio) == Approx(0.02));
  CHECK(measure(ThresholdMetric::kLateRatio) == Approx(0.25));
  CHECK(measure(ThresholdMetric::kStartedRate) == Approx(42.5));
  CHECK(*measure(ThresholdMetric::kLatencyP50) == Approx(0.050).epsilon(0.01));
  CHECK(*measure(ThresholdMetric::kLatencyP99) == Approx(0.099).epsilon(0.01));
  CHECK(measure(ThresholdMetric::kLatencyMax) == Approx(0.100));
  CHECK(measure(ThresholdMetric::kLatencyMean) == Approx(0.0505));

  RunCounts none;
  ThresholdInputs empty{&none, nullptr, 0};
  Threshold ratio;
  CHECK(MeasureThreshold(ratio, empty) == 0.0);  // a ratio over nothing
  Threshold p99;
  p99.metric = ThresholdMetric::kLatencyP99;
  p99.op_idx = 1;
  p99.max = 0.25;
  CHECK_FALSE(MeasureThreshold(p99, empty).has_value());
  CHECK(ThresholdHolds(p99, std::nullopt, false));  // nothing measured yet: holds
  CHECK_FALSE(ThresholdHolds(p99, std::nullopt, true));  // at the end it cannot pass
}

TEST_CASE("bounds judge inclusively and the rule reads as text", "[unit]") {
  Threshold t;
  t.metric = ThresholdMetric::kStartedRate;
  t.min = 10;
  CHECK(ThresholdText(t) == "started_rate >= 10");
  CHECK(ThresholdHolds(t, 10.0, false));
  CHECK_FALSE(ThresholdHolds(t, 9.99, false));
  t.max = 20;
  CHECK(ThresholdText(t) == "10 <= started_rate <= 20");
  CHECK(ThresholdHolds(t, 20.0, true));
  CHECK_FALSE(ThresholdHolds(t, 20.01, true));
  Threshold p99;
  p99.metric = ThresholdMetric::kLatencyP99;
  p99.op_idx = 3;
  p99.max = 0.25;
  CHECK(ThresholdText(p99) == "latency_p99[3] <= 0.25");
  ThresholdResult failed{p99, 0.3125, false};
  CHECK(ThresholdFailureReason({&failed}, "at the end") ==
        "Threshold failed at the end: latency_p99[3] <= 0.25 (value 0.3125).");
}

// 100 instances, every tenth failing its assert.
constexpr std::string_view kTenthFails = R"J("distribution": {"type": "load", "total": 100},
  "operations": [{"type": "assert", "expression": "instance % 10 ~= 3"}])J";

TEST_CASE("a run whose thresholds hold completes with every threshold ok", "[unit]") {
  Engine e;
  auto id = e.Execute(std::string(R"J({"run_id": "ok", )J") + std::string(kTenthFails) +
                      R"J(, "thresholds": [{"metric": "failed_ratio", "max": 0.1},
                      {"metric": "late_ratio", "max": 0}]})J");
  REQUIRE(id == "ok");
  e.clock.RunDue();
  RunSnapshot run = e.Peek(id);
  CHECK(run.status == RunStatus::kCompleted);
  rapidjson::Document status = e.Status(id);
  const rapidjson::Value& thresholds = ThresholdsOf(status);
  REQUIRE(thresholds.Size() == 2);
  CHECK(thresholds[0]["value"].GetDouble() == Approx(0.1));
  CHECK(thresholds[0]["ok"].GetBool());
  CHECK(std::string(thresholds[0]["text"].GetString()) == "failed_ratio <= 0.1");
  CHECK(thresholds[1]["ok"].GetBool());
  CHECK_FALSE(status.HasMember("status_reason"));
}

TEST_CASE("a threshold failed at the end makes the run failed, naming it and its value",
          "[unit]") {
  Engine e;
  auto id = e.Execute(std::string(R"J({"run_id": "end", )J") + std::string(kTenthFails) +
                      R"J(, "thresholds": [{"metric": "failed_ratio", "max": 0.05},
                      {"metric": "aborted_ratio", "max": 0}]})J");
  e.clock.RunDue();
  RunSnapshot run = e.Peek(id);
  CHECK(run.status == RunStatus::kFailed);
  CHECK(run.completed);
  CHECK(run.counts.finished == 100);  // not ended early: no `abort`
  CHECK(Reason(e, id) == "Threshold failed at the end: failed_ratio <= 0.05 (value 0.1).");
  rapidjson::Document status = e.Status(id);
  CHECK_FALSE(ThresholdsOf(status)[0]["ok"].GetBool());
  CHECK(ThresholdsOf(status)[1]["ok"].GetBool());
}

TEST_CASE("a latency threshold on an op that never ran fails at the end", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "ns", "operations": [
    {"type": "branch", "expression": "true", "on_true": "end"},
    {"type": "wait", "arguments": {"seconds": 0.1}},
    {"type": "comment", "label": "end", "text": "done"}],
    "thresholds": [{"metric": "latency_p99", "op_idx": 1, "max": 1}]})J");
  REQUIRE(id == "ns");
  e.clock.RunDue();
  CHECK(e.Peek(id).status == RunStatus::kFailed);
  CHECK(Reason(e, id) == "Threshold failed at the end: latency_p99[1] <= 1 (no samples).");
  rapidjson::Document status = e.Status(id);
  CHECK(ThresholdsOf(status)[0]["value"].IsNull());
}

// Linear, 10 per second for 10 s; every instance waits 0.5 s (its latency).
constexpr std::string_view kSlowWaits = R"J("distribution": {"type": "linear", "rate": 10,
  "duration": 10, "backlog": 100}, "operations": [{"type": "wait", "arguments": {"seconds": 0.5}}])J";

TEST_CASE("an abort threshold ends the run at its first failed check after `after`",
          "[unit]") {
  Engine e;
  auto id = e.Execute(std::string(R"J({"run_id": "ab", )J") + std::string(kSlowWaits) +
                      R"J(, "thresholds": [{"metric": "latency_max", "op_idx": 0,
                      "max": 0.1, "abort": true, "after": 2.5}]})J");
  REQUIRE(id == "ab");
  e.clock.AdvanceSeconds(2.4);
  CHECK(e.Peek(id).status == RunStatus::kRunning);  // failing since 1 s, but not yet 2.5 s
  e.clock.AdvanceSeconds(0.7);                       // the check at 3 s
  RunSnapshot run = e.Peek(id);
  CHECK(run.status == RunStatus::kFailed);
  CHECK(run.counts.started == 30);   // instance 30 was due at 3 s too, after the check
  CHECK(run.counts.cancelled == 5);  // those in their wait were ended
  CHECK(Reason(e, id) == "Threshold failed after 3.0 s; the run was ended: "
                         "latency_max[0] <= 0.1 (value 0.5).");
  e.clock.AdvanceSeconds(10);
  CHECK(e.Peek(id).counts.started == 30);  // nothing more started
}

TEST_CASE("a failing threshold without abort lets the run go on; the checks skip pauses",
          "[unit]") {
  Engine e;
  auto id = e.Execute(std::string(R"J({"run_id": "pa", )J") + std::string(kSlowWaits) +
                      R"J(, "thresholds": [{"metric": "latency_max", "op_idx": 0,
                      "max": 0.1}, {"metric": "started_rate", "min": 5, "abort": true,
                      "interval": 0.5}]})J");
  e.clock.AdvanceSeconds(2);
  rapidjson::Document status = e.Status(id);
  CHECK_FALSE(ThresholdsOf(status)[0]["ok"].GetBool());
  CHECK(ThresholdsOf(status)[1]["value"].GetDouble() == Approx(10));
  REQUIRE(e.registry.Pause(id).error == EngineError::kNone);
  e.clock.AdvanceSeconds(5);  // no starts while paused: not judged, not ended
  CHECK(e.Peek(id).status == RunStatus::kPaused);
  REQUIRE(e.registry.Unpause(id).error == EngineError::kNone);
  e.clock.AdvanceSeconds(20);
  RunSnapshot run = e.Peek(id);
  CHECK(run.status == RunStatus::kFailed);
  CHECK(run.counts.started == 100);
  CHECK(Reason(e, id) == "Threshold failed at the end: latency_max[0] <= 0.1 (value 0.5).");
}

TEST_CASE("max_failures and a failed threshold both name themselves", "[unit]") {
  Engine e;
  auto id = e.Execute(R"J({"run_id": "both", "max_failures": 2, "distribution": {"type":
    "load", "total": 100, "backlog": 1}, "operations": [{"type": "assert", "expression":
    "false"}], "thresholds": [{"metric": "failed_ratio", "max": 0.5}]})J");
  e.clock.RunDue();
  std::string reason = Reason(e, id);
  CHECK(reason.find("Failed or aborted instances (3) exceeded max_failures (2)") == 0);
  CHECK(reason.find("Threshold failed at the end: failed_ratio <= 0.5 (value 1).") !=
        std::string::npos);
}

TEST_CASE("every wrong thresholds entry is named", "[unit]") {
  struct Case {
    std::string thresholds;
    std::string field;
    std::string problem;
  };
  std::vector<Case> cases = {
      {R"J("x")J", "thresholds", R"(must be an array, got "x")"},
      {R"J([7])J", "thresholds[0]", "must be an object, got 7"},
      {R"J([{"max": 1}])J", "thresholds[0].metric", "is required"},
      {R"J([{"metric": "p99", "max": 1}])J", "thresholds[0].metric",
       R"(must be one of "failed_ratio", "aborted_ratio", "late_ratio", "started_rate", )"
       R"("latency_p50", "latency_p90", "latency_p95", "latency_p99", "latency_p999", )"
       R"("latency_max", "latency_mean", got "p99")"},
      {R"J([{"metric": "failed_ratio"}])J", "thresholds[0]",
       R"(needs a bound: "max", "min" or both)"},
      {R"J([{"metric": "failed_ratio", "max": 1.5}])J", "thresholds[0].max",
       "must be between 0 and 1, got 1.5"},
      {R"J([{"metric": "started_rate", "min": -1}])J", "thresholds[0].min",
       "must be at least 0, got -1"},
      {R"J([{"metric": "failed_ratio", "max": "NaN"}])J", "thresholds[0].max",
       R"(must be a number, got "NaN")"},
      {R"J([{"metric": "started_rate", "min": 5, "max": 2}])J", "thresholds[0].min",
       "must not be above max (2), got 5"},
      {R"J([{"metric": "failed_ratio", "op_idx": 0, "max": 0.1}])J", "thresholds[0].op_idx",
       R"(applies only to the latency metrics, not "failed_ratio")"},
      {R"J([{"metric": "latency_p99", "max": 1}])J", "thresholds[0].op_idx",
       R"(is required for "latency_p99" (the op whose latency it bounds))"},
      {R"J([{"metric": "latency_p99", "op_idx": 2, "max": 1}])J", "thresholds[0].op_idx",
       "must be between 0 and 1, got 2"},
      {R"J([{"metric": "latency_p99", "op_idx": 0, "max": 1}])J", "thresholds[0].op_idx",
       "names op 0, which records no latency (protocol ops and wait do)"},
      {R"J([{"metric": "failed_ratio", "max": 0.1, "after": -1}])J", "thresholds[0].after",
       "must be between 0 and 100000000, got -1"},
      {R"J([{"metric": "failed_ratio", "max": 0.1, "interval": 0.01}])J",
       "thresholds[0].interval", "must be between 0.1 and 86400, got 0.01"},
      {R"J([{"metric": "failed_ratio", "max": 0.1, "abort": 1}])J", "thresholds[0].abort",
       "must be true or false, got 1"},
      {R"J([{"metric": "failed_ratio", "max": 0.1, "maximum": 3}])J",
       "thresholds[0].maximum", "is unknown"},
  };
  for (const Case& c : cases) {
    INFO(c.thresholds);
    Engine e;
    std::string id = e.Execute(R"J({"run_id": "bad", "operations": [{"type": "assert",
      "expression": "true"}, {"type": "wait", "arguments": {"seconds": 0.1}}], "thresholds": )J" +
                               c.thresholds + "}");
    CHECK(id.empty());
    REQUIRE(e.last.problems.size() == 1);
    CHECK(e.last.problems[0].field == c.field);
    CHECK(e.last.problems[0].problem == c.problem);
  }
  std::string many = "[";
  for (int i = 0; i <= 100; ++i) many += std::string(i ? "," : "") + R"({"metric": "failed_ratio", "max": 1})";
  Engine e;
  CHECK(e.Execute(R"J({"operations": [{"type": "eval", "expression": "1"}], "thresholds": )J" +
                  many + "]}").empty());
  REQUIRE(e.last.problems.size() == 1);
  CHECK(e.last.problems[0].problem == "has 101 entries, more than the limit of 100");
}

}  // namespace
}  // namespace testrund::ops
