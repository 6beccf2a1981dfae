// SPDX-License-Identifier: Apache-2.0
// RunRegistry::Restore (docs/api.md#state-that-survives-the-daemon) on a fake clock: each
// kind of run a state_dir file can describe comes back as documented — ended, interrupted,
// scheduled, paused, repeating on either cadence — and a run_id taken or a definition that
// no longer validates.
#include <memory>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "test/unit/engine_test_util.h"

namespace testrund::ops {
namespace {

using testing::Engine;
using testing::ParseJson;

RestoredRun Saved(const std::string& params, SeriesState series, const std::string& result) {
  RestoredRun saved;
  saved.params = ParseJson(params);
  saved.run_id = saved.params["run_id"].GetString();
  saved.series = std::move(series);
  saved.result = std::make_shared<rapidjson::Document>(ParseJson(result));
  saved.saved_at = {1'700'000'000, 0};
  return saved;
}

constexpr const char* kOneShot =
    R"J({"run_id": "r", "operations": [{"type": "halt", "arguments": {"seconds": 60}}]})J";
constexpr const char* kResult =
    R"J({"run_id": "r", "status": "running", "time_start": [1699999990, 0],
        "counts": {"started": 3, "finished": 0, "failed": 0, "aborted": 0, "cancelled": 0,
                   "passed": 0, "late": 0}, "tags": ["t"]})J";

TEST_CASE("Restore: a one-shot run that was running comes back interrupted", "[unit]") {
  Engine e;
  int ended = 0;
  e.registry.add_on_completed([&ended](const RunSeries& series) {
    ++ended;
    CHECK(series.status() == RunStatus::kInterrupted);
  });
  SeriesState state;
  state.began = true;
  auto restored = e.registry.Restore(Saved(kOneShot, state, kResult));
  REQUIRE(restored.ok());
  CHECK(restored.value == RunStatus::kInterrupted);
  CHECK(ended == 1);  // it ended by coming back: its results file, its final report
  rapidjson::Document status = e.Status("r");
  CHECK(std::string(status["status"].GetString()) == "interrupted");
  CHECK(status["completed"].GetInt() == 1);
  CHECK(status["counts"]["started"].GetInt() == 3);
  CHECK(std::string(status["status_reason"].GetString()) ==
        "The daemon stopped while the run was running; these are its results as of "
        "[1700000000, 0].");
  RunSnapshot s = e.Peek("r");
  CHECK(s.counts.started == 3);
  CHECK(s.tags == std::vector<std::string>{"t"});
  CHECK(e.registry.Pause("r").message == "run \"r\" is interrupted, not running");
  CHECK(e.registry.Resume("r", 0, nullptr).error == EngineError::kNotHalted);
  CHECK_FALSE(e.Cancel("r").value.was_running);
}

TEST_CASE("Restore: a run_id in use is refused", "[unit]") {
  Engine e;
  REQUIRE(e.Execute(kOneShot) == "r");
  SeriesState state;
  state.began = true;
  CHECK(e.registry.Restore(Saved(kOneShot, state, kResult)).error == EngineError::kRunIdInUse);
}

TEST_CASE("Restore: an ended run answers from its saved result", "[unit]") {
  Engine e;
  int ended = 0;
  e.registry.add_on_completed([&ended](const RunSeries&) { ++ended; });
  SeriesState state;
  state.began = true;
  state.ended = true;
  std::string result = kResult;
  result.replace(result.find("running"), 7, "completed");
  auto restored = e.registry.Restore(Saved(kOneShot, state, result));
  REQUIRE(restored.ok());
  CHECK(restored.value == RunStatus::kCompleted);
  CHECK(ended == 0);  // its end was reported before the stop
  CHECK(std::string(e.Status("r")["status"].GetString()) == "completed");
}

TEST_CASE("Restore: a scheduled run comes back at its start, paused if it was", "[unit]") {
  Engine e;
  double now = ToSeconds(e.clock.WallNow());
  SeriesState state;
  state.start = now + 5;
  state.paused = true;
  auto restored = e.registry.Restore(Saved(kOneShot, state, kResult));
  REQUIRE(restored.ok());
  CHECK(restored.value == RunStatus::kPaused);
  REQUIRE(e.registry.Unpause("r").ok());
  RunSnapshot s = e.Peek("r");
  CHECK(s.status == RunStatus::kScheduled);
  CHECK(ToSeconds(*s.next_start_at) - now == Approx(5).margin(1e-6));
  e.clock.AdvanceSeconds(5.5);
  CHECK(e.Counts("r").halted == 1);
}

TEST_CASE("Restore: a start that passed while the daemon was down is now", "[unit]") {
  Engine e;
  SeriesState state;
  state.start = ToSeconds(e.clock.WallNow()) - 3600;
  REQUIRE(e.registry.Restore(Saved(kOneShot, state, kResult)).ok());
  e.clock.RunDue();
  CHECK(e.Counts("r").halted == 1);
}

TEST_CASE("Restore: a repeating run records the interrupted repetition and goes on",
          "[unit]") {
  Engine e;
  double now = ToSeconds(e.clock.WallNow());
  std::string params = fmt::format(
      R"J({{"run_id": "r", "repeat": {{"count": 10, "interval": 60, "from": "start"}},
          "operations": [{{"type": "comment"}}]}})J");
  SeriesState state;
  state.began = true;
  state.repetition = 2;
  state.next_number = 3;
  state.anchor = now - 150;  // planned: -150, -90, -30, +30, ...
  auto restored = e.registry.Restore(Saved(params, state, kResult));
  REQUIRE(restored.ok());
  RunSnapshot s = e.Peek("r");
  CHECK(s.status == RunStatus::kScheduled);
  REQUIRE(s.repeat);
  CHECK(s.repeat->repetition == 4);
  REQUIRE(s.repeat->history.size() == 2);
  CHECK(s.repeat->history[0].repetition == 2);
  CHECK(s.repeat->history[0].status == RepetitionStatus::kInterrupted);
  CHECK(s.repeat->history[0].counts.started == 3);
  CHECK(s.repeat->history[1].repetition == 3);
  CHECK(s.repeat->history[1].status == RepetitionStatus::kSkipped);
  CHECK(ToSeconds(*s.next_start_at) - now == Approx(30).margin(1e-6));
}

TEST_CASE("Restore: a repeating run whose last repetition was interrupted ends with it in "
          "its history", "[unit]") {
  Engine e;
  int ended = 0;
  e.registry.add_on_completed([&ended](const RunSeries&) { ++ended; });
  std::string params =
      R"J({"run_id": "r", "repeat": {"count": 2, "interval": 60},
           "operations": [{"type": "comment"}]})J";
  SeriesState state;
  state.began = true;
  state.repetition = 2;
  state.next_number = 3;
  RepetitionSummary first;
  first.repetition = 1;
  first.status = RepetitionStatus::kCompleted;
  state.history = {first};
  std::string result = kResult;
  result.insert(result.size() - 1,
                R"J(, "repetition": 2, "repetitions": 2,
                    "history": [{"repetition": 1, "status": "completed"}], "history_older": 0)J");
  auto restored = e.registry.Restore(Saved(params, state, result));
  REQUIRE(restored.ok());
  CHECK(restored.value == RunStatus::kInterrupted);
  CHECK(ended == 1);
  RunSnapshot s = e.Peek("r");
  REQUIRE(s.repeat);
  CHECK(s.repeat->repetition == 2);
  CHECK(s.repeat->repetitions == 2);
  REQUIRE(s.repeat->history.size() == 2);
  CHECK(s.repeat->history[1].status == RepetitionStatus::kInterrupted);
  // QueryTest's object: the saved one, with the series' history.
  rapidjson::Document status = e.Status("r");
  REQUIRE(status["history"].Size() == 2);
  CHECK(std::string(status["history"][1]["status"].GetString()) == "interrupted");
  CHECK(status["history"][1]["counts"]["started"].GetInt() == 3);
}

TEST_CASE("Restore: a definition that no longer validates comes back failed", "[unit]") {
  Engine e;
  SeriesState state;
  state.start = ToSeconds(e.clock.WallNow()) + 5;
  std::string params = R"J({"run_id": "r", "data": {"file": "gone.csv"},
                            "operations": [{"type": "comment"}]})J";
  auto restored = e.registry.Restore(Saved(params, state, kResult));
  REQUIRE(restored.ok());
  CHECK(restored.value == RunStatus::kFailed);
  std::string reason = e.Status("r")["status_reason"].GetString();
  CHECK(reason.rfind("It could not start again after the daemon restarted: its definition no "
                     "longer validates: data.file",
                     0) == 0);
}

}  // namespace
}  // namespace testrund::ops
