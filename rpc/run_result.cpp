// SPDX-License-Identifier: Apache-2.0
// The QueryTest and ListTests objects (see run_result.h), field by field as
// docs/api.md#querytest gives them: `completed` is 1 when done; time_finish and duration
// only then; halted, first_fails and first_aborts always present; every bucket but the
// first has time_start; empty logs are omitted.
#include "rpc/run_result.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace testrund::rpc {
namespace {

using Allocator = rapidjson::Document::AllocatorType;

class ObjectBuilder {
 public:
  ObjectBuilder(rapidjson::Value& out, Allocator& alloc) : out_(out), alloc_(alloc) {
    out_.SetObject();
  }
  template <typename T>
  ObjectBuilder& Add(const char* name, T value) {
    out_.AddMember(rapidjson::StringRef(name), rapidjson::Value(value), alloc_);
    return *this;
  }
  ObjectBuilder& AddValue(const char* name, rapidjson::Value&& value) {
    out_.AddMember(rapidjson::StringRef(name), value, alloc_);
    return *this;
  }
  ObjectBuilder& AddString(const char* name, std::string_view value) {
    out_.AddMember(rapidjson::StringRef(name),
                   rapidjson::Value(value.data(), static_cast<rapidjson::SizeType>(value.size()),
                                    alloc_),
                   alloc_);
    return *this;
  }

 private:
  rapidjson::Value& out_;
  Allocator& alloc_;
};

// [sec, usec].
rapidjson::Value Wall(ops::WallTime wall, Allocator& alloc) {
  rapidjson::Value out(rapidjson::kArrayType);
  out.PushBack(wall.sec, alloc).PushBack(wall.usec, alloc);
  return out;
}


rapidjson::Value String(std::string_view s, Allocator& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

rapidjson::Value Counts(const ops::RunCounts& c, Allocator& alloc) {
  rapidjson::Value out;
  ObjectBuilder(out, alloc)
      .Add("started", c.started)
      .Add("finished", c.finished)
      .Add("failed", c.failed)
      .Add("aborted", c.aborted)
      .Add("cancelled", c.cancelled)
      .Add("passed", c.passed)
      .Add("late", c.late)
      .Add("halted", c.halted)
      .Add("running", c.running);
  return out;
}

rapidjson::Value Tags(const ops::RunSnapshot& snapshot, Allocator& alloc) {
  rapidjson::Value tags(rapidjson::kArrayType);
  for (const std::string& tag : snapshot.tags) tags.PushBack(String(tag, alloc), alloc);
  return tags;
}

// first_fails / first_aborts: [{"op_idx", "text", "count"}, ...], mergeable with
// "first_instance".
rapidjson::Value Reasons(const std::vector<ops::FirstReasons::Entry>& entries,
                         ResultDetail detail, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  for (const ops::FirstReasons::Entry& e : entries) {
    rapidjson::Value item;
    ObjectBuilder b(item, alloc);
    b.Add("op_idx", e.op_idx).AddString("text", e.text).Add("count", e.count);
    if (detail == ResultDetail::kMergeable) b.Add("first_instance", e.first_instance);
    array.PushBack(item, alloc);
  }
  return array;
}

// check_log: [{"op_idx", "step", "status", "text"}, ...].
rapidjson::Value CheckLogJson(const ops::CheckLog& log, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  array.Reserve(static_cast<rapidjson::SizeType>(log.size()), alloc);
  for (const ops::CheckLog::Entry& e : log.entries()) {
    std::string_view status = ops::CheckStatusName(e.status);
    rapidjson::Value item;
    ObjectBuilder(item, alloc)
        .Add("op_idx", e.op_idx)
        .Add("step", e.step)
        // The status names are static strings: no copy needed.
        .AddValue("status", rapidjson::Value(rapidjson::StringRef(
                                status.data(), static_cast<rapidjson::SizeType>(status.size()))))
        .AddString("text", e.text());
    array.PushBack(item, alloc);
  }
  return array;
}

rapidjson::Value Summary(ops::InstanceRecord&& record, Allocator& alloc) {
  rapidjson::Value out;
  ObjectBuilder b(out, alloc);
  b.Add("idx", record.idx).Add("completed", record.completed ? 1 : 0);
  b.AddValue("time_start", Wall(record.start, alloc));
  if (record.completed) {
    b.AddValue("time_finish", Wall(record.finish, alloc));
    b.Add("duration", ops::ToSeconds(record.duration_ns));
  }
  if (!record.check_log.empty()) b.AddValue("check_log", CheckLogJson(record.check_log, alloc));
  if (record.trace_log.IsArray()) b.AddValue("trace_log", std::move(record.trace_log));
  return out;
}

rapidjson::Value Halted(std::vector<ops::HaltedInstance>& halted, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  for (ops::HaltedInstance& entry : halted) {
    rapidjson::Value item;
    ObjectBuilder(item, alloc)
        .Add("instance_id", entry.instance_id)
        .AddValue("operation", std::move(entry.operation))
        .AddValue("time_halted", Wall(entry.halted_at, alloc))
        .Add("time_left", ops::ToSeconds(entry.left_ns));
    array.PushBack(item, alloc);
  }
  return array;
}

rapidjson::Value Buckets(const std::vector<ops::BucketCounts>& buckets, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  bool first = true;
  for (const ops::BucketCounts& bucket : buckets) {
    rapidjson::Value item;
    ObjectBuilder b(item, alloc);
    if (!first) b.AddValue("time_start", Wall(bucket.start, alloc));
    b.Add("num_calls_started", bucket.started).Add("num_calls_finished", bucket.finished);
    array.PushBack(item, alloc);
    first = false;
  }
  return array;
}

// An op's whole histogram in integer nanoseconds: {"count", "sum", "min", "max",
// "buckets": [[low, count], ...]} with each non-empty bucket named by its lowest value.
rapidjson::Value HistogramJson(const ops::LatencyHistogram& h, Allocator& alloc) {
  rapidjson::Value buckets(rapidjson::kArrayType);
  h.ForEachBucket([&buckets, &alloc](ops::MonoNs low, uint64_t count) {
    rapidjson::Value pair(rapidjson::kArrayType);
    pair.PushBack(static_cast<int64_t>(low), alloc).PushBack(count, alloc);
    buckets.PushBack(pair, alloc);
  });
  rapidjson::Value out;
  ObjectBuilder(out, alloc)
      .Add("count", h.count())
      .Add("sum", static_cast<uint64_t>(h.sum()))
      .Add("min", static_cast<int64_t>(h.min()))
      .Add("max", static_cast<int64_t>(h.max()))
      .AddValue("buckets", std::move(buckets));
  return out;
}

// `latency`, in seconds; mergeable with each op's "histogram".
rapidjson::Value Latency(const ops::RunSnapshot& s, ResultDetail detail, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  for (const ops::LatencySummary& l : s.latency) {
    rapidjson::Value item;
    ObjectBuilder b(item, alloc);
    b.Add("op_idx", l.op_idx).Add("count", l.count).Add("min", ops::ToSeconds(l.min));
    for (size_t j = 0; j < l.quantiles.size(); ++j) {
      b.Add(ops::kReportedQuantiles[j].name.data(), ops::ToSeconds(l.quantiles[j]));
    }
    b.Add("max", ops::ToSeconds(l.max));
    if (detail == ResultDetail::kMergeable) {
      for (const ops::OpHistogram& h : s.histograms) {
        if (h.op_idx == l.op_idx) b.AddValue("histogram", HistogramJson(*h.histogram, alloc));
      }
    }
    array.PushBack(item, alloc);
  }
  return array;
}

// The mergeable members: which shard, how many instances it plans when its progress counts
// them (null when it counts time), the buckets' width.
void AddMergeable(const ops::RunSnapshot& s, ObjectBuilder& b, Allocator& alloc) {
  rapidjson::Value shard;
  ObjectBuilder(shard, alloc).Add("index", s.shard.index).Add("count", s.shard.count);
  b.AddValue("shard", std::move(shard));
  bool counted = s.planned_total && !s.progress_by_time;
  b.AddValue("planned_total", counted ? rapidjson::Value(*s.planned_total) : rapidjson::Value());
  b.Add("bucket_width", ops::ToSeconds(s.bucket_width_ns));
}

// Each threshold as given, with its latest check: `value` (null before the first check, or
// without latency samples), `ok`, and `text`, the rule as one line.
rapidjson::Value Thresholds(const std::vector<ops::ThresholdResult>& results, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  for (const ops::ThresholdResult& r : results) {
    const ops::Threshold& t = r.threshold;
    rapidjson::Value item;
    ObjectBuilder b(item, alloc);
    b.AddString("metric", ops::ThresholdMetricName(t.metric));
    if (t.op_idx >= 0) b.Add("op_idx", t.op_idx);
    if (t.max) b.Add("max", *t.max);
    if (t.min) b.Add("min", *t.min);
    if (t.abort) b.Add("abort", true).Add("after", t.after);
    b.Add("interval", t.interval);
    b.AddValue("value", r.value ? rapidjson::Value(*r.value) : rapidjson::Value());
    b.Add("ok", r.ok);
    b.AddString("text", ops::ThresholdText(t));
    array.PushBack(item, alloc);
  }
  return array;
}

// `data`: {rows, columns, mode, source}.
rapidjson::Value Data(const ops::DataSummary& data, Allocator& alloc) {
  rapidjson::Value columns(rapidjson::kArrayType);
  for (const std::string& name : data.columns) columns.PushBack(String(name, alloc), alloc);
  rapidjson::Value out;
  ObjectBuilder(out, alloc)
      .Add("rows", data.rows)
      .AddValue("columns", std::move(columns))
      .AddString("mode", data.mode)
      .AddString("source", data.source);
  return out;
}

rapidjson::Value Sip(const ops::SipSummary& sip, Allocator& alloc) {
  rapidjson::Value out;
  ObjectBuilder(out, alloc)
      .Add("retransmissions_sent", sip.retransmissions_sent)
      .Add("retransmissions_received", sip.retransmissions_received)
      .Add("rejected", sip.rejected)
      .Add("malformed", sip.malformed)
      .Add("unmatched", sip.unmatched)
      .Add("no_dialog", sip.no_dialog);
  return out;
}

bool ThresholdsOk(const std::vector<ops::ThresholdResult>& results) {
  for (const ops::ThresholdResult& r : results) {
    if (!r.ok) return false;
  }
  return true;
}

// A repetition's threshold verdicts: [{"text", "ok", "value"}].
rapidjson::Value Verdicts(const std::vector<ops::ThresholdVerdict>& verdicts, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  for (const ops::ThresholdVerdict& v : verdicts) {
    rapidjson::Value item;
    ObjectBuilder(item, alloc)
        .AddString("text", v.text)
        .Add("ok", v.ok)
        .AddValue("value", v.value ? rapidjson::Value(*v.value) : rapidjson::Value());
    array.PushBack(item, alloc);
  }
  return array;
}

// `history`: one object per finished repetition, oldest first.
rapidjson::Value History(const std::vector<ops::RepetitionSummary>& history, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  for (const ops::RepetitionSummary& r : history) {
    rapidjson::Value item;
    ObjectBuilder b(item, alloc);
    b.Add("repetition", r.repetition).AddString("status", ops::RepetitionStatusName(r.status));
    if (!r.status_reason.empty()) b.AddString("status_reason", r.status_reason);
    b.AddValue("start", Wall(r.start, alloc)).AddValue("end", Wall(r.end, alloc));
    b.AddValue("counts", Counts(r.counts, alloc));
    if (!r.thresholds.empty()) {
      bool all_ok = std::all_of(r.thresholds.begin(), r.thresholds.end(),
                                [](const ops::ThresholdVerdict& v) { return v.ok; });
      b.Add("thresholds_ok", all_ok);
      b.AddValue("thresholds", Verdicts(r.thresholds, alloc));
    }
    array.PushBack(item, alloc);
  }
  return array;
}

// A repeating run's members: repetition, repetitions, history, history_older.
void AddRepeat(const ops::RepeatView& repeat, ObjectBuilder& b, Allocator& alloc) {
  b.Add("repetition", repeat.repetition).Add("repetitions", repeat.repetitions);
  b.AddValue("history", History(repeat.history, alloc));
  b.Add("history_older", repeat.history_older);
}

// `reporters`: [{"type", "url", "on", "state", "attempts", "last_error", "sent", "failed"}].
rapidjson::Value Reporters(const std::vector<ops::ReporterStatus>& reporters, Allocator& alloc) {
  rapidjson::Value array(rapidjson::kArrayType);
  for (const ops::ReporterStatus& r : reporters) {
    rapidjson::Value on(rapidjson::kArrayType);
    for (const std::string& event : r.on) on.PushBack(String(event, alloc), alloc);
    rapidjson::Value item;
    ObjectBuilder(item, alloc)
        .AddString("type", r.type)
        .AddString("url", r.url)
        .AddValue("on", std::move(on))
        .AddString("state", r.state)
        .Add("attempts", r.attempts)
        .AddValue("last_error", r.last_error.empty() ? rapidjson::Value()
                                                     : String(r.last_error, alloc))
        .Add("sent", r.sent)
        .Add("failed", r.failed);
    array.PushBack(item, alloc);
  }
  return array;
}

// `next_start_at`: [sec, usec], or null.
rapidjson::Value NextStart(const ops::RunSnapshot& s, Allocator& alloc) {
  return s.next_start_at ? Wall(*s.next_start_at, alloc) : rapidjson::Value();
}

}  // namespace

namespace {

// A run brought back from state_dir that no longer runs: its saved object, with the
// snapshot's status, status_reason, time_now, reporters and, for a repeating run, history
// (docs/decisions.md).
rapidjson::Value StoredResult(const ops::RunSnapshot& s, Allocator& alloc) {
  rapidjson::Value out(*s.stored_result, alloc);
  if (!out.IsObject()) out.SetObject();
  auto set = [&out, &alloc](const char* name, rapidjson::Value value) {
    auto it = out.FindMember(name);
    if (it != out.MemberEnd()) {
      it->value = std::move(value);
    } else {
      out.AddMember(rapidjson::StringRef(name), std::move(value), alloc);
    }
  };
  set("completed", rapidjson::Value(1));
  set("status", String(ops::RunStatusName(s.status), alloc));
  if (!s.status_reason.empty()) set("status_reason", String(s.status_reason, alloc));
  set("time_now", Wall(s.time_now, alloc));
  if (!s.reporters.empty()) set("reporters", Reporters(s.reporters, alloc));
  if (s.repeat) {
    set("history", History(s.repeat->history, alloc));
    set("history_older", rapidjson::Value(s.repeat->history_older));
  }
  return out;
}

}  // namespace

rapidjson::Value QueryTestResult(ops::RunSnapshot&& s, Allocator& alloc, ResultDetail detail) {
  if (s.stored_result) return StoredResult(s, alloc);
  rapidjson::Value out;
  ObjectBuilder b(out, alloc);
  b.AddString("run_id", s.run_id);
  b.Add("completed", s.completed ? 1 : 0);
  b.AddString("status", ops::RunStatusName(s.status));
  if (!s.status_reason.empty()) b.AddString("status_reason", s.status_reason);
  b.AddValue("time_now", Wall(s.time_now, alloc));
  b.AddValue("time_start", Wall(s.time_start, alloc));
  if (s.completed) {
    b.AddValue("time_finish", Wall(s.time_finish, alloc));
    b.Add("duration", ops::ToSeconds(s.duration_ns));
  }
  b.AddValue("counts", Counts(s.counts, alloc));
  if (s.percent_complete) b.Add("percent_complete", *s.percent_complete);
  b.Add("paused_seconds", ops::ToSeconds(s.paused_ns));
  b.Add("restarts", s.restarts);
  if (s.repeat || s.next_start_at) b.AddValue("next_start_at", NextStart(s, alloc));
  if (s.repeat) AddRepeat(*s.repeat, b, alloc);
  b.AddValue("tags", Tags(s, alloc));
  if (!s.globals.IsObject()) s.globals.SetObject();
  b.AddValue("globals", std::move(s.globals));
  b.AddValue("halted", Halted(s.halted, alloc));
  b.Add("halted_total", s.counts.halted);
  b.AddValue("first_fails", Reasons(s.first_fails, detail, alloc));
  b.AddValue("first_aborts", Reasons(s.first_aborts, detail, alloc));
  b.AddValue("buckets", Buckets(s.buckets, alloc));
  if (detail == ResultDetail::kMergeable) AddMergeable(s, b, alloc);
  if (!s.latency.empty()) b.AddValue("latency", Latency(s, detail, alloc));
  if (!s.thresholds.empty()) b.AddValue("thresholds", Thresholds(s.thresholds, alloc));
  if (s.data) b.AddValue("data", Data(*s.data, alloc));
  if (s.sip) b.AddValue("sip", Sip(*s.sip, alloc));
  if (!s.reporters.empty()) b.AddValue("reporters", Reporters(s.reporters, alloc));
  if (s.first_call) {
    b.AddValue("first_call_summary", Summary(std::move(*s.first_call), alloc));
  } else {
    rapidjson::Value pending;
    ObjectBuilder(pending, alloc).Add("idx", 0).Add("completed", 0);
    b.AddValue("first_call_summary", std::move(pending));
  }
  if (s.first_fail) b.AddValue("first_fail_summary", Summary(std::move(*s.first_fail), alloc));
  return out;
}

rapidjson::Value ListTestsEntry(const ops::RunSnapshot& s, Allocator& alloc) {
  rapidjson::Value out;
  ObjectBuilder b(out, alloc);
  b.AddString("run_id", s.run_id);
  b.AddString("status", ops::RunStatusName(s.status));
  if (!s.status_reason.empty()) b.AddString("status_reason", s.status_reason);
  b.AddValue("time_start", Wall(s.time_start, alloc));
  if (s.repeat || s.next_start_at) b.AddValue("next_start_at", NextStart(s, alloc));
  if (s.repeat) {
    b.Add("repetition", s.repeat->repetition).Add("repetitions", s.repeat->repetitions);
  }
  b.AddValue("counts", Counts(s.counts, alloc));
  b.AddValue("tags", Tags(s, alloc));
  if (!s.thresholds.empty()) b.Add("thresholds_ok", ThresholdsOk(s.thresholds));
  return out;
}

}  // namespace testrund::rpc
