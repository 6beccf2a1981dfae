// SPDX-License-Identifier: Apache-2.0
// Merged QueryTest and ListTests results (see merged_result.h): each worker's mergeable
// result read back into a snapshot (the inverse of QueryTestResult for the parts that merge),
// merged by ops::MergeShards, and written as a daemon writes its own. The parts that are
// chosen rather than added (first_call_summary, first_fail_summary, data, thresholds) are
// taken from the workers' JSON as it is.
#include "rpc/merged_result.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "ops/stats/run_merge.h"
#include "rpc/run_result.h"

namespace testrund::rpc {
namespace {

using Allocator = rapidjson::Document::AllocatorType;
using Value = rapidjson::Value;

// What a worker may send: times before 2096 and durations within that (so sums of
// nanoseconds stay in int64), bucket widths of runs up to 10^8 s, at most 20 buckets.
constexpr int64_t kMaxSeconds = 4'000'000'000;
constexpr double kMaxBucketWidth = 1e8;
constexpr size_t kMaxBuckets = 20;

// Reads one shard's result; the first problem found is kept and names shard and field.
class ShardReader {
 public:
  ShardReader(int index, const Value& result) : index_(index), result_(result) {}

  const Value* Member(const Value& object, const char* name, const char* field) {
    if (!object.IsObject()) return Fail(field, "is not an object");
    auto it = object.FindMember(name);
    if (it == object.MemberEnd()) return Fail(field, "is missing");
    return &it->value;
  }
  uint64_t Uint(const Value& object, const char* name, const char* field) {
    const Value* v = Member(object, name, field);
    if (v == nullptr) return 0;
    if (!v->IsUint64()) return Fail(field, "is not a non-negative integer"), 0;
    return v->GetUint64();
  }
  int64_t Int(const Value& object, const char* name, const char* field) {
    const Value* v = Member(object, name, field);
    if (v == nullptr) return 0;
    if (!v->IsInt64()) return Fail(field, "is not an integer"), 0;
    return v->GetInt64();
  }
  // A number in [min, max]: the bounds keep every time a worker sends within what int64
  // nanoseconds hold once offsets are added up.
  double Number(const Value& object, const char* name, const char* field, double min,
                double max) {
    const Value* v = Member(object, name, field);
    if (v == nullptr) return 0;
    if (!v->IsNumber()) return Fail(field, "is not a number"), 0;
    double d = v->GetDouble();
    if (d < min || d > max) return Fail(field, fmt::format("is out of [{}, {}]", min, max)), 0;
    return d;
  }
  std::string String(const Value& object, const char* name, const char* field) {
    const Value* v = Member(object, name, field);
    if (v == nullptr) return {};
    if (!v->IsString()) return Fail(field, "is not a string"), std::string();
    return std::string(v->GetString(), v->GetStringLength());
  }
  const Value* Array(const Value& object, const char* name, const char* field) {
    const Value* v = Member(object, name, field);
    if (v != nullptr && !v->IsArray()) return Fail(field, "is not an array");
    return v;
  }
  ops::WallTime Wall(const Value& object, const char* name, const char* field) {
    const Value* v = Member(object, name, field);
    if (v == nullptr) return {};
    if (!v->IsArray() || v->Size() != 2 || !(*v)[0].IsInt64() || !(*v)[1].IsInt64() ||
        (*v)[0].GetInt64() < 0 || (*v)[0].GetInt64() > kMaxSeconds || (*v)[1].GetInt64() < 0 ||
        (*v)[1].GetInt64() >= 1'000'000) {
      return Fail(field, "is not [sec, usec] of a time before 2096"), ops::WallTime{};
    }
    return ops::WallTime{(*v)[0].GetInt64(), (*v)[1].GetInt64()};
  }
  std::nullptr_t Fail(const char* field, std::string_view what) {
    if (error_.empty()) error_ = fmt::format("shard {}: {} {}", index_, field, what);
    return nullptr;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const Value& result() const { return result_; }

 private:
  int index_;
  const Value& result_;
  std::string error_;
};

ops::RunCounts ReadCounts(ShardReader& r, const Value& counts) {
  ops::RunCounts c;
  c.started = r.Uint(counts, "started", "counts.started");
  c.finished = r.Uint(counts, "finished", "counts.finished");
  c.failed = r.Uint(counts, "failed", "counts.failed");
  c.aborted = r.Uint(counts, "aborted", "counts.aborted");
  c.cancelled = r.Uint(counts, "cancelled", "counts.cancelled");
  c.passed = r.Uint(counts, "passed", "counts.passed");
  c.late = r.Uint(counts, "late", "counts.late");
  c.halted = r.Uint(counts, "halted", "counts.halted");
  c.running = r.Uint(counts, "running", "counts.running");
  return c;
}

std::vector<std::string> ReadTags(ShardReader& r) {
  std::vector<std::string> tags;
  if (const Value* list = r.Array(r.result(), "tags", "tags")) {
    for (const Value& t : list->GetArray()) {
      if (!t.IsString()) return r.Fail("tags[]", "is not a string"), tags;
      tags.emplace_back(t.GetString(), t.GetStringLength());
    }
  }
  return tags;
}

std::vector<ops::FirstReasons::Entry> ReadReasons(ShardReader& r, const char* name) {
  std::vector<ops::FirstReasons::Entry> out;
  const Value* list = r.Array(r.result(), name, name);
  if (list == nullptr) return out;
  for (const Value& e : list->GetArray()) {
    out.push_back(ops::FirstReasons::Entry{static_cast<int>(r.Int(e, "op_idx", name)),
                                           r.String(e, "text", name), r.Uint(e, "count", name),
                                           r.Int(e, "first_instance", name)});
  }
  return out;
}

void ReadHalted(ShardReader& r, Allocator& alloc, ops::RunSnapshot& s) {
  const Value* list = r.Array(r.result(), "halted", "halted");
  if (list == nullptr) return;
  for (const Value& e : list->GetArray()) {
    ops::HaltedInstance h;
    h.instance_id = r.Int(e, "instance_id", "halted[].instance_id");
    if (const Value* op = r.Member(e, "operation", "halted[].operation")) {
      h.operation.CopyFrom(*op, alloc);
    }
    h.halted_at = r.Wall(e, "time_halted", "halted[].time_halted");
    double left = r.Number(e, "time_left", "halted[].time_left", 0, kMaxSeconds);
    h.left_ns = std::llround(left * 1e9);
    s.halted.push_back(std::move(h));
  }
}

void ReadBuckets(ShardReader& r, ops::RunSnapshot& s) {
  // Widths are 100 ms x 2^k: the nearest microsecond is exact.
  double width = r.Number(r.result(), "bucket_width", "bucket_width", 0.1, kMaxBucketWidth);
  s.bucket_width_ns = std::llround(width * 1e6) * 1000;
  const Value* list = r.Array(r.result(), "buckets", "buckets");
  if (list == nullptr) return;
  if (list->Size() > kMaxBuckets) {
    r.Fail("buckets", fmt::format("holds more than {} buckets", kMaxBuckets));
    return;
  }
  for (const Value& b : list->GetArray()) {
    s.buckets.push_back(ops::BucketCounts{{},
                                          r.Uint(b, "num_calls_started", "buckets[]"),
                                          r.Uint(b, "num_calls_finished", "buckets[]")});
  }
}

void ReadLatency(ShardReader& r, ops::RunSnapshot& s) {
  auto it = r.result().FindMember("latency");
  if (it == r.result().MemberEnd()) return;  // no op has a sample yet
  if (!it->value.IsArray()) {
    r.Fail("latency", "is not an array");
    return;
  }
  for (const Value& op : it->value.GetArray()) {
    int op_idx = static_cast<int>(r.Int(op, "op_idx", "latency[].op_idx"));
    const Value* h = r.Member(op, "histogram", "latency[].histogram");
    const Value* list = h ? r.Array(*h, "buckets", "latency[].histogram.buckets") : nullptr;
    if (list == nullptr) return;
    std::vector<ops::LatencyHistogram::BucketCount> buckets;
    for (const Value& pair : list->GetArray()) {
      if (!pair.IsArray() || pair.Size() != 2 || !pair[0].IsInt64() || !pair[1].IsUint64()) {
        r.Fail("latency[].histogram.buckets", "holds an entry that is not [low, count]");
        return;
      }
      buckets.push_back({pair[0].GetInt64(), pair[1].GetUint64()});
    }
    const char* field = "latency[].histogram";
    auto histogram = ops::LatencyHistogram::FromBuckets(
        buckets, r.Uint(*h, "count", field), static_cast<long double>(r.Uint(*h, "sum", field)),
        r.Int(*h, "min", field), r.Int(*h, "max", field));
    if (!histogram.ok()) {
      r.Fail(field, histogram.message());
      return;
    }
    s.histograms.push_back(ops::OpHistogram{
        op_idx, std::make_shared<ops::LatencyHistogram>(std::move(histogram.value()))});
  }
}

// The snapshot parts of one shard's mergeable result that MergeShards adds up.
Result<ops::RunSnapshot> ReadShard(const ShardAnswer& answer, Allocator& alloc) {
  ShardReader r(answer.index, *answer.result);
  const Value& v = *answer.result;
  if (!v.IsObject()) return Status::Error(fmt::format("shard {}: the result is not an object",
                                                      answer.index));
  ops::RunSnapshot s;
  s.run_id = r.String(v, "run_id", "run_id");
  std::string status = r.String(v, "status", "status");
  if (auto parsed = ops::RunStatusFromName(status)) {
    s.status = *parsed;
  } else if (r.ok()) {
    r.Fail("status", fmt::format("\"{}\" is not a run status", status));
  }
  if (v.IsObject() && v.HasMember("status_reason")) {
    s.status_reason = r.String(v, "status_reason", "status_reason");
  }
  s.completed = r.Uint(v, "completed", "completed") == 1;
  s.time_now = r.Wall(v, "time_now", "time_now");
  s.time_start = r.Wall(v, "time_start", "time_start");
  if (s.completed) {
    s.time_finish = r.Wall(v, "time_finish", "time_finish");
    s.duration_ns = std::llround(r.Number(v, "duration", "duration", 0, kMaxSeconds) * 1e9);
  }
  if (const Value* counts = r.Member(v, "counts", "counts")) s.counts = ReadCounts(r, *counts);
  if (v.IsObject() && v.HasMember("percent_complete")) {
    s.percent_complete = r.Number(v, "percent_complete", "percent_complete", 0, 100);
  }
  // Null: the shard's progress counts time (ops::RunSnapshot::progress_by_time).
  if (const Value* planned = r.Member(v, "planned_total", "planned_total")) {
    if (planned->IsNull()) {
      s.progress_by_time = true;
    } else {
      s.planned_total = r.Uint(v, "planned_total", "planned_total");
    }
  }
  s.paused_ns =
      std::llround(r.Number(v, "paused_seconds", "paused_seconds", 0, kMaxSeconds) * 1e9);
  if (v.HasMember("restarts")) {
    s.restarts = static_cast<uint32_t>(r.Number(v, "restarts", "restarts", 0, UINT32_MAX));
  }
  s.tags = ReadTags(r);
  if (const Value* g = r.Member(v, "globals", "globals")) s.globals.CopyFrom(*g, alloc);
  ReadHalted(r, alloc, s);
  s.first_fails = ReadReasons(r, "first_fails");
  s.first_aborts = ReadReasons(r, "first_aborts");
  ReadBuckets(r, s);
  ReadLatency(r, s);
  if (!r.ok()) return Status::Error(r.error());
  return s;
}

// A copy of member `name` of `object`, or nullopt.
std::optional<Value> CopyMember(const Value& object, const char* name, Allocator& alloc) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd()) return std::nullopt;
  return Value(it->value, alloc);
}

// Replaces (or adds) member `name` of `object`.
void SetMember(Value& object, const char* name, Value&& value, Allocator& alloc) {
  auto it = object.FindMember(name);
  if (it != object.MemberEnd()) {
    it->value = std::move(value);
  } else {
    object.AddMember(rapidjson::StringRef(name), value, alloc);
  }
}

// `sip`: each counter summed over the shards that have one (docs/protocol-ops.md#sip);
// members that are not unsigned integers are passed over, as a shard's answer is untrusted.
void AddSipCounters(std::span<const ShardAnswer> present, Value& out, Allocator& alloc) {
  std::optional<Value> sum;
  for (const ShardAnswer& a : present) {
    auto sip = a.result->FindMember("sip");
    if (sip == a.result->MemberEnd() || !sip->value.IsObject()) continue;
    if (!sum) sum.emplace(rapidjson::kObjectType);
    for (auto m = sip->value.MemberBegin(); m != sip->value.MemberEnd(); ++m) {
      if (!m->value.IsUint64()) continue;
      // (HasMember and operator[]: clang 14 refuses == on non-const member iterators.)
      if (!sum->HasMember(m->name)) {
        Value name(m->name, alloc);
        sum->AddMember(name, Value(m->value.GetUint64()), alloc);
      } else if (Value& mine = (*sum)[m->name]; mine.IsUint64()) {
        mine.SetUint64(mine.GetUint64() + m->value.GetUint64());
      }
    }
  }
  if (sum) SetMember(out, "sip", std::move(*sum), alloc);
}

// first_call_summary from the shard holding instance 0 (shard 0); first_fail_summary of the
// lowest instance; data and thresholds (ok only when every shard's is) from shard 0.
void AddChosenParts(std::span<const ShardAnswer> present, Value& out, Allocator& alloc) {
  const Value* first_fail = nullptr;
  for (const ShardAnswer& a : present) {
    const Value& v = *a.result;
    auto call = v.FindMember("first_call_summary");
    if (a.index == 0 && call != v.MemberEnd()) {
      SetMember(out, "first_call_summary", Value(call->value, alloc), alloc);
    }
    auto fail = v.FindMember("first_fail_summary");
    if (fail == v.MemberEnd() || !fail->value.IsObject()) continue;
    auto idx = fail->value.FindMember("idx");
    if (idx == fail->value.MemberEnd() || !idx->value.IsInt64()) continue;
    if (first_fail == nullptr || idx->value.GetInt64() < (*first_fail)["idx"].GetInt64()) {
      first_fail = &fail->value;
    }
  }
  if (first_fail != nullptr) SetMember(out, "first_fail_summary", Value(*first_fail, alloc), alloc);
  const Value& base = *present.front().result;
  if (auto data = CopyMember(base, "data", alloc)) SetMember(out, "data", std::move(*data), alloc);
  auto thresholds = CopyMember(base, "thresholds", alloc);
  if (!thresholds || !thresholds->IsArray()) return;
  for (const ShardAnswer& a : present) {
    auto theirs = a.result->FindMember("thresholds");
    if (theirs == a.result->MemberEnd() || !theirs->value.IsArray()) continue;
    for (rapidjson::SizeType i = 0; i < thresholds->Size() && i < theirs->value.Size(); ++i) {
      Value& mine = (*thresholds)[i];
      const Value& other = theirs->value[i];
      if (!mine.IsObject() || !other.IsObject()) continue;
      auto ok = other.FindMember("ok");
      if (ok == other.MemberEnd() || !ok->value.IsFalse()) continue;
      SetMember(mine, "ok", Value(false), alloc);
      auto value = other.FindMember("value");
      if (value != other.MemberEnd()) SetMember(mine, "value", Value(value->value, alloc), alloc);
    }
  }
  SetMember(out, "thresholds", std::move(*thresholds), alloc);
}

}  // namespace

Result<Value> MergedQueryTestResult(std::span<const ShardAnswer> shards, const Value& globals,
                                    Allocator& alloc, ResultDetail detail) {
  std::vector<ops::RunSnapshot> snapshots;
  std::vector<ShardAnswer> present;
  Value missing(rapidjson::kArrayType);
  for (const ShardAnswer& answer : shards) {
    if (answer.result == nullptr) {
      missing.PushBack(answer.index, alloc);
      continue;
    }
    Result<ops::RunSnapshot> snapshot = ReadShard(answer, alloc);
    if (!snapshot.ok()) return snapshot.status();
    snapshots.push_back(std::move(snapshot.value()));
    present.push_back(answer);
  }
  if (snapshots.empty()) return Status::Error("no shard answered");
  ops::MergeOptions options;
  options.globals = &globals;
  ops::RunSnapshot merged = ops::MergeShards(std::move(snapshots), options, alloc);
  Value out = QueryTestResult(std::move(merged), alloc, detail);
  AddChosenParts(present, out, alloc);
  AddSipCounters(present, out, alloc);
  Value shards_member(rapidjson::kObjectType);
  shards_member.AddMember("count", static_cast<uint64_t>(shards.size()), alloc);
  shards_member.AddMember("missing", missing, alloc);
  out.AddMember("shards", shards_member, alloc);
  return out;
}

Value MergedListTestsEntry(std::span<const Value* const> entries, Allocator& alloc) {
  ops::RunSnapshot merged;
  std::vector<ops::RunStatus> statuses;
  bool first = true;
  for (const Value* entry : entries) {
    if (!entry->IsObject()) continue;
    ShardReader r(0, *entry);
    if (auto status = ops::RunStatusFromName(r.String(*entry, "status", "status"))) {
      statuses.push_back(*status);
    }
    ops::WallTime start = r.Wall(*entry, "time_start", "time_start");
    if (const Value* counts = r.Member(*entry, "counts", "counts")) {
      merged.counts += ReadCounts(r, *counts);
    }
    if (first || start.sec * 1'000'000 + start.usec <
                     merged.time_start.sec * 1'000'000 + merged.time_start.usec) {
      merged.time_start = start;
    }
    if (first) {
      merged.run_id = r.String(*entry, "run_id", "run_id");
      merged.tags = ReadTags(r);
    }
    if (merged.status_reason.empty() && entry->HasMember("status_reason")) {
      merged.status_reason = r.String(*entry, "status_reason", "status_reason");
    }
    first = false;
  }
  merged.status = ops::MergedStatus(statuses);
  Value out = ListTestsEntry(merged, alloc);
  // thresholds_ok: false when any shard's is.
  for (const Value* entry : entries) {
    if (!entry->IsObject()) continue;
    auto ok = entry->FindMember("thresholds_ok");
    if (ok == entry->MemberEnd()) continue;
    bool value = ok->value.IsTrue();
    auto have = out.FindMember("thresholds_ok");
    if (have == out.MemberEnd()) {
      out.AddMember("thresholds_ok", value, alloc);
    } else if (!value) {
      have->value.SetBool(false);
    }
  }
  return out;
}

}  // namespace testrund::rpc
