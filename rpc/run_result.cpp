// SPDX-License-Identifier: Apache-2.0
// The QueryTest result object (see run_status.h), field by field per SPEC §3 and
// reference/querytest-api.txt: `completed` is 1 when done; time_finish/duration only then;
// halted, first_fails and first_aborts always present; every bucket but the first has
// time_start; empty logs are omitted.
#include "rpc/run_result.h"

#include <lua.hpp>

#include "ops/lua/lua_json.h"

namespace testrund::ops {
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

// [sec, usec] of monotonic time `t`, through the run's own (start, wall start) pair: the
// same instant reads the same in every QueryTest (a fresh pair per call drifts by a
// microsecond now and then).
rapidjson::Value Wall(const Run& run, MonoNs t, Allocator& alloc) {
  WallTime wall = WallAt(t, run.time_start(), run.wall_start());
  rapidjson::Value out(rapidjson::kArrayType);
  out.PushBack(wall.sec, alloc).PushBack(wall.usec, alloc);
  return out;
}

double Seconds(MonoNs ns) { return static_cast<double>(ns) / kNsPerSecond; }

rapidjson::Value Counts(const RunCounts& c, Allocator& alloc) {
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

rapidjson::Value Tags(const Run& run, Allocator& alloc) {
  rapidjson::Value tags(rapidjson::kArrayType);
  for (const std::string& tag : run.tags()) {
    tags.PushBack(rapidjson::Value(tag.c_str(), static_cast<rapidjson::SizeType>(tag.size()),
                                   alloc),
                  alloc);
  }
  return tags;
}

rapidjson::Value Summary(const Run& run, const InstanceSummary& s, Allocator& alloc) {
  rapidjson::Value out;
  ObjectBuilder b(out, alloc);
  b.Add("idx", s.idx).Add("completed", s.completed ? 1 : 0);
  b.AddValue("time_start", Wall(run, s.start, alloc));
  if (s.completed) {
    b.AddValue("time_finish", Wall(run, s.finish, alloc));
    b.Add("duration", Seconds(s.finish - s.start));
  }
  if (s.check_log != nullptr && !s.check_log->empty()) {
    b.AddValue("check_log", s.check_log->ToJson(alloc));
  }
  if (s.trace_log != nullptr && !s.trace_log->empty()) {
    b.AddValue("trace_log", s.trace_log->ToJson(alloc));
  }
  return out;
}

}  // namespace

void WriteRunStatus(const Run& run, rapidjson::Value& out, Allocator& alloc) {
  ObjectBuilder b(out, alloc);
  MonoNs now = run.clock().Now();
  b.AddString("run_id", run.run_id());
  b.Add("completed", run.completed() ? 1 : 0);
  b.AddString("status", RunStatusName(run.status()));
  if (!run.status_reason().empty()) b.AddString("status_reason", run.status_reason());
  b.AddValue("time_now", Wall(run, now, alloc));
  b.AddValue("time_start", Wall(run, run.time_start(), alloc));
  if (run.completed()) {
    b.AddValue("time_finish", Wall(run, run.time_finish(), alloc));
    b.Add("duration", Seconds(run.time_finish() - run.time_start()));
  }
  b.AddValue("counts", Counts(run.counts(), alloc));
  if (auto percent = run.PercentComplete()) b.Add("percent_complete", *percent);
  b.Add("paused_seconds", Seconds(run.paused_ns()));
  b.AddValue("tags", Tags(run, alloc));

  rapidjson::Value globals;
  lua_State* L = run.lua().state();
  run.lua().PushGlobals();
  ToJson(L, -1, globals, alloc);
  lua_pop(L, 1);
  if (!globals.IsObject()) globals.SetObject();  // an empty `g` reads as {} too
  b.AddValue("globals", std::move(globals));

  rapidjson::Value halted(rapidjson::kArrayType);
  for (const HaltedEntry& entry : run.Halted(kMaxHaltedListed, kMaxHaltedListedBytes)) {
    rapidjson::Value item;
    ObjectBuilder(item, alloc)
        .Add("instance_id", entry.instance_id)
        .AddValue("operation", rapidjson::Value(*entry.operation, alloc));
    halted.PushBack(item, alloc);
  }
  b.AddValue("halted", std::move(halted));
  b.Add("halted_total", run.counts().halted);
  b.AddValue("first_fails", run.first_fails().ToJson(alloc));
  b.AddValue("first_aborts", run.first_aborts().ToJson(alloc));

  rapidjson::Value buckets(rapidjson::kArrayType);
  bool first = true;
  for (const Buckets::Bucket& bucket :
       run.buckets().Snapshot(run.completed() ? run.time_finish() : now)) {
    rapidjson::Value item;
    ObjectBuilder ib(item, alloc);
    if (!first) ib.AddValue("time_start", Wall(run, bucket.start, alloc));
    ib.Add("num_calls_started", bucket.started).Add("num_calls_finished", bucket.finished);
    buckets.PushBack(item, alloc);
    first = false;
  }
  b.AddValue("buckets", std::move(buckets));

  auto latencies = run.Latencies();
  if (!latencies.empty()) {
    rapidjson::Value latency(rapidjson::kArrayType);
    for (const auto& [op_idx, h] : latencies) {
      rapidjson::Value item;
      ObjectBuilder(item, alloc)
          .Add("op_idx", op_idx)
          .Add("count", h->count())
          .Add("min", Seconds(h->min()))
          .Add("p50", Seconds(h->Percentile(0.5)))
          .Add("p90", Seconds(h->Percentile(0.9)))
          .Add("p99", Seconds(h->Percentile(0.99)))
          .Add("p999", Seconds(h->Percentile(0.999)))
          .Add("max", Seconds(h->max()));
      latency.PushBack(item, alloc);
    }
    b.AddValue("latency", std::move(latency));
  }

  if (auto summary = run.FirstCallSummary()) {
    b.AddValue("first_call_summary", Summary(run, *summary, alloc));
  } else {
    rapidjson::Value pending;
    ObjectBuilder(pending, alloc).Add("idx", 0).Add("completed", 0);
    b.AddValue("first_call_summary", std::move(pending));
  }
  if (auto summary = run.FirstFailSummary()) {
    b.AddValue("first_fail_summary", Summary(run, *summary, alloc));
  }
}

void WriteRunSummary(const Run& run, rapidjson::Value& out, Allocator& alloc) {
  ObjectBuilder b(out, alloc);
  b.AddString("run_id", run.run_id());
  b.AddString("status", RunStatusName(run.status()));
  b.AddValue("time_start", Wall(run, run.time_start(), alloc));
  b.AddValue("counts", Counts(run.counts(), alloc));
  b.AddValue("tags", Tags(run, alloc));
}

}  // namespace testrund::ops
