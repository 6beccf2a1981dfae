// SPDX-License-Identifier: Apache-2.0
// A run's state_dir file (daemon/run_state.h): what is written reads back the same, and a
// file with a wrong or missing member is refused with that member named.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <rapidjson/pointer.h>

#include "daemon/run_state.h"
#include "test/unit/engine_test_util.h"

namespace testrund::daemon {
namespace {

using ops::testing::ParseJson;
using ops::testing::ToText;

ops::SeriesState Series() {
  ops::SeriesState s;
  s.repetition = 4;
  s.next_number = 6;
  s.anchor = 1'700'000'000.25;
  ops::RepetitionSummary done;
  done.repetition = 3;
  done.status = ops::RepetitionStatus::kFailed;
  done.status_reason = "Threshold failed.";
  done.start = {1'700'000'010, 5};
  done.end = {1'700'000'011, 999'999};
  done.counts.started = 10;
  done.counts.finished = 10;
  done.counts.failed = 2;
  done.counts.passed = 8;
  done.thresholds.push_back({"latency_p99[0] <= 0.25", false, 0.5});
  done.thresholds.push_back({"fail_rate <= 0.1", true, std::nullopt});
  ops::RepetitionSummary skipped;
  skipped.repetition = 5;
  skipped.status = ops::RepetitionStatus::kSkipped;
  s.history = {done, skipped};
  s.history_older = 2;
  s.began = true;
  s.paused = true;
  return s;
}

TEST_CASE("run_state: a saved run reads back the same", "[unit]") {
  rapidjson::Document params = ParseJson(R"J({"run_id": "n", "operations": [{"type": "comment"}]})J");
  rapidjson::Document result = ParseJson(R"J({"run_id": "n", "counts": {"started": 1}})J");
  std::string text = SavedRunText("n", params, 3, Series(), result, {1'700'000'020, 7});
  REQUIRE(text.back() == '\n');
  rapidjson::Document file = ParseJson(text);
  CHECK(file["format"].GetInt() == 1);
  Result<SavedRun> saved = ReadSavedRun(file);
  REQUIRE(saved.ok());
  CHECK(saved->run_id == "n");
  CHECK(ToText(saved->params) == ToText(params));
  CHECK(ToText(saved->result) == ToText(result));
  CHECK(saved->restarts == 3);
  CHECK(saved->saved_at.sec == 1'700'000'020);
  const ops::SeriesState& s = saved->series;
  ops::SeriesState want = Series();
  CHECK(s.repetition == 4);
  CHECK(s.next_number == 6);
  CHECK(s.anchor == want.anchor);
  CHECK(s.history_older == 2);
  CHECK(s.began);
  CHECK(s.paused);
  CHECK_FALSE(s.ended);
  CHECK_FALSE(s.start);
  REQUIRE(s.history.size() == 2);
  CHECK(s.history[0].status == ops::RepetitionStatus::kFailed);
  CHECK(s.history[0].status_reason == "Threshold failed.");
  CHECK(s.history[0].end.usec == 999'999);
  CHECK(s.history[0].counts.failed == 2);
  CHECK(s.history[0].thresholds == want.history[0].thresholds);
  CHECK(s.history[1].status == ops::RepetitionStatus::kSkipped);
}

std::vector<SavedReporter> Reporters() {
  SavedReporter settled;
  settled.state = "failed";
  settled.attempts = 4;
  settled.last_error = "timeout after 5 s";
  settled.failed = 1;
  SavedReporter busy;
  busy.sent = 7;
  busy.pending.push_back({ops::ReportEvent::kRepetition, R"({"repetition":3})", 2, "HTTP status 503"});
  busy.pending.push_back({ops::ReportEvent::kFinal, R"({"status":"completed"})", 0, ""});
  busy.newest_pending = true;
  return {settled, busy};
}

TEST_CASE("run_state: the reporters' pending reports read back the same", "[unit]") {
  rapidjson::Document params = ParseJson(R"J({"run_id": "n"})J");
  rapidjson::Document result = ParseJson(R"J({})J");
  std::string without = SavedRunText("n", params, 0, Series(), result, {1, 2});
  CHECK_FALSE(ParseJson(without).HasMember("reporters"));
  Result<SavedRun> none = ReadSavedRun(ParseJson(without));
  REQUIRE(none.ok());
  CHECK(none->reporters.empty());

  std::string text = SavedRunText("n", params, 0, Series(), result, {1, 2}, Reporters());
  Result<SavedRun> saved = ReadSavedRun(ParseJson(text));
  REQUIRE(saved.ok());
  REQUIRE(saved->reporters.size() == 2);
  const SavedReporter& settled = saved->reporters[0];
  CHECK((settled.state == "failed" && settled.attempts == 4 && settled.failed == 1));
  CHECK(settled.last_error == "timeout after 5 s");
  CHECK(settled.pending.empty());
  CHECK_FALSE(settled.newest_pending);
  const SavedReporter& busy = saved->reporters[1];
  CHECK((busy.state == "idle" && busy.sent == 7 && busy.newest_pending));
  REQUIRE(busy.pending.size() == 2);
  CHECK(busy.pending[0].event == ops::ReportEvent::kRepetition);
  CHECK(busy.pending[0].body == R"({"repetition":3})");
  CHECK(busy.pending[0].failed_attempts == 2);
  CHECK(busy.pending[0].last_error == "HTTP status 503");
  CHECK(busy.pending[1].event == ops::ReportEvent::kFinal);
}

TEST_CASE("run_state: a wrong or missing member is named", "[unit]") {
  rapidjson::Document params = ParseJson(R"J({"run_id": "n"})J");
  rapidjson::Document result = ParseJson(R"J({})J");
  std::string good = SavedRunText("n", params, 0, Series(), result, {1, 2}, Reporters());
  auto problem = [&good](const char* pointer, const char* replacement) {
    rapidjson::Document file = ParseJson(good);
    rapidjson::Document value = ParseJson(replacement);
    rapidjson::Value* target = rapidjson::Pointer(pointer).Get(file);
    REQUIRE(target != nullptr);
    target->CopyFrom(value, file.GetAllocator());
    Result<SavedRun> saved = ReadSavedRun(file);
    REQUIRE_FALSE(saved.ok());
    return saved.status().message();
  };
  CHECK(problem("/params", "3") == "params is not an object");
  CHECK(problem("/restarts", "-1") == "restarts is not a non-negative integer");
  CHECK(problem("/series/history/0/status", R"("done")") ==
        "series.history[0].status \"done\" is not a repetition's status");
  CHECK(problem("/series/history/1/counts/passed", "1.5") ==
        "series.history[1].counts.passed is not a non-negative integer");
  CHECK(problem("/series/history/0/thresholds/0/ok", "1") ==
        "series.history[0].thresholds[0].ok is not true or false");
  CHECK(problem("/series/next_number", "4") == "series.next_number is not after repetition");
  CHECK(problem("/saved_at", "[1]") == "saved_at is not [seconds, microseconds]");
  CHECK(problem("/result", "[]") == "result is not an object");
  CHECK(problem("/reporters", "{}") == "reporters is not an array");
  CHECK(problem("/reporters/0/state", R"("pending")") ==
        "reporters[0].state \"pending\" is not a settled report's state");
  CHECK(problem("/reporters/0/attempts", "5") == "reporters[0].attempts is more than 4");
  CHECK(problem("/reporters/0/newest_pending", "true") ==
        "reporters[0].newest_pending is true with no report pending");
  CHECK(problem("/reporters/1/pending/0/event", R"("end")") ==
        "reporters[1].pending[0].event \"end\" is not a report's event");
  CHECK(problem("/reporters/1/pending/1/failed_attempts", "4") ==
        "reporters[1].pending[1].failed_attempts is more than 3");
  CHECK(problem("/reporters/1/pending/1/body", "{}") ==
        "reporters[1].pending[1].body is not a string");
  rapidjson::Document missing = ParseJson(good);
  missing.RemoveMember("series");
  CHECK(ReadSavedRun(missing).status().message() == "series is missing");
}

}  // namespace
}  // namespace testrund::daemon
