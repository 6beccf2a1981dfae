// SPDX-License-Identifier: Apache-2.0
// RunHistory and LiveView (the operator page's live data, docs/ui.md#live-data) on a fake
// clock: per-interval counts and percentiles, the history window, Last-Event-ID catch-up,
// the end of a discarded run's stream, and the URL query reader of GET /ui/events.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "daemon/http_framing.h"
#include "daemon/live_view.h"
#include "daemon/run_history.h"
#include "test/unit/engine_test_util.h"

namespace testrund::daemon {
namespace {

using ops::testing::Engine;
using ops::testing::ParseJson;

// 10 instances a second, each waiting 20 ms, for 60 s.
constexpr std::string_view kPaced = R"J({"run_id": "paced",
  "distribution": {"type": "linear", "rate": 10, "duration": 60},
  "operations": [{"type": "wait", "arguments": {"seconds": 0.02}}]})J";

struct Event {
  std::string name;
  std::string id;
  rapidjson::Document data;
};

// Records what a LiveView sends, split into events.
class RecordingSink : public EventSink {
 public:
  void Push(std::string_view event) override {
    Event e;
    size_t pos = 0;
    while (pos < event.size()) {
      size_t end = event.find('\n', pos);
      std::string_view line = event.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) break;
      size_t colon = line.find(": ");
      std::string_view field = line.substr(0, colon);
      std::string_view value = line.substr(colon + 2);
      if (field == "event") e.name = value;
      if (field == "id") e.id = value;
      if (field == "data") e.data = ParseJson(value);
    }
    events.push_back(std::move(e));
  }
  void End() override { ended = true; }

  std::vector<Event> events;
  bool ended = false;
};

ops::RunSnapshot Sample(Engine& e, const std::string& run_id) {
  return e.Peek(run_id, ops::kSnapshotHistograms);
}

TEST_CASE("FormatEvent writes the event, its id and one data line", "[unit]") {
  CHECK(FormatEvent("delta", 7, R"({"a":1})") == "event: delta\nid: 7\ndata: {\"a\":1}\n\n");
  CHECK(FormatEvent("end", 0, "{}") == "event: end\ndata: {}\n\n");
}

TEST_CASE("RunHistory: each point holds its own interval's counts and percentiles", "[unit]") {
  Engine e;
  std::string id = e.Execute(kPaced);
  RunHistory history;
  e.clock.AdvanceSeconds(1.0);
  const IntervalPoint* first = history.Sample(Sample(e, id));
  REQUIRE(first != nullptr);
  CHECK(first->id == 1);
  CHECK(first->seconds == Approx(1.0));
  CHECK(first->started == 11);  // at 0, 0.1, ..., 1.0 s
  CHECK(first->finished == 10);  // the one started at 1.0 s is still waiting
  REQUIRE(first->latency.size() == 1);
  CHECK(first->latency[0].op_idx == 0);
  CHECK(first->latency[0].count == 10);
  // 20 ms, within the histogram's resolution.
  CHECK(first->latency[0].p50 == Approx(20e6).epsilon(0.02));
  e.clock.AdvanceSeconds(2.0);
  const IntervalPoint* second = history.Sample(Sample(e, id));
  REQUIRE(second != nullptr);
  CHECK(second->id == 2);
  CHECK(second->seconds == Approx(2.0));
  CHECK(second->started == 20);
  REQUIRE(second->latency.size() == 1);
  CHECK(second->latency[0].count == 20);
  CHECK(second->Json().find(R"("started":20)") != std::string::npos);
}

TEST_CASE("RunHistory: a completed run gets one last point, then none", "[unit]") {
  Engine e;
  std::string id = e.Execute(R"J({"operations": [{"type": "wait", "arguments": {"seconds": 0.5}}]})J");
  RunHistory history;
  e.clock.AdvanceSeconds(0.2);
  REQUIRE(history.Sample(Sample(e, id)) != nullptr);
  CHECK(history.points().back().finished == 0);
  e.clock.AdvanceSeconds(1.0);
  const IntervalPoint* last = history.Sample(Sample(e, id));
  REQUIRE(last != nullptr);
  CHECK(last->finished == 1);
  CHECK(last->seconds == Approx(0.3));  // up to the finish, not to the sample
  e.clock.AdvanceSeconds(1.0);
  CHECK(history.Sample(Sample(e, id)) == nullptr);
  CHECK(history.points().size() == 2);
}

TEST_CASE("RunHistory::After gives the missed points while the window holds them", "[unit]") {
  Engine e;
  std::string id = e.Execute(kPaced);
  RunHistory history;
  CHECK_FALSE(history.After(0).has_value());  // nothing yet: a snapshot
  for (size_t k = 0; k < RunHistory::kMaxPoints + 5; ++k) {
    e.clock.AdvanceSeconds(0.05);
    history.Sample(Sample(e, id));
  }
  CHECK(history.points().size() == RunHistory::kMaxPoints);
  CHECK(history.points().front().id == 6);
  auto missed = history.After(RunHistory::kMaxPoints + 2);
  REQUIRE(missed.has_value());
  REQUIRE(missed->size() == 3);
  CHECK((*missed)[0]->id == RunHistory::kMaxPoints + 3);
  CHECK(history.After(RunHistory::kMaxPoints + 5).value().empty());
  CHECK(history.After(5).value().size() == RunHistory::kMaxPoints);
  CHECK_FALSE(history.After(4).has_value());  // point 5 fell out of the window
  CHECK_FALSE(history.After(RunHistory::kMaxPoints + 6).has_value());  // never sent
}

// The view samples at 1, 2, 3 s; runs started after construction start at 0.05 s, so no
// start falls on a sample.
struct View {
  View() : view(e.registry, e.clock, [] { return std::string(R"({"version":"t"})"); }) {
    e.clock.AdvanceSeconds(0.05);
  }
  void Tick() { e.clock.AdvanceSeconds(1.0); }

  Engine e;
  LiveView view;
};

TEST_CASE("LiveView: the runs stream sends the list at once and each interval", "[unit]") {
  View v;
  v.e.Execute(kPaced);
  RecordingSink sink;
  REQUIRE(v.view.Subscribe(sink, "", std::nullopt));
  REQUIRE(sink.events.size() == 1);
  CHECK(sink.events[0].name == "runs");
  CHECK(sink.events[0].id == "1");
  CHECK(sink.events[0].data["server"]["version"] == "t");
  v.Tick();
  REQUIRE(sink.events.size() == 2);
  const rapidjson::Value& run = sink.events[1].data["runs"][0];
  CHECK(run["run_id"] == "paced");
  CHECK(run["counts"]["started"].GetUint64() == 10);
  CHECK(run["start_rate"].GetDouble() == Approx(10 / 0.95));
  CHECK(run["percent_complete"].GetDouble() == Approx(0.95 * 100 / 60));
  v.view.Unsubscribe(sink);
  v.Tick();
  CHECK(sink.events.size() == 2);
  CHECK(v.view.subscribers() == 0);
}

TEST_CASE("LiveView: a run's stream is a snapshot, then one delta per interval", "[unit]") {
  View v;
  v.e.Execute(kPaced);
  v.Tick();
  v.Tick();
  RecordingSink sink;
  REQUIRE(v.view.Subscribe(sink, "paced", std::nullopt));
  REQUIRE(sink.events.size() == 1);
  CHECK(sink.events[0].name == "snapshot");
  CHECK(sink.events[0].id == "2");
  CHECK(sink.events[0].data["points"].Size() == 2);
  CHECK(sink.events[0].data["run"]["run_id"] == "paced");
  CHECK(sink.events[0].data["run"]["counts"]["started"].GetUint64() == 21);  // at 2.05 s
  // The first event names the ops; deltas do not repeat them.
  const rapidjson::Value& ops = sink.events[0].data["ops"];
  REQUIRE(ops.Size() == 1);
  CHECK(ops[0]["type"] == "wait");
  CHECK_FALSE(ops[0].HasMember("label"));
  v.Tick();
  REQUIRE(sink.events.size() == 2);
  CHECK(sink.events[1].name == "delta");
  CHECK(sink.events[1].id == "3");
  REQUIRE(sink.events[1].data["points"].Size() == 1);
  CHECK_FALSE(sink.events[1].data.HasMember("ops"));
  CHECK(sink.events[1].data["points"][0]["id"].GetUint64() == 3);
  CHECK(sink.events[1].data["points"][0]["started"].GetUint64() == 10);
  CHECK(sink.events[1].data["run"]["counts"]["started"].GetUint64() == 30);
}

TEST_CASE("LiveView: Last-Event-ID gets the missed points, or a snapshot", "[unit]") {
  View v;
  v.e.Execute(kPaced);
  for (int k = 0; k < 5; ++k) v.Tick();
  RecordingSink caught_up;
  REQUIRE(v.view.Subscribe(caught_up, "paced", 2));
  REQUIRE(caught_up.events.size() == 1);
  CHECK(caught_up.events[0].name == "delta");
  CHECK(caught_up.events[0].id == "5");
  const rapidjson::Value& points = caught_up.events[0].data["points"];
  REQUIRE(points.Size() == 3);
  CHECK(points[0]["id"].GetUint64() == 3);
  CHECK(points[2]["id"].GetUint64() == 5);
  RecordingSink up_to_date;
  REQUIRE(v.view.Subscribe(up_to_date, "paced", 5));
  CHECK(up_to_date.events[0].name == "delta");
  CHECK(up_to_date.events[0].data["points"].Size() == 0);
  RecordingSink from_elsewhere;  // an id this daemon never sent (e.g. before a restart)
  REQUIRE(v.view.Subscribe(from_elsewhere, "paced", 99));
  CHECK(from_elsewhere.events[0].name == "snapshot");
  CHECK(from_elsewhere.events[0].data["points"].Size() == 5);
}

TEST_CASE("LiveView: a run started since the last interval streams from the next", "[unit]") {
  View v;
  v.Tick();
  v.e.Execute(kPaced);
  RecordingSink sink;
  REQUIRE(v.view.Subscribe(sink, "paced", std::nullopt));
  CHECK(sink.events[0].name == "snapshot");
  CHECK(sink.events[0].id.empty());  // no point yet, so no id
  CHECK(sink.events[0].data["points"].Size() == 0);
  v.Tick();
  CHECK(sink.events.back().id == "1");
}

TEST_CASE("LiveView: unknown runs are refused, discarded runs end their streams", "[unit]") {
  View v;
  RecordingSink nobody;
  CHECK_FALSE(v.view.Subscribe(nobody, "nosuch", std::nullopt));
  CHECK(nobody.events.empty());
  CHECK_FALSE(v.view.Knows("nosuch"));
  v.e.Execute(kPaced);
  CHECK(v.view.Knows("paced"));
  RecordingSink sink;
  RecordingSink other;
  REQUIRE(v.view.Subscribe(sink, "paced", std::nullopt));
  REQUIRE(v.view.Subscribe(other, "", std::nullopt));
  v.e.Cancel("paced");  // CancelTest discards the run
  v.Tick();
  CHECK(sink.ended);
  CHECK(sink.events.back().name == "end");
  CHECK(sink.events.back().data["run_id"] == "paced");
  CHECK_FALSE(other.ended);
  CHECK(other.events.back().data["runs"].Size() == 0);
  CHECK(v.view.subscribers() == 1);
}

TEST_CASE("LiveView: deltas carry the summaries' logs only when they changed", "[unit]") {
  View v;
  // Instance 0 checks once, waits 1.5 s, checks again; later instances halt.
  v.e.Execute(R"J({"run_id": "logs", "distribution": {"type": "load", "total": 2},
    "operations": [{"type": "assert", "expression": "true"},
                   {"type": "branch", "expression": "instance ~= 0", "on_true": "park"},
                   {"type": "wait", "arguments": {"seconds": 1.5}},
                   {"type": "assert", "expression": "true"},
                   {"type": "halt", "label": "park", "arguments": {"seconds": 600}}]})J");
  RecordingSink sink;
  REQUIRE(v.view.Subscribe(sink, "logs", std::nullopt));
  auto has_logs = [&](size_t k) {
    return sink.events[k].data["run"].HasMember("first_call_summary");
  };
  CHECK(has_logs(0));  // the snapshot has them
  v.Tick();            // 1.05 s: nothing new (the first delta says what it holds)
  CHECK(has_logs(1));
  v.Tick();            // 2.05 s: instance 0 checked again and went on to its halt
  REQUIRE(sink.events.size() == 3);
  CHECK(has_logs(2));
  CHECK(sink.events[2].data["run"]["first_call_summary"]["check_log"].Size() == 2);
  v.Tick();  // unchanged: left out
  CHECK_FALSE(has_logs(3));
  CHECK_FALSE(sink.events[3].data["run"].HasMember("first_fail_summary"));
  CHECK(sink.events[3].data["run"]["counts"]["halted"].GetUint64() == 2);
  RecordingSink late;  // a new page gets them in its snapshot whatever the others have
  REQUIRE(v.view.Subscribe(late, "logs", std::nullopt));
  CHECK(late.events[0].data["run"].HasMember("first_call_summary"));
}

TEST_CASE("QueryParameter finds and percent-decodes one parameter", "[unit]") {
  CHECK(QueryParameter("run_id=a", "run_id") == "a");
  CHECK(QueryParameter("x=1&run_id=a%20b+c&y", "run_id") == "a b c");
  CHECK(QueryParameter("run_id=", "run_id") == "");
  CHECK(QueryParameter("run_id", "run_id") == "");
  CHECK(QueryParameter("run_idx=1", "run_id") == std::nullopt);
  CHECK(QueryParameter("", "run_id") == std::nullopt);
  CHECK(QueryParameter("run_id=%zz%4", "run_id") == "%zz%4");  // malformed: kept
  CHECK(QueryParameter("run%5Fid=%22q%22", "run_id") == "\"q\"");
}

TEST_CASE("The request parser keeps the query, Last-Event-ID and If-None-Match", "[unit]") {
  HttpRequestParser parser(8192, 1024);
  std::string text =
      "GET /ui/events?run_id=r%201 HTTP/1.1\r\nLast-Event-ID: 42\r\n"
      "If-None-Match: \"abc\"\r\n\r\n";
  HttpRequestParser::FeedResult result = parser.Feed(text.data(), text.size());
  REQUIRE(result.state == HttpRequestParser::State::kRequest);
  HttpRequest request = parser.TakeRequest();
  CHECK(request.path == "/ui/events");
  CHECK(request.query == "run_id=r%201");
  CHECK(request.last_event_id == "42");
  CHECK(request.if_none_match == "\"abc\"");
}

TEST_CASE("LiveView: a scheduled run streams its state but no point until it starts",
          "[unit]") {
  View v;
  // FakeClock's wall clock starts at 1,700,000,000 s: this run starts 2.5 s later.
  v.e.Execute(R"J({"run_id": "later", "start_at": 1700000002.5,
    "distribution": {"type": "linear", "rate": 10, "duration": 60},
    "operations": [{"type": "wait", "arguments": {"seconds": 0.02}}]})J");
  RecordingSink sink;
  REQUIRE(v.view.Subscribe(sink, "later", std::nullopt));
  v.Tick();
  v.Tick();
  REQUIRE(sink.events.size() == 3);
  for (const Event& event : sink.events) {
    CHECK(event.data["points"].Size() == 0);
    CHECK(event.data["run"]["status"] == "scheduled");
  }
  v.Tick();  // 3 s: running since 2.5 s
  REQUIRE(sink.events.size() == 4);
  CHECK(sink.events[3].data["run"]["status"] == "running");
  REQUIRE(sink.events[3].data["points"].Size() == 1);
  // The first point spans the run's own time, from its start: 5 starts in 0.5 s.
  CHECK(sink.events[3].data["points"][0]["started"].GetUint64() == 5);
  CHECK(sink.events[3].data["points"][0]["seconds"].GetDouble() == Approx(0.5).margin(0.06));
}

}  // namespace
}  // namespace testrund::daemon
