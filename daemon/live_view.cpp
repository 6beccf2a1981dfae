// SPDX-License-Identifier: Apache-2.0
// LiveView (see live_view.h).
#include "daemon/live_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "ops/base/json_writer.h"
#include "rpc/run_result.h"

namespace testrund::daemon {
namespace {

// {"points":[...]} member text of `points`.
std::string PointsJson(const std::vector<const IntervalPoint*>& points) {
  std::string out = "[";
  for (size_t k = 0; k < points.size(); ++k) {
    if (k) out += ',';
    out += points[k]->Json();
  }
  out += ']';
  return out;
}

// [{"type": "http", "label": "login"}, {"type": "wait"}, ...]: the run's ops by index.
std::string OpsJson(const std::vector<ops::OpSummary>& ops) {
  std::string out = "[";
  for (size_t k = 0; k < ops.size(); ++k) {
    if (k) out += ',';
    out += fmt::format(R"({{"type":{})", ops::JsonString(ops[k].type));
    if (!ops[k].label.empty()) out += fmt::format(R"(,"label":{})", ops::JsonString(ops[k].label));
    out += '}';
  }
  out += ']';
  return out;
}

std::vector<const IntervalPoint*> AllPoints(const RunHistory& history) {
  std::vector<const IntervalPoint*> out;
  out.reserve(history.points().size());
  for (const IntervalPoint& point : history.points()) out.push_back(&point);
  return out;
}

uint64_t LastId(const RunHistory& history) {
  return history.points().empty() ? 0 : history.points().back().id;
}

void Remove(std::vector<EventSink*>& sinks, EventSink* sink) {
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
}

}  // namespace

std::string FormatEvent(std::string_view name, uint64_t id, std::string_view data) {
  // `data` is one line of JSON (JSON text escapes every newline inside strings).
  if (id == 0) return fmt::format("event: {}\ndata: {}\n\n", name, data);
  return fmt::format("event: {}\nid: {}\ndata: {}\n\n", name, id, data);
}

LiveView::LiveView(ops::RunRegistry& registry, ops::Clock& clock, ServerJson server,
                   ops::MonoNs interval)
    : registry_(registry), clock_(clock), server_(std::move(server)), interval_(interval) {
  timer_ = clock_.NewTimer([this] { OnTick(); });
  timer_->ArmAt(clock_.Now() + interval_);
}

LiveView::~LiveView() = default;

size_t LiveView::subscribers() const {
  size_t n = list_sinks_.size();
  for (const auto& [id, watched] : runs_) n += watched.sinks.size();
  return n;
}

bool LiveView::Subscribe(EventSink& sink, std::string_view run_id,
                         std::optional<uint64_t> last_event_id) {
  if (run_id.empty()) {
    list_sinks_.push_back(&sink);
    sink.Push(FormatEvent("runs", ++list_event_id_, RunsListData(CurrentRuns())));
    return true;
  }
  auto it = runs_.find(run_id);
  if (it == runs_.end()) {
    // Started since the last tick: its history begins at the next one.
    if (!Knows(run_id)) return false;
    it = runs_.emplace(std::string(run_id), Watched{}).first;
  }
  const RunHistory& history = it->second.history;
  std::optional<std::vector<const IntervalPoint*>> missed;
  if (last_event_id) missed = history.After(*last_event_id);
  std::optional<std::string> data =
      RunData(run_id, missed ? *missed : AllPoints(history), nullptr, /*with_ops=*/true);
  if (!data) return false;
  it->second.sinks.push_back(&sink);
  sink.Push(FormatEvent(missed ? "delta" : "snapshot", LastId(history), *data));
  return true;
}

bool LiveView::Knows(std::string_view run_id) {
  rapidjson::Document::AllocatorType alloc;  // the summary holds no JSON values
  return registry_.Peek(run_id, 0, alloc).has_value();
}

void LiveView::Unsubscribe(EventSink& sink) {
  Remove(list_sinks_, &sink);
  for (auto& [id, watched] : runs_) Remove(watched.sinks, &sink);
}

void LiveView::OnTick() {
  std::vector<ops::RunSnapshot> runs = SampleRuns();
  SendRunDeltas();
  if (!list_sinks_.empty()) {
    std::string event = FormatEvent("runs", ++list_event_id_, RunsListData(runs));
    for (EventSink* sink : std::vector<EventSink*>(list_sinks_)) sink->Push(event);
  }
  timer_->ArmAt(clock_.Now() + interval_);
}

std::vector<ops::RunSnapshot> LiveView::CurrentRuns() {
  rapidjson::Document::AllocatorType alloc;  // the summary holds no JSON values
  return registry_.Runs(0, alloc);
}

std::vector<ops::RunSnapshot> LiveView::SampleRuns() {
  rapidjson::Document::AllocatorType alloc;  // histograms hold no JSON values
  std::vector<ops::RunSnapshot> runs = registry_.Runs(ops::kSnapshotHistograms, alloc);
  std::map<std::string, Watched, std::less<>> sampled;
  for (ops::RunSnapshot& run : runs) {
    auto before = runs_.find(run.run_id);
    Watched watched = before == runs_.end() ? Watched{} : std::move(before->second);
    if (before != runs_.end()) runs_.erase(before);
    const IntervalPoint* point = watched.history.Sample(run);
    if (point != nullptr) {
      watched.start_rate = point->seconds > 0 ? point->started / point->seconds : 0;
    }
    if (run.completed) watched.start_rate = 0;
    sampled.emplace(run.run_id, std::move(watched));
    run.histograms.clear();
  }
  // What is left was discarded: its streams end.
  std::map<std::string, Watched, std::less<>> gone = std::exchange(runs_, std::move(sampled));
  for (auto& [run_id, watched] : gone) {
    std::string event = FormatEvent("end", 0, fmt::format(R"({{"run_id":{}}})",
                                                         ops::JsonString(run_id)));
    for (EventSink* sink : watched.sinks) {
      sink->Push(event);
      sink->End();
    }
  }
  return runs;
}

void LiveView::SendRunDeltas() {
  for (auto& [run_id, watched] : runs_) {
    const RunHistory& history = watched.history;
    std::vector<const IntervalPoint*> fresh;
    if (!history.points().empty() && history.points().back().id > watched.sent_id) {
      fresh.push_back(&history.points().back());
    }
    // Moves on unwatched too: a first page's snapshot holds every point so far.
    watched.sent_id = LastId(history);
    if (watched.sinks.empty()) {
      watched.logs_sent.reset();
      continue;
    }
    std::optional<std::string> data = RunData(run_id, fresh, &watched.logs_sent);
    if (!data) continue;
    std::string event = FormatEvent("delta", LastId(history), *data);
    for (EventSink* sink : std::vector<EventSink*>(watched.sinks)) sink->Push(event);
  }
}

std::optional<std::string> LiveView::RunData(std::string_view run_id,
                                             const std::vector<const IntervalPoint*>& points,
                                             std::optional<ops::LogsVersion>* logs_sent,
                                             bool with_ops) {
  rapidjson::Document::AllocatorType alloc;
  unsigned parts = ops::kSnapshotQueryTest | (with_ops ? ops::kSnapshotOps : 0u);
  if (logs_sent != nullptr && logs_sent->has_value()) {
    // The logs can be megabytes (every traced message): copied and sent when they changed.
    std::optional<ops::RunSnapshot> summary = registry_.Peek(run_id, 0, alloc);
    if (!summary) return std::nullopt;
    if (summary->logs_version == **logs_sent) parts &= ~ops::kSnapshotLogs;
  }
  std::optional<ops::RunSnapshot> run = registry_.Peek(run_id, parts, alloc);
  if (!run) return std::nullopt;
  if (logs_sent != nullptr) *logs_sent = run->logs_version;
  std::string ops_member = with_ops ? fmt::format(R"("ops":{},)", OpsJson(run->ops)) : "";
  rapidjson::Value result = rpc::QueryTestResult(std::move(*run), alloc);
  if (!(parts & ops::kSnapshotLogs)) {
    result.RemoveMember("first_call_summary");
    result.RemoveMember("first_fail_summary");
  }
  return fmt::format(R"({{"run":{},{}"points":{}}})", ops::JsonText(result), ops_member,
                     PointsJson(points));
}

std::string LiveView::RunsListData(const std::vector<ops::RunSnapshot>& runs) {
  rapidjson::Document::AllocatorType alloc;
  std::string out = fmt::format(R"({{"server":{},"runs":[)", server_());
  for (size_t k = 0; k < runs.size(); ++k) {
    const ops::RunSnapshot& run = runs[k];
    rapidjson::Value entry = rpc::ListTestsEntry(run, alloc);
    if (run.percent_complete) entry.AddMember("percent_complete", *run.percent_complete, alloc);
    auto watched = runs_.find(run.run_id);
    double rate = watched == runs_.end() ? 0 : watched->second.start_rate;
    entry.AddMember("start_rate", rate, alloc);
    if (k) out += ',';
    out += ops::JsonText(entry);
  }
  out += "]}";
  return out;
}

}  // namespace testrund::daemon
