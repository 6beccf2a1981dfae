// SPDX-License-Identifier: Apache-2.0
// RunHistory (see run_history.h).
#include "daemon/run_history.h"

#include <fmt/format.h>

#include <algorithm>

namespace testrund::daemon {
namespace {

double Between(ops::WallTime from, ops::WallTime to) {
  return static_cast<double>(to.sec - from.sec) + (to.usec - from.usec) / 1e6;
}

}  // namespace

std::string IntervalPoint::Json() const {
  std::string out = fmt::format(
      R"({{"id":{},"time":[{},{}],"seconds":{},"started":{},"finished":{},"failed":{},)"
      R"("aborted":{},"latency":[)",
      id, end.sec, end.usec, seconds, started, finished, failed, aborted);
  for (size_t k = 0; k < latency.size(); ++k) {
    const OpLatency& op = latency[k];
    out += fmt::format(R"({}{{"op_idx":{},"count":{},"p50":{},"p90":{},"p99":{}}})",
                       k ? "," : "", op.op_idx, op.count, ops::ToSeconds(op.p50), ops::ToSeconds(op.p90),
                       ops::ToSeconds(op.p99));
  }
  out += "]}";
  return out;
}

const IntervalPoint* RunHistory::Sample(const ops::RunSnapshot& run) {
  if (done_ || run.status == ops::RunStatus::kScheduled) return nullptr;
  ops::WallTime now = run.completed ? run.time_finish : run.time_now;
  IntervalPoint point;
  point.id = next_id_++;
  point.end = now;
  point.seconds = std::max(0.0, Between(previous_time_.value_or(run.time_start), now));
  point.started = run.counts.started - previous_.started;
  point.finished = run.counts.finished - previous_.finished;
  point.failed = run.counts.failed - previous_.failed;
  point.aborted = run.counts.aborted - previous_.aborted;
  std::map<int, std::shared_ptr<const ops::LatencyHistogram>> histograms;
  for (const ops::OpHistogram& op : run.histograms) {
    histograms[op.op_idx] = op.histogram;
    auto before = previous_histograms_.find(op.op_idx);
    ops::LatencyHistogram interval = before == previous_histograms_.end()
                                         ? *op.histogram
                                         : op.histogram->Since(*before->second);
    if (interval.count() == 0) continue;
    point.latency.push_back({op.op_idx, interval.count(), interval.Percentile(0.5),
                             interval.Percentile(0.9), interval.Percentile(0.99)});
  }
  previous_ = run.counts;
  previous_time_ = now;
  previous_histograms_ = std::move(histograms);
  done_ = run.completed;
  points_.push_back(std::move(point));
  if (points_.size() > kMaxPoints) points_.pop_front();
  return &points_.back();
}

std::optional<std::vector<const IntervalPoint*>> RunHistory::After(uint64_t id) const {
  if (points_.empty() || id >= next_id_) return std::nullopt;
  if (id + 1 < points_.front().id) return std::nullopt;  // some fell out of the window
  std::vector<const IntervalPoint*> out;
  for (const IntervalPoint& point : points_) {
    if (point.id > id) out.push_back(&point);
  }
  return out;
}

}  // namespace testrund::daemon
