// SPDX-License-Identifier: Apache-2.0
// SummaryLogs: the check and trace logs QueryTest shows in full (docs/api.md#querytest):
// first_call_summary's (instance 0) and first_fail_summary's (the first instance that
// failed or aborted). Which instance fails first is known only when it fails, so until then
// every instance is a candidate and keeps its logs while it runs, in the InstanceLogs slot
// its owner gives it (Instance::logs). A candidate that passes gives its logs back: checks
// of passing instances allocate nothing once a few logs are in circulation.
//
// A candidate keeps a trace log only when the run traces anything outside the first call
// (a halt's comment, a protocol message, trace_level >= 1: `candidates_trace`), and only
// once it writes a first entry, so that instances that never trace carry none. The hex of
// a candidate's messages is encoded only if it becomes the first failing instance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ops/base/clock.h"
#include "ops/stats/check_log.h"
#include "ops/stats/trace_log.h"

namespace testrund::ops {

// The logs one instance keeps.
struct InstanceLogs {
  CheckLog check_log;
  std::unique_ptr<TraceLog> trace_log;  // the first call's always; a candidate's on use
  bool completed = false;
  MonoNs finish = 0;  // when completed
};

// What a summary shows: borrowed from SummaryLogs, valid until its next change.
struct SummaryView {
  int64_t idx = 0;
  bool completed = false;
  MonoNs start = 0;
  MonoNs finish = 0;                   // when completed
  const CheckLog* check_log = nullptr;  // never null
  const TraceLog* trace_log = nullptr;  // null: nothing traced
};

class SummaryLogs {
 public:
  explicit SummaryLogs(bool candidates_trace) : candidates_trace_(candidates_trace) {}

  // Instance `id` started at `start` (instance 0's logs are created here).
  void OnStart(int64_t id, MonoNs start);

  // Whether instance `id` keeps a trace log: the first call, the first failing instance,
  // and every instance until that one is known.
  bool Traces(int64_t id) const {
    return id == 0 || first_fail_id_ < 0 || id == first_fail_id_;
  }

  // The check log instance `id` writes to (`own` is its slot: a candidate's is filled from
  // the spares), or nullptr when it keeps none.
  CheckLog* ChecksOf(int64_t id, std::unique_ptr<InstanceLogs>& own);
  // The trace log instance `id` writes to, created on first use for a candidate when
  // candidates trace; nullptr when it keeps none.
  TraceLog* TraceOf(int64_t id, std::unique_ptr<InstanceLogs>& own);

  // Instance `id` (started at `start`) failed or aborted: the first one becomes
  // first_fail_summary, its candidate logs kept. Later ones change nothing.
  void OnFail(int64_t id, MonoNs start, std::unique_ptr<InstanceLogs>& own);

  // Instance `id` ended at `now`: a summary's record is completed; a candidate's logs go
  // back to the spares (unless they hold a trace log, which an op may still refer to: those
  // are freed with the instance).
  void OnFinish(int64_t id, MonoNs now, std::unique_ptr<InstanceLogs>& own);

  // Instance 0, once it has started.
  std::optional<SummaryView> FirstCall() const;
  // The first instance that failed or aborted, once there is one.
  std::optional<SummaryView> FirstFail() const;

 private:
  InstanceLogs* LogsOf(int64_t id, std::unique_ptr<InstanceLogs>& own, bool allocate);
  static SummaryView View(int64_t id, MonoNs start, const InstanceLogs& logs);

  // Candidates' logs kept for reuse (at most kSpareLogs).
  static constexpr size_t kSpareLogs = 1024;

  bool candidates_trace_;
  std::unique_ptr<InstanceLogs> first_call_;
  MonoNs first_call_start_ = 0;
  std::unique_ptr<InstanceLogs> first_fail_;
  int64_t first_fail_id_ = -1;
  MonoNs first_fail_start_ = 0;
  std::vector<std::unique_ptr<InstanceLogs>> spares_;
};

}  // namespace testrund::ops
