// SPDX-License-Identifier: Apache-2.0
// Run::Snapshot: what a run has done so far, as plain values (ops/stats/run_snapshot.h).
// It walks no instance: counts, reasons, buckets and histograms are kept up to date as
// things happen, and the halted list reads the ordered set of halted ids.
#include <algorithm>
#include <utility>

#include <lua.hpp>

#include "ops/lua/lua_json.h"
#include "ops/program.h"
#include "ops/run.h"

namespace testrund::ops {

RunSnapshot Run::Snapshot(unsigned parts, rapidjson::Document::AllocatorType& alloc) const {
  RunSnapshot out;
  MonoNs now_ns = now();
  out.run_id = def_.run_id;
  out.status = status_;
  out.status_reason = status_reason_;
  out.completed = completed();
  out.time_now = Wall(now_ns);
  out.time_start = Wall(start_);
  if (out.completed) {
    out.time_finish = Wall(finish_);
    out.duration_ns = finish_ - start_;
  }
  out.counts = counts_;
  out.percent_complete = PercentComplete();
  if (auto total = schedule_.TotalPlanned()) out.planned_total = def_.shard.Share(*total);
  out.shard = def_.shard;
  out.progress_by_time = ProgressByTime();
  out.due = Due();
  out.paused_ns = paused_ns();
  out.restarts = restarts_;
  if (before_start()) out.next_start_at = Wall(start_);
  if (repetition_ > 0) out.repeat = RepeatView{repetition_, repetitions_, {}, 0};
  out.tags = def_.tags;
  out.thresholds = thresholds_.results();
  if (const RunData* data = def_.data.get()) {
    out.data = DataSummary{data->table().rows(), data->table().columns(),
                           std::string(DataModeName(data->mode())), data->source()};
  }
  if (run_io_) run_io_->AddTo(out);
  out.logs_version = CurrentLogsVersion();

  if (parts & kSnapshotGlobals) {
    lua_State* L = def_.lua->state();
    def_.lua->PushGlobals();
    ToJson(L, -1, out.globals, alloc);
    lua_pop(L, 1);
    if (!out.globals.IsObject()) out.globals.SetObject();  // an empty `g` reads as {} too
  }
  if (parts & kSnapshotHalted) AddHalted(out, alloc);
  if (parts & kSnapshotReasons) {
    out.first_fails = first_fails_.Entries();
    out.first_aborts = first_aborts_.Entries();
  }
  if (parts & kSnapshotBuckets) {
    std::vector<Buckets::Bucket> buckets =
        buckets_.Snapshot(completed() ? finish_ : now_ns, &out.bucket_width_ns);
    for (const Buckets::Bucket& bucket : buckets) {
      out.buckets.push_back(BucketCounts{Wall(bucket.start), bucket.started, bucket.finished});
    }
  }
  for (size_t idx = 0; idx < latency_.size(); ++idx) {
    const LatencyHistogram* h = latency_[idx].get();
    if (h == nullptr || h->count() == 0) continue;
    int op_idx = static_cast<int>(idx);
    if (parts & kSnapshotLatency) out.latency.push_back(SummarizeLatency(op_idx, *h));
    if (parts & kSnapshotHistograms) out.histograms.push_back(OpHistogram{op_idx, latency_[idx]});
  }
  if (parts & kSnapshotOps) {
    const Program& program = *def_.program;
    out.ops.reserve(program.size());
    for (size_t idx = 0; idx < program.size(); ++idx) {
      const Op& op = program.op(idx);
      out.ops.push_back(OpSummary{std::string(op.type->name), op.label});
    }
  }
  if (parts & kSnapshotLogs) {
    if (auto view = summary_logs_.FirstCall()) out.first_call = Record(*view, alloc);
    if (auto view = summary_logs_.FirstFail()) out.first_fail = Record(*view, alloc);
  }
  return out;
}

LogsVersion Run::CurrentLogsVersion() const {
  // Logs only grow, and a record changes once more, when its instance completes: presence,
  // instance, completion and sizes tell every change.
  LogsVersion version;
  size_t k = 0;
  for (const std::optional<SummaryView>& view :
       {summary_logs_.FirstCall(), summary_logs_.FirstFail()}) {
    if (!view) {
      k += 5;
      continue;
    }
    version.parts[k++] = 1;
    version.parts[k++] = static_cast<uint64_t>(view->idx);
    version.parts[k++] = view->completed ? 1 : 0;
    version.parts[k++] = view->check_log->size();
    version.parts[k++] = view->trace_log ? view->trace_log->size() : 0;
  }
  return version;
}

void Run::AddHalted(RunSnapshot& out, rapidjson::Document::AllocatorType& alloc) const {
  // halted_ is ordered: the cost is the entries listed, not the instances alive.
  out.halted.reserve(std::min(kMaxHaltedListed, halted_.size()));
  size_t bytes = 0;
  halted_.ForEach([&](uint64_t key) {
    if (out.halted.size() >= kMaxHaltedListed) return false;
    int64_t id = HaltedId(key);
    const Instance& instance = *instances_.Find(id);
    const Op& op = def_.program->op(static_cast<size_t>(instance.pc));
    bytes += op.echo_bytes;
    // The first is always listed, however large its operation.
    if (bytes > kMaxHaltedListedBytes && !out.halted.empty()) return false;
    MonoNs deadline = instance.park_start + instance.park_duration;
    out.halted.push_back(HaltedInstance{id, rapidjson::Value(op.echo, alloc),
                                        Wall(instance.park_start),
                                        std::max<MonoNs>(0, deadline - now())});
    return true;
  });
}

InstanceRecord Run::Record(const SummaryView& view,
                           rapidjson::Document::AllocatorType& alloc) const {
  InstanceRecord record;
  record.idx = view.idx;
  record.completed = view.completed;
  record.start = Wall(view.start);
  if (view.completed) {
    record.finish = Wall(view.finish);
    record.duration_ns = view.finish - view.start;
  }
  record.check_log = *view.check_log;
  if (view.trace_log != nullptr && !view.trace_log->empty()) {
    record.trace_log.CopyFrom(view.trace_log->entries(), alloc);
  }
  return record;
}

MonoNs Run::ActiveElapsed() const {
  MonoNs end = completed() ? finish_ : status_ == RunStatus::kPaused ? paused_at_ : now();
  return std::max<MonoNs>(0, end - start_ - paused_total_);  // 0 while scheduled
}

std::optional<uint64_t> Run::Due() const {
  if (!schedule_.Paced()) return std::nullopt;
  if (before_start()) return 0;
  uint64_t due = schedule_.DueCount(ActiveElapsed());
  std::optional<uint64_t> total = schedule_.TotalPlanned();
  return def_.shard.Share(total ? std::min(due, *total) : due);
}

std::optional<double> Run::PercentComplete() const {
  if (completed()) return 100.0;
  if (before_start()) return 0.0;
  MonoNs active = ActiveElapsed();
  // Without a total the run is bounded by time (duration or the end of the stages), so
  // progress is the active time elapsed, even where the schedule could count the starts.
  if (ProgressByTime()) {
    std::optional<MonoNs> run_end = schedule_.EndOffset();
    if (!run_end) return std::nullopt;
    return std::clamp(100.0 * static_cast<double>(active) / static_cast<double>(*run_end), 0.0,
                      100.0);
  }
  return schedule_.PercentComplete(counts_.started, active, def_.shard);
}

bool Run::ProgressByTime() const {
  return def_.distribution.type != DistributionType::kSingle && def_.distribution.total == 0;
}

MonoNs Run::paused_ns() const {
  if (status_ == RunStatus::kPaused && !paused_before_start_) {
    return paused_total_ + (now() - paused_at_);
  }
  return paused_total_;
}

}  // namespace testrund::ops
