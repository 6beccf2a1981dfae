// SPDX-License-Identifier: Apache-2.0
// MergeShards (see run_merge.h): each part of a snapshot merged by its own rule.
#include "ops/stats/run_merge.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "ops/base/check.h"
#include "ops/stats/buckets.h"
#include "ops/stats/first_reasons.h"

namespace testrund::ops {
namespace {

using Allocator = rapidjson::Document::AllocatorType;

bool Completed(RunStatus s) {
  return s == RunStatus::kCompleted || s == RunStatus::kCancelled || s == RunStatus::kFailed ||
         s == RunStatus::kInterrupted;
}

int64_t Micros(WallTime t) { return t.sec * 1'000'000 + t.usec; }
WallTime FromMicros(int64_t us) { return WallTime{us / 1'000'000, us % 1'000'000}; }
bool Before(WallTime a, WallTime b) { return Micros(a) < Micros(b); }

// Where a shard's results end: its finish once completed, else its time_now.
WallTime EndOf(const RunSnapshot& s) { return s.completed ? s.time_finish : s.time_now; }

// Shards' totals: summed when every shard knows its own, else unknown.
std::optional<uint64_t> SumKnown(const std::vector<RunSnapshot>& shards,
                                 std::optional<uint64_t> RunSnapshot::*member) {
  uint64_t sum = 0;
  for (const RunSnapshot& s : shards) {
    if (!(s.*member)) return std::nullopt;
    sum += *(s.*member);
  }
  return sum;
}

// By instances when every shard knows how many it plans (the single run's rule), else as
// far as the least advanced shard is.
std::optional<double> MergedPercent(const std::vector<RunSnapshot>& shards,
                                    const RunSnapshot& merged) {
  if (merged.completed) return 100.0;
  std::optional<uint64_t> planned = SumKnown(shards, &RunSnapshot::planned_total);
  if (planned && !merged.progress_by_time) {
    if (*planned == 0) return 100.0;
    return std::min(100.0, 100.0 * static_cast<double>(merged.counts.started) /
                               static_cast<double>(*planned));
  }
  std::optional<double> least;
  for (const RunSnapshot& s : shards) {
    if (!s.percent_complete) return std::nullopt;
    least = least ? std::min(*least, *s.percent_complete) : *s.percent_complete;
  }
  return least;
}

// Each shard's bucket j covers [start + j*w, start + (j+1)*w); added where its start falls
// in one Buckets kept on the merged run's time axis (microseconds -> ns since its start).
void MergeBuckets(const std::vector<RunSnapshot>& shards, RunSnapshot& merged) {
  Buckets buckets(0);
  MonoNs end = 0;
  int64_t origin = Micros(merged.time_start);
  for (const RunSnapshot& s : shards) {
    MonoNs offset = (Micros(s.time_start) - origin) * 1000;
    for (size_t j = 0; j < s.buckets.size(); ++j) {
      MonoNs t = offset + static_cast<MonoNs>(j) * s.bucket_width_ns;
      buckets.AddStarted(t, s.buckets[j].started);
      buckets.AddFinished(t, s.buckets[j].finished);
    }
    end = std::max(end, (Micros(EndOf(s)) - origin) * 1000);
  }
  for (const Buckets::Bucket& b : buckets.Snapshot(end, &merged.bucket_width_ns)) {
    merged.buckets.push_back(BucketCounts{FromMicros(origin + b.start / 1000), b.started,
                                          b.finished});
  }
}

// Every shard's entries in order of their lowest instance, added into one table (so the
// merged order does not depend on which worker answered first).
std::vector<FirstReasons::Entry> MergeReasons(const std::vector<RunSnapshot>& shards,
                                              std::vector<FirstReasons::Entry> RunSnapshot::*list) {
  std::vector<const FirstReasons::Entry*> all;
  for (const RunSnapshot& s : shards) {
    for (const FirstReasons::Entry& e : s.*list) all.push_back(&e);
  }
  // kNoInstance (-1) as the highest: unknown first instances go last.
  auto key = [](const FirstReasons::Entry* e) {
    return static_cast<uint64_t>(e->first_instance);
  };
  std::stable_sort(all.begin(), all.end(),
                   [&key](const auto* a, const auto* b) { return key(a) < key(b); });
  FirstReasons table;
  for (const FirstReasons::Entry* e : all) {
    if (e->op_idx == FirstReasons::kOtherOpIdx && e->text == FirstReasons::kOtherText) {
      table.AddOther(e->count, e->first_instance);
    } else {
      table.Add(e->op_idx, e->text, e->count, e->first_instance);
    }
  }
  return table.Entries();
}

// Histograms add bucket-wise per op; the summaries are then those of the sum.
void MergeLatency(std::vector<RunSnapshot>& shards, RunSnapshot& merged) {
  std::map<int, std::shared_ptr<LatencyHistogram>> by_op;
  for (RunSnapshot& s : shards) {
    for (const OpHistogram& h : s.histograms) {
      std::shared_ptr<LatencyHistogram>& sum = by_op[h.op_idx];
      if (!sum) sum = std::make_shared<LatencyHistogram>();
      sum->Merge(*h.histogram);
    }
  }
  for (auto& [op_idx, histogram] : by_op) {
    if (histogram->count() == 0) continue;
    merged.latency.push_back(SummarizeLatency(op_idx, *histogram));
    merged.histograms.push_back(OpHistogram{op_idx, histogram});
  }
}

// The lowest ids of every shard's (sorted) list, up to `max`.
void MergeHalted(std::vector<RunSnapshot>& shards, size_t max, RunSnapshot& merged) {
  for (RunSnapshot& s : shards) {
    for (HaltedInstance& h : s.halted) merged.halted.push_back(std::move(h));
  }
  std::sort(merged.halted.begin(), merged.halted.end(),
            [](const HaltedInstance& a, const HaltedInstance& b) {
              return a.instance_id < b.instance_id;
            });
  if (merged.halted.size() > max) merged.halted.resize(max);
}

// The first shard's `g`, with each top-level key a shard changed from the definition's
// globals taken from the lowest such shard.
void MergeGlobals(std::vector<RunSnapshot>& shards, const rapidjson::Value* initial,
                  Allocator& alloc, RunSnapshot& merged) {
  merged.globals.SetObject();
  auto unchanged = [initial](const rapidjson::Value::Member& m) {
    if (initial == nullptr || !initial->IsObject()) return false;
    auto it = initial->FindMember(m.name);
    return it != initial->MemberEnd() && it->value == m.value;
  };
  for (RunSnapshot& s : shards) {
    if (!s.globals.IsObject()) continue;
    for (auto& m : s.globals.GetObject()) {
      auto have = merged.globals.FindMember(m.name);
      if (have == merged.globals.MemberEnd()) {
        merged.globals.AddMember(rapidjson::Value(m.name, alloc), rapidjson::Value(m.value, alloc),
                                 alloc);
      } else if (!unchanged(m) && unchanged(*have)) {
        have->value.CopyFrom(m.value, alloc);
      }
    }
  }
}

// ok only when every shard's check is; the value the one nearest to failing.
void MergeThresholds(const std::vector<RunSnapshot>& shards, RunSnapshot& merged) {
  merged.thresholds = shards.front().thresholds;
  for (const RunSnapshot& s : shards) {
    for (size_t i = 0; i < merged.thresholds.size() && i < s.thresholds.size(); ++i) {
      ThresholdResult& into = merged.thresholds[i];
      const ThresholdResult& from = s.thresholds[i];
      into.ok = into.ok && from.ok;
      if (!from.value) continue;
      bool worse = !into.value || (into.threshold.max ? *from.value > *into.value
                                                      : *from.value < *into.value);
      if (worse) into.value = from.value;
    }
  }
}

// first_call: instance 0's record; first_fail: the lowest instance's.
void MergeLogs(std::vector<RunSnapshot>& shards, RunSnapshot& merged) {
  for (RunSnapshot& s : shards) {
    if (s.first_call && s.first_call->idx == 0 && !merged.first_call) {
      merged.first_call = std::move(s.first_call);
    }
    if (s.first_fail && (!merged.first_fail || s.first_fail->idx < merged.first_fail->idx)) {
      merged.first_fail = std::move(s.first_fail);
    }
  }
}

}  // namespace

RunStatus MergedStatus(std::span<const RunStatus> statuses) {
  bool all_completed = true;
  bool any_failed = false;
  bool any_cancelled = false;
  bool any_running = false;
  bool any_completed = false;
  bool any_interrupted = false;
  bool all_open_paused = true;
  bool all_open_scheduled = true;
  for (RunStatus s : statuses) {
    if (Completed(s)) {
      any_completed = true;
      any_failed = any_failed || s == RunStatus::kFailed;
      any_cancelled = any_cancelled || s == RunStatus::kCancelled;
      any_interrupted = any_interrupted || s == RunStatus::kInterrupted;
      continue;
    }
    all_completed = false;
    any_running = any_running || s == RunStatus::kRunning;
    all_open_paused = all_open_paused && s == RunStatus::kPaused;
    all_open_scheduled = all_open_scheduled && s == RunStatus::kScheduled;
  }
  if (all_completed) {
    if (any_failed) return RunStatus::kFailed;
    if (any_interrupted) return RunStatus::kInterrupted;
    return any_cancelled ? RunStatus::kCancelled : RunStatus::kCompleted;
  }
  if (any_running) return RunStatus::kRunning;
  if (all_open_paused) return RunStatus::kPaused;
  if (all_open_scheduled && !any_completed) return RunStatus::kScheduled;
  return RunStatus::kRunning;
}

RunSnapshot MergeShards(std::vector<RunSnapshot>&& shards, const MergeOptions& options,
                        Allocator& alloc) {
  CHECK(!shards.empty());
  RunSnapshot merged;
  const RunSnapshot& first = shards.front();
  merged.run_id = first.run_id;
  merged.tags = first.tags;
  merged.data = first.data;
  merged.ops = first.ops;
  std::vector<RunStatus> statuses;
  merged.time_start = first.time_start;
  merged.time_now = first.time_now;
  for (const RunSnapshot& s : shards) {
    statuses.push_back(s.status);
    if (merged.status_reason.empty()) merged.status_reason = s.status_reason;
    merged.counts += s.counts;
    if (Before(s.time_start, merged.time_start)) merged.time_start = s.time_start;
    if (Before(merged.time_now, s.time_now)) merged.time_now = s.time_now;
    if (Before(merged.time_finish, s.time_finish)) merged.time_finish = s.time_finish;
    merged.paused_ns = std::max(merged.paused_ns, s.paused_ns);
    merged.restarts = std::max(merged.restarts, s.restarts);
    merged.progress_by_time = merged.progress_by_time || s.progress_by_time;
  }
  merged.status = MergedStatus(statuses);
  merged.completed = Completed(merged.status);
  if (merged.completed) {
    // From the shards' own durations (ns), not the wall times (us): the last to finish.
    for (const RunSnapshot& s : shards) {
      MonoNs offset = (Micros(s.time_start) - Micros(merged.time_start)) * 1000;
      merged.duration_ns = std::max(merged.duration_ns, offset + s.duration_ns);
    }
  } else {
    merged.time_finish = WallTime{};
  }
  merged.planned_total = SumKnown(shards, &RunSnapshot::planned_total);
  merged.due = SumKnown(shards, &RunSnapshot::due);
  merged.percent_complete = MergedPercent(shards, merged);
  MergeBuckets(shards, merged);
  merged.first_fails = MergeReasons(shards, &RunSnapshot::first_fails);
  merged.first_aborts = MergeReasons(shards, &RunSnapshot::first_aborts);
  MergeLatency(shards, merged);
  MergeThresholds(shards, merged);
  MergeHalted(shards, options.max_halted, merged);
  MergeGlobals(shards, options.globals, alloc, merged);
  MergeLogs(shards, merged);
  return merged;
}

}  // namespace testrund::ops
