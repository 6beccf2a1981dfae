// SPDX-License-Identifier: Apache-2.0
// SummaryLogs: the first call's and the first failing instance's logs (see summary_logs.h).
#include "ops/stats/summary_logs.h"

#include <utility>

namespace testrund::ops {

void SummaryLogs::OnStart(int64_t id, MonoNs start) {
  if (id != 0) return;
  first_call_ = std::make_unique<InstanceLogs>();
  first_call_->trace_log = std::make_unique<TraceLog>();
  first_call_start_ = start;
}

InstanceLogs* SummaryLogs::LogsOf(int64_t id, std::unique_ptr<InstanceLogs>& own, bool allocate) {
  if (id == 0) return first_call_.get();
  if (id == first_fail_id_) return first_fail_.get();
  // Once the first failing instance is known the others are no longer candidates; their
  // logs are freed with them (not here: an op may still hold their trace log).
  if (first_fail_id_ >= 0) return nullptr;
  if (!own && allocate) {
    if (!spares_.empty()) {
      own = std::move(spares_.back());
      spares_.pop_back();
    } else {
      own = std::make_unique<InstanceLogs>();
    }
  }
  return own.get();
}

CheckLog* SummaryLogs::ChecksOf(int64_t id, std::unique_ptr<InstanceLogs>& own) {
  InstanceLogs* logs = LogsOf(id, own, true);
  return logs != nullptr ? &logs->check_log : nullptr;
}

TraceLog* SummaryLogs::TraceOf(int64_t id, std::unique_ptr<InstanceLogs>& own) {
  InstanceLogs* logs = LogsOf(id, own, false);
  if (logs != nullptr && logs->trace_log) return logs->trace_log.get();
  if (!candidates_trace_ || !Traces(id)) return nullptr;
  logs = LogsOf(id, own, true);
  logs->trace_log = std::make_unique<TraceLog>();
  // Read only if this instance becomes the first failing one (OnFail).
  if (id != first_fail_id_) logs->trace_log->DeferHex();
  return logs->trace_log.get();
}

void SummaryLogs::OnFail(int64_t id, MonoNs start, std::unique_ptr<InstanceLogs>& own) {
  if (first_fail_id_ >= 0) return;
  first_fail_id_ = id;
  first_fail_start_ = start;
  if (id == 0) return;  // first_fail_summary is the first call's record
  first_fail_ = own ? std::move(own) : std::make_unique<InstanceLogs>();
  if (first_fail_->trace_log) first_fail_->trace_log->EncodeDeferredHex();
}

void SummaryLogs::OnFinish(int64_t id, MonoNs now, std::unique_ptr<InstanceLogs>& own) {
  InstanceLogs* summary = id == 0 ? first_call_.get()
                          : id == first_fail_id_ ? first_fail_.get()
                                                 : nullptr;
  if (summary != nullptr) {
    summary->completed = true;
    summary->finish = now;
  }
  if (own && !own->trace_log && spares_.size() < kSpareLogs) {
    // A candidate that did not become the first failing instance: keep its logs' memory.
    own->check_log.Clear();
    own->completed = false;
    own->finish = 0;
    spares_.push_back(std::move(own));
  }
}

SummaryView SummaryLogs::View(int64_t id, MonoNs start, const InstanceLogs& logs) {
  return SummaryView{id, logs.completed, start, logs.finish, &logs.check_log,
                     logs.trace_log.get()};
}

std::optional<SummaryView> SummaryLogs::FirstCall() const {
  if (!first_call_) return std::nullopt;
  return View(0, first_call_start_, *first_call_);
}

std::optional<SummaryView> SummaryLogs::FirstFail() const {
  if (first_fail_id_ < 0) return std::nullopt;
  if (first_fail_id_ == 0) return FirstCall();
  return View(first_fail_id_, first_fail_start_, *first_fail_);
}

}  // namespace testrund::ops
