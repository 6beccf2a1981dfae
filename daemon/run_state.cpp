// SPDX-License-Identifier: Apache-2.0
// A run's state_dir file (see run_state.h).
#include "daemon/run_state.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "ops/base/json_writer.h"
#include "ops/report/webhook_delivery.h"
#include "ops/stats/run_snapshot.h"

namespace testrund::daemon {
namespace {

using Allocator = rapidjson::Document::AllocatorType;
using Value = rapidjson::Value;

constexpr int kFormat = 1;

Value Text(std::string_view s, Allocator& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Value Wall(ops::WallTime t, Allocator& a) {
  Value pair(rapidjson::kArrayType);
  pair.PushBack(t.sec, a).PushBack(t.usec, a);
  return pair;
}

Value Counts(const ops::RunCounts& c, Allocator& a) {
  Value out(rapidjson::kObjectType);
  out.AddMember("started", c.started, a).AddMember("finished", c.finished, a);
  out.AddMember("failed", c.failed, a).AddMember("aborted", c.aborted, a);
  out.AddMember("cancelled", c.cancelled, a).AddMember("passed", c.passed, a);
  out.AddMember("late", c.late, a);
  return out;
}

Value Summary(const ops::RepetitionSummary& r, Allocator& a) {
  Value out(rapidjson::kObjectType);
  out.AddMember("repetition", r.repetition, a);
  out.AddMember("status", Text(ops::RepetitionStatusName(r.status), a), a);
  out.AddMember("status_reason", Text(r.status_reason, a), a);
  out.AddMember("start", Wall(r.start, a), a).AddMember("end", Wall(r.end, a), a);
  out.AddMember("counts", Counts(r.counts, a), a);
  Value verdicts(rapidjson::kArrayType);
  for (const ops::ThresholdVerdict& v : r.thresholds) {
    Value item(rapidjson::kObjectType);
    item.AddMember("text", Text(v.text, a), a).AddMember("ok", v.ok, a);
    item.AddMember("value", v.value ? Value(*v.value) : Value(), a);
    verdicts.PushBack(item, a);
  }
  out.AddMember("thresholds", verdicts, a);
  return out;
}

Value Series(const ops::SeriesState& s, Allocator& a) {
  Value history(rapidjson::kArrayType);
  for (const ops::RepetitionSummary& r : s.history) history.PushBack(Summary(r, a), a);
  Value out(rapidjson::kObjectType);
  out.AddMember("repetition", s.repetition, a).AddMember("next_number", s.next_number, a);
  out.AddMember("anchor", s.anchor, a);
  out.AddMember("history", history, a).AddMember("history_older", s.history_older, a);
  out.AddMember("ended", s.ended, a).AddMember("failure", Text(s.failure, a), a);
  out.AddMember("began", s.began, a).AddMember("paused", s.paused, a);
  out.AddMember("start", s.start ? Value(*s.start) : Value(), a);
  return out;
}

std::string_view EventName(ops::ReportEvent event) {
  return event == ops::ReportEvent::kFinal ? "final" : "repetition";
}

Value Reporters(const std::vector<SavedReporter>& reporters, Allocator& a) {
  Value out(rapidjson::kArrayType);
  for (const SavedReporter& r : reporters) {
    Value pending(rapidjson::kArrayType);
    for (const SavedReport& report : r.pending) {
      Value item(rapidjson::kObjectType);
      item.AddMember("event", Text(EventName(report.event), a), a);
      item.AddMember("body", Text(report.body, a), a);
      item.AddMember("failed_attempts", report.failed_attempts, a);
      item.AddMember("last_error", Text(report.last_error, a), a);
      pending.PushBack(item, a);
    }
    Value item(rapidjson::kObjectType);
    item.AddMember("state", Text(r.state, a), a).AddMember("attempts", r.attempts, a);
    item.AddMember("last_error", Text(r.last_error, a), a);
    item.AddMember("sent", r.sent, a).AddMember("failed", r.failed, a);
    item.AddMember("pending", pending, a).AddMember("newest_pending", r.newest_pending, a);
    out.PushBack(item, a);
  }
  return out;
}

// Reads members of one object, remembering the first problem (named by its path).
class Reader {
 public:
  Reader(const Value& object, std::string path, std::string* problem)
      : object_(object), path_(std::move(path)), problem_(problem) {
    if (!object_.IsObject()) Fail("", "is not an object");
  }
  const Value* Get(const char* name) {
    if (!object_.IsObject()) return nullptr;
    auto it = object_.FindMember(name);
    if (it == object_.MemberEnd()) {
      Fail(name, "is missing");
      return nullptr;
    }
    return &it->value;
  }
  uint64_t Count(const char* name) {
    const Value* v = Get(name);
    if (v != nullptr && v->IsUint64()) return v->GetUint64();
    if (v != nullptr) Fail(name, "is not a non-negative integer");
    return 0;
  }
  double Number(const char* name) {
    const Value* v = Get(name);
    if (v != nullptr && v->IsNumber()) return v->GetDouble();
    if (v != nullptr) Fail(name, "is not a number");
    return 0;
  }
  std::optional<double> NumberOrNull(const char* name) {
    const Value* v = Get(name);
    if (v == nullptr || v->IsNull()) return std::nullopt;
    if (v->IsNumber()) return v->GetDouble();
    Fail(name, "is not a number or null");
    return std::nullopt;
  }
  bool Flag(const char* name) {
    const Value* v = Get(name);
    if (v != nullptr && v->IsBool()) return v->GetBool();
    if (v != nullptr) Fail(name, "is not true or false");
    return false;
  }
  std::string String(const char* name) {
    const Value* v = Get(name);
    if (v != nullptr && v->IsString()) return std::string(v->GetString(), v->GetStringLength());
    if (v != nullptr) Fail(name, "is not a string");
    return {};
  }
  ops::WallTime Wall(const char* name) {
    const Value* v = Get(name);
    if (v != nullptr && v->IsArray() && v->Size() == 2 && (*v)[0].IsInt64() &&
        (*v)[1].IsInt64()) {
      return ops::WallTime{(*v)[0].GetInt64(), (*v)[1].GetInt64()};
    }
    if (v != nullptr) Fail(name, "is not [seconds, microseconds]");
    return {};
  }
  const Value* Array(const char* name) {
    const Value* v = Get(name);
    if (v != nullptr && v->IsArray()) return v;
    if (v != nullptr) Fail(name, "is not an array");
    return nullptr;
  }
  std::string Path(std::string_view name) const {
    return path_.empty() ? std::string(name) : fmt::format("{}.{}", path_, name);
  }
  void Fail(std::string_view name, std::string_view what) {
    if (problem_->empty()) *problem_ = fmt::format("{} {}", Path(name), what);
  }

 private:
  const Value& object_;
  std::string path_;
  std::string* problem_;
};

std::optional<ops::RepetitionStatus> RepetitionStatusFromName(std::string_view name) {
  for (auto status : {ops::RepetitionStatus::kCompleted, ops::RepetitionStatus::kFailed,
                      ops::RepetitionStatus::kCancelled, ops::RepetitionStatus::kSkipped,
                      ops::RepetitionStatus::kInterrupted}) {
    if (ops::RepetitionStatusName(status) == name) return status;
  }
  return std::nullopt;
}

ops::RunCounts ReadCounts(const Value& value, const std::string& path, std::string* problem) {
  Reader r(value, path, problem);
  ops::RunCounts c;
  c.started = r.Count("started");
  c.finished = r.Count("finished");
  c.failed = r.Count("failed");
  c.aborted = r.Count("aborted");
  c.cancelled = r.Count("cancelled");
  c.passed = r.Count("passed");
  c.late = r.Count("late");
  return c;
}

ops::RepetitionSummary ReadSummary(const Value& value, const std::string& path,
                                   std::string* problem) {
  Reader r(value, path, problem);
  ops::RepetitionSummary s;
  s.repetition = r.Count("repetition");
  std::string status = r.String("status");
  if (auto known = RepetitionStatusFromName(status)) {
    s.status = *known;
  } else if (problem->empty()) {
    r.Fail("status", fmt::format("\"{}\" is not a repetition's status", status));
  }
  s.status_reason = r.String("status_reason");
  s.start = r.Wall("start");
  s.end = r.Wall("end");
  if (const Value* counts = r.Get("counts")) s.counts = ReadCounts(*counts, r.Path("counts"), problem);
  if (const Value* verdicts = r.Array("thresholds")) {
    for (rapidjson::SizeType i = 0; i < verdicts->Size(); ++i) {
      Reader v((*verdicts)[i], r.Path(fmt::format("thresholds[{}]", i)), problem);
      ops::ThresholdVerdict verdict;
      verdict.text = v.String("text");
      verdict.ok = v.Flag("ok");
      verdict.value = v.NumberOrNull("value");
      s.thresholds.push_back(std::move(verdict));
    }
  }
  return s;
}

ops::SeriesState ReadSeries(const Value& value, std::string* problem) {
  Reader r(value, "series", problem);
  ops::SeriesState s;
  s.repetition = r.Count("repetition");
  s.next_number = r.Count("next_number");
  s.anchor = r.Number("anchor");
  if (const Value* history = r.Array("history")) {
    for (rapidjson::SizeType i = 0; i < history->Size(); ++i) {
      s.history.push_back(
          ReadSummary((*history)[i], fmt::format("series.history[{}]", i), problem));
    }
  }
  s.history_older = r.Count("history_older");
  s.ended = r.Flag("ended");
  s.failure = r.String("failure");
  s.began = r.Flag("began");
  s.paused = r.Flag("paused");
  s.start = r.NumberOrNull("start");
  if (problem->empty() && (s.repetition == 0 || s.next_number <= s.repetition)) {
    r.Fail("next_number", "is not after repetition");
  }
  return s;
}

// A number of attempts, 0 to `most`.
int ReadAttempts(Reader& r, const char* name, int most) {
  uint64_t n = r.Count(name);
  if (n > static_cast<uint64_t>(most)) r.Fail(name, fmt::format("is more than {}", most));
  return static_cast<int>(std::min<uint64_t>(n, most));
}

SavedReport ReadReport(const Value& value, const std::string& path, std::string* problem) {
  Reader r(value, path, problem);
  SavedReport report;
  std::string event = r.String("event");
  if (event == "repetition") {
    report.event = ops::ReportEvent::kRepetition;
  } else if (event != "final" && problem->empty()) {
    r.Fail("event", fmt::format("\"{}\" is not a report's event", event));
  }
  report.body = r.String("body");
  // A pending report has had at most kMaxAttempts - 1 failures: the last one settles it.
  report.failed_attempts =
      ReadAttempts(r, "failed_attempts", ops::WebhookDelivery::kMaxAttempts - 1);
  report.last_error = r.String("last_error");
  return report;
}

std::vector<SavedReporter> ReadReporters(const Value& value, std::string* problem) {
  std::vector<SavedReporter> out;
  if (!value.IsArray()) {
    if (problem->empty()) *problem = "reporters is not an array";
    return out;
  }
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    std::string path = fmt::format("reporters[{}]", i);
    Reader r(value[i], path, problem);
    SavedReporter reporter;
    reporter.state = r.String("state");
    if (reporter.state != "idle" && reporter.state != "sent" && reporter.state != "failed") {
      r.Fail("state", fmt::format("\"{}\" is not a settled report's state", reporter.state));
    }
    reporter.attempts = ReadAttempts(r, "attempts", ops::WebhookDelivery::kMaxAttempts);
    reporter.last_error = r.String("last_error");
    reporter.sent = r.Count("sent");
    reporter.failed = r.Count("failed");
    if (const Value* pending = r.Array("pending")) {
      for (rapidjson::SizeType k = 0; k < pending->Size(); ++k) {
        reporter.pending.push_back(
            ReadReport((*pending)[k], fmt::format("{}.pending[{}]", path, k), problem));
      }
    }
    reporter.newest_pending = r.Flag("newest_pending");
    if (reporter.newest_pending && reporter.pending.empty()) {
      r.Fail("newest_pending", "is true with no report pending");
    }
    out.push_back(std::move(reporter));
  }
  return out;
}

}  // namespace

std::string SavedRunText(const std::string& run_id, const rapidjson::Value& params,
                         uint32_t restarts, const ops::SeriesState& series,
                         const rapidjson::Value& result, ops::WallTime saved_at,
                         const std::vector<SavedReporter>& reporters) {
  rapidjson::Document doc(rapidjson::kObjectType);
  Allocator& a = doc.GetAllocator();
  doc.AddMember("format", kFormat, a);
  doc.AddMember("run_id", Text(run_id, a), a);
  doc.AddMember("params", Value(params, a), a);
  doc.AddMember("restarts", restarts, a);
  doc.AddMember("series", Series(series, a), a);
  doc.AddMember("result", Value(result, a), a);
  doc.AddMember("saved_at", Wall(saved_at, a), a);
  if (!reporters.empty()) doc.AddMember("reporters", Reporters(reporters, a), a);
  std::string text = ops::JsonText(doc);
  text += '\n';
  return text;
}

Result<SavedRun> ReadSavedRun(const rapidjson::Value& state) {
  std::string problem;
  Reader r(state, "", &problem);
  SavedRun saved;
  saved.run_id = r.String("run_id");
  if (const Value* params = r.Get("params")) {
    if (params->IsObject()) {
      saved.params.CopyFrom(*params, saved.params.GetAllocator());
    } else {
      r.Fail("params", "is not an object");
    }
  }
  uint64_t restarts = r.Count("restarts");
  if (restarts > UINT32_MAX) r.Fail("restarts", "is too large");
  saved.restarts = static_cast<uint32_t>(restarts);
  if (const Value* series = r.Get("series")) saved.series = ReadSeries(*series, &problem);
  if (const Value* result = r.Get("result")) {
    if (result->IsObject()) {
      saved.result.CopyFrom(*result, saved.result.GetAllocator());
    } else {
      r.Fail("result", "is not an object");
    }
  }
  saved.saved_at = r.Wall("saved_at");
  // Optional: a run without reporters has none.
  if (state.IsObject()) {
    auto reporters = state.FindMember("reporters");
    if (reporters != state.MemberEnd()) saved.reporters = ReadReporters(reporters->value, &problem);
  }
  if (!problem.empty()) return Status::Error(problem);
  return saved;
}

}  // namespace testrund::daemon
