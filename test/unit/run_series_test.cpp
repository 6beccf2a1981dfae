// SPDX-License-Identifier: Apache-2.0
// Repeating runs (ExecuteTest `repeat`, ops/run_series.h) on a fake clock: repetitions one
// after another with fresh results, both cadences, skipped starts, pause and cancel while
// scheduled, an unbounded series, and every wrong value of `repeat`.
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "test/unit/engine_test_util.h"

namespace testrund::ops {
namespace {

using testing::Engine;
using testing::ToText;

// One instance that counts itself in g.n and then waits `WAIT` seconds.
std::string Repeating(std::string_view repeat, double wait = 0.5) {
  return fmt::format(R"J({{"run_id": "s", "globals": {{"n": 0}}, "repeat": {},
      "distribution": {{"type": "single"}},
      "operations": [{{"type": "eval", "expression": "g.n = g.n + 1"}},
                     {{"type": "wait", "arguments": {{"seconds": {}}}}}]}})J",
                     repeat, wait);
}

std::vector<std::string> HistoryStatuses(const RunSnapshot& s) {
  std::vector<std::string> out;
  for (const RepetitionSummary& r : s.repeat->history) {
    out.emplace_back(RepetitionStatusName(r.status));
  }
  return out;
}

// Unix seconds, or -1 when absent. Compare them relative to the test's start (t0): Approx on
// ~1.7e9 s has a relative margin of thousands of seconds.
double Seconds(const std::optional<WallTime>& t) { return t ? ToSeconds(*t) : -1; }

TEST_CASE("Repetitions from the end: each a fresh run, `interval` after the last ended",
          "[unit]") {
  Engine e;
  double t0 = ToSeconds(e.clock.WallNow());
  REQUIRE(e.Execute(Repeating(R"J({"count": 3, "interval": 2})J")) == "s");
  RunSnapshot s = e.Peek("s", kSnapshotGlobals);
  REQUIRE(s.repeat);
  CHECK(s.repeat->repetition == 1);
  CHECK(s.repeat->repetitions == 3);
  CHECK(s.status == RunStatus::kRunning);

  e.clock.AdvanceSeconds(0.6);  // repetition 1 ended at 0.5 s
  s = e.Peek("s", kSnapshotGlobals);
  CHECK(s.status == RunStatus::kScheduled);
  CHECK_FALSE(s.completed);
  CHECK(s.repeat->repetition == 2);
  CHECK(s.counts.started == 0);
  CHECK(ToText(s.globals) == R"J({"n":0})J");  // as the definition gives them
  CHECK(Seconds(s.next_start_at) - t0 == Approx(2.5).margin(2e-6));
  REQUIRE(s.repeat->history.size() == 1);
  const RepetitionSummary& first = s.repeat->history[0];
  CHECK(first.repetition == 1);
  CHECK(first.status == RepetitionStatus::kCompleted);
  CHECK(ToSeconds(first.start) - t0 == Approx(0).margin(2e-6));
  CHECK(ToSeconds(first.end) - t0 == Approx(0.5).margin(2e-6));
  CHECK(first.counts.passed == 1);
  CHECK(s.percent_complete == Approx(100.0 / 3));

  e.clock.AdvanceSeconds(2.0);  // 2.6 s: repetition 2 runs since 2.5 s
  s = e.Peek("s", kSnapshotGlobals);
  CHECK(s.status == RunStatus::kRunning);
  CHECK(s.repeat->repetition == 2);
  CHECK(ToSeconds(s.time_start) - t0 == Approx(2.5).margin(2e-6));
  CHECK(ToText(s.globals) == R"J({"n":1})J");

  e.clock.AdvanceSeconds(10);
  s = e.Peek("s");
  CHECK(s.completed);
  CHECK(s.status == RunStatus::kCompleted);
  CHECK(s.repeat->repetition == 3);
  CHECK(HistoryStatuses(s) == std::vector<std::string>{"completed", "completed", "completed"});
  CHECK(s.percent_complete == Approx(100));
  CHECK_FALSE(s.next_start_at);
}

TEST_CASE("A fixed cadence skips the starts that come while a repetition still runs",
          "[unit]") {
  Engine e;
  double t0 = ToSeconds(e.clock.WallNow());
  // Starts due at 0, 1, 2, 3 s; each repetition takes 2.5 s.
  REQUIRE(e.Execute(Repeating(R"J({"count": 4, "interval": 1, "from": "start"})J", 2.5)) == "s");
  RunSnapshot s = e.Peek("s");
  CHECK(Seconds(s.next_start_at) - t0 == Approx(1).margin(2e-6));
  e.clock.AdvanceSeconds(1.5);
  s = e.Peek("s");
  CHECK(HistoryStatuses(s) == std::vector<std::string>{"skipped"});  // at 1 s, as it came
  CHECK(s.repeat->history[0].repetition == 2);
  CHECK(ToSeconds(s.repeat->history[0].start) - t0 == Approx(1).margin(2e-6));
  CHECK(s.repeat->history[0].status_reason == "Repetition 1 had not ended at its start.");
  e.clock.AdvanceSeconds(1.2);  // 2.7 s: 3 skipped at 2 s, 1 ended at 2.5 s, 4 waits for 3 s
  s = e.Peek("s");
  CHECK(HistoryStatuses(s) == std::vector<std::string>{"skipped", "skipped", "completed"});
  CHECK(s.status == RunStatus::kScheduled);
  CHECK(s.repeat->repetition == 4);
  CHECK(Seconds(s.next_start_at) - t0 == Approx(3).margin(2e-6));
  CHECK(s.percent_complete == Approx(75));
  e.clock.AdvanceSeconds(3);
  s = e.Peek("s");
  CHECK(s.completed);
  CHECK(ToSeconds(s.time_start) - t0 == Approx(3).margin(2e-6));
  CHECK(HistoryStatuses(s) ==
        std::vector<std::string>{"skipped", "skipped", "completed", "completed"});
}

TEST_CASE("A fixed cadence is anchored at start_at", "[unit]") {
  Engine e;
  double t0 = ToSeconds(e.clock.WallNow());
  std::string params = Repeating(R"J({"count": 2, "interval": 10, "from": "start"})J");
  params.insert(1, fmt::format(R"J("start_at": {}, )J", t0 + 5));
  REQUIRE(e.Execute(params) == "s");
  RunSnapshot s = e.Peek("s");
  CHECK(s.status == RunStatus::kScheduled);
  CHECK(Seconds(s.next_start_at) - t0 == Approx(5).margin(2e-6));
  e.clock.AdvanceSeconds(6);
  s = e.Peek("s");
  CHECK(s.status == RunStatus::kScheduled);  // repetition 1 ran from 5 to 5.5 s
  CHECK(Seconds(s.next_start_at) - t0 == Approx(15).margin(2e-6));
  e.clock.AdvanceSeconds(10);
  CHECK(e.Completed("s"));
}

TEST_CASE("PauseTest holds a series between repetitions; CancelTest ends it", "[unit]") {
  Engine e;
  double t0 = ToSeconds(e.clock.WallNow());
  REQUIRE(e.Execute(Repeating(R"J({"count": 0, "interval": 5})J")) == "s");
  e.clock.AdvanceSeconds(1);
  REQUIRE(e.registry.Pause("s").ok());
  RunSnapshot s = e.Peek("s");
  CHECK(s.status == RunStatus::kPaused);
  CHECK(Seconds(s.next_start_at) - t0 == Approx(5.5).margin(2e-6));
  e.clock.AdvanceSeconds(10);  // its start passes while paused: nothing starts
  s = e.Peek("s");
  CHECK(s.counts.started == 0);
  CHECK(s.repeat->repetition == 2);
  CHECK(s.repeat->repetitions == 0);
  CHECK(s.paused_ns == 0);  // paused before it started: no paused time of its own
  REQUIRE(e.registry.Unpause("s").ok());
  e.clock.RunDue();
  s = e.Peek("s");
  CHECK(s.status == RunStatus::kRunning);  // at once, anchored now
  CHECK(ToSeconds(s.time_start) - t0 == Approx(11).margin(2e-6));
  CHECK(s.counts.started == 1);
  e.clock.AdvanceSeconds(1);  // ended at 11.5 s; 3 is due at 16.5 s
  s = e.Peek("s");
  CHECK(s.status == RunStatus::kScheduled);
  CHECK(s.percent_complete == Approx(0));  // unbounded: the current repetition's own
  REQUIRE(e.Cancel("s").ok());
  // The last run is the one cancelled before its start: not in the history.
  CHECK(e.Cancel("s").error == EngineError::kUnknownRun);
}

TEST_CASE("CancelTest of a repetition in progress records it cancelled", "[unit]") {
  Engine e;
  REQUIRE(e.Execute(Repeating(R"J({"count": 5})J", 10)) == "s");
  e.clock.AdvanceSeconds(1);
  auto cancelled = e.Cancel("s");
  REQUIRE(cancelled.ok());
  CHECK(cancelled.value.was_running);
  const RunSnapshot& s = cancelled.value.snapshot;
  CHECK(s.completed);
  CHECK(s.status == RunStatus::kCancelled);
  CHECK(HistoryStatuses(s) == std::vector<std::string>{"cancelled"});
  CHECK(s.percent_complete == Approx(20));
}

TEST_CASE("A scheduled one-shot run can be paused: it starts when unpaused", "[unit]") {
  Engine e;
  double t0 = ToSeconds(e.clock.WallNow());
  std::string params = fmt::format(R"J({{"run_id": "p", "start_at": {},
      "operations": [{{"type": "comment"}}]}})J", t0 + 5);
  REQUIRE(e.Execute(params) == "p");
  REQUIRE(e.registry.Pause("p").ok());
  e.clock.AdvanceSeconds(2);
  REQUIRE(e.registry.Unpause("p").ok());  // before its start: scheduled again
  CHECK(e.Peek("p").status == RunStatus::kScheduled);
  REQUIRE(e.registry.Pause("p").ok());
  e.clock.AdvanceSeconds(10);
  RunSnapshot s = e.Peek("p");
  CHECK(s.status == RunStatus::kPaused);
  CHECK(s.counts.started == 0);
  CHECK(s.percent_complete == Approx(0));
  REQUIRE(e.registry.Unpause("p").ok());
  e.clock.RunDue();
  s = e.Peek("p");
  CHECK(s.completed);
  CHECK(ToSeconds(s.time_start) - t0 == Approx(12).margin(2e-6));
  CHECK(s.paused_ns == 0);
}

TEST_CASE("The interval runs from a repetition's end, not from after its hooks", "[unit]") {
  Engine e;
  double t0 = ToSeconds(e.clock.WallNow());
  // As a slow results_dir write would: 0.3 s pass inside the repetition's hook.
  e.registry.add_on_repetition([&e](const Run&) { e.clock.AdvanceSeconds(0.3); });
  REQUIRE(e.Execute(Repeating(R"J({"count": 2, "interval": 2})J")) == "s");
  e.clock.AdvanceSeconds(1);  // repetition 1 ended at 0.5 s
  RunSnapshot s = e.Peek("s");
  CHECK(s.status == RunStatus::kScheduled);
  CHECK(Seconds(s.next_start_at) - t0 == Approx(2.5).margin(2e-6));
}

TEST_CASE("Starts missed during a long hold are counted, the last 100 kept", "[unit]") {
  Engine e;
  double t0 = ToSeconds(e.clock.WallNow());
  std::string params = Repeating(R"J({"count": 0, "interval": 0.1, "from": "start"})J", 0.05);
  params.insert(1, fmt::format(R"J("start_at": {}, )J", t0 + 1));
  REQUIRE(e.Execute(params) == "s");
  REQUIRE(e.registry.Pause("s").ok());
  e.clock.AdvanceSeconds(1000);
  REQUIRE(e.registry.Unpause("s").ok());
  e.clock.AdvanceSeconds(0.06);  // repetition 1 ran from 1000 s (the unpause) to 1000.05 s
  RunSnapshot s = e.Peek("s");
  // Starts 2 to 9991 (1.1 s to 1000 s) were missed: 9,990 skipped, repetition 1 before them.
  REQUIRE(s.repeat->history.size() == 100);
  CHECK(s.repeat->history_older == 9891);
  CHECK(s.repeat->history.front().repetition == 9892);
  CHECK(s.repeat->history.back().repetition == 9991);
  CHECK(s.repeat->history.back().status == RepetitionStatus::kSkipped);
  CHECK(s.repeat->repetition == 9992);
  CHECK(Seconds(s.next_start_at) - t0 == Approx(1000.1).margin(1e-5));
}

TEST_CASE("Wrong values of repeat", "[unit]") {
  Engine e;
  auto problem = [&e](std::string_view repeat) {
    CHECK(e.Execute(Repeating(repeat)).empty());
    REQUIRE(e.last.problems.size() == 1);
    return e.last.problems[0].field + " " + e.last.problems[0].problem;
  };
  CHECK(problem("3") == "repeat must be an object, got 3");
  CHECK(problem("{}") == "repeat.count is required");
  CHECK(problem(R"J({"count": -1})J") ==
        "repeat.count must be between 0 and 1000000000, got -1");
  CHECK(problem(R"J({"count": 2, "interval": -1})J").rfind("repeat.interval must be", 0) == 0);
  CHECK(problem(R"J({"count": 2, "from": "middle"})J") ==
        "repeat.from must be \"end\" or \"start\", got \"middle\"");
  CHECK(problem(R"J({"count": 2, "from": "start"})J") == "repeat.interval is required");
  CHECK(problem(R"J({"count": 2, "interval": 0.05, "from": "start"})J") ==
        "repeat.interval must be at least 0.1 s with from \"start\", got 0.05");
  CHECK(problem(R"J({"count": 2, "every": 3})J") == "repeat.every is unknown");
  CHECK(e.registry.live_runs() == 0);
}

TEST_CASE("A fixed cadence skips nothing beyond count when the last repetition starts",
          "[unit]") {
  // The cadence timer for the last planned start stayed armed after that repetition was
  // made; when the repetition's own start came first (its start and the timer's deadline
  // rounded apart through the microsecond wall clock: here the clock is 0.9 us past a whole
  // microsecond and repetition 1 ends 0.3 us past one), it fired while the repetition ran
  // and recorded repetition count + 1 skipped.
  Engine e;
  e.clock.AdvanceSeconds(0.0000009);
  REQUIRE(e.Execute(Repeating(R"J({"count": 2, "interval": 1, "from": "start"})J",
                              0.5000003)) == "s");
  e.clock.AdvanceSeconds(5);
  RunSnapshot s = e.Peek("s");
  CHECK(s.completed);
  CHECK(HistoryStatuses(s) == std::vector<std::string>{"completed", "completed"});
  CHECK(s.repeat->history.back().repetition == 2);
}

}  // namespace
}  // namespace testrund::ops
