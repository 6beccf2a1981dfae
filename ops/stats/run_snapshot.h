// SPDX-License-Identifier: Apache-2.0
// RunSnapshot: what a run has done so far, as plain values — the one thing the engine hands
// out about a run. Every view of a run is a function of it: the QueryTest and ListTests
// objects (rpc/run_result.h), the results_dir file, and later a metrics page, a live view
// or a merge of several daemons' snapshots. Nothing outside the engine reads a Run itself.
//
// Times are wall-clock ([sec, usec], derived from the run's one pair of monotonic and wall
// readings, so an instant reads the same in every snapshot) or durations in nanoseconds.
// The parts that are JSON by nature — `g`, the operations of halted instances, trace
// entries — are rapidjson values built in an allocator the caller provides, so a view that
// writes JSON moves them instead of copying them again.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/stats/check_log.h"
#include "ops/stats/first_reasons.h"
#include "ops/stats/latency_histogram.h"
#include "ops/stats/shard.h"
#include "ops/stats/threshold.h"

namespace testrund::ops {

// kScheduled: waiting for its start_at; kInterrupted: the daemon stopped while it ran, and
// brought back its results as of then (state_dir) — a completed status. The later values
// are last, so the others keep theirs.
enum class RunStatus : uint8_t {
  kRunning, kPaused, kCompleted, kCancelled, kFailed, kScheduled, kInterrupted
};
inline constexpr RunStatus kRunStatuses[] = {
    RunStatus::kScheduled, RunStatus::kRunning, RunStatus::kPaused,     RunStatus::kCompleted,
    RunStatus::kCancelled, RunStatus::kFailed,  RunStatus::kInterrupted};
// "running", "paused", "completed", "cancelled", "failed", "scheduled", "interrupted".
std::string_view RunStatusName(RunStatus status);
// The status named `name`, or nullopt.
std::optional<RunStatus> RunStatusFromName(std::string_view name);

// The instance counters (docs/api.md#querytest `counts`).
struct RunCounts {
  uint64_t started = 0;
  uint64_t finished = 0;
  uint64_t failed = 0;
  uint64_t aborted = 0;
  uint64_t cancelled = 0;
  uint64_t passed = 0;
  uint64_t late = 0;     // starts that were due while the backlog was full
  uint64_t halted = 0;   // halted now
  uint64_t running = 0;  // in progress now (started - finished)

  // Adds `other`'s counters (a merge of shards).
  RunCounts& operator+=(const RunCounts& o) {
    started += o.started, finished += o.finished, failed += o.failed, aborted += o.aborted;
    cancelled += o.cancelled, passed += o.passed, late += o.late, halted += o.halted;
    running += o.running;
    return *this;
  }
};

// The quantiles a latency summary holds, and their names in QueryTest.
struct Quantile {
  double q;
  std::string_view name;
};
inline constexpr Quantile kReportedQuantiles[] = {
    {0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}, {0.999, "p999"}};

// One op's latency: exact count, min and max; the quantiles within the histogram's error.
struct LatencySummary {
  int op_idx = 0;
  uint64_t count = 0;
  MonoNs min = 0;
  MonoNs max = 0;
  std::array<MonoNs, std::size(kReportedQuantiles)> quantiles{};  // as kReportedQuantiles
};

// The summary QueryTest shows of `histogram` (not empty).
LatencySummary SummarizeLatency(int op_idx, const LatencyHistogram& histogram);

// One op's whole latency histogram (for views that need its buckets). Shared with the run,
// not copied: the run copies it before recording into it again while a snapshot holds it.
struct OpHistogram {
  int op_idx = 0;
  std::shared_ptr<const LatencyHistogram> histogram;
};

// One time bucket: starts and finishes in [start, start + width).
struct BucketCounts {
  WallTime start;
  uint64_t started = 0;
  uint64_t finished = 0;
};

// A halted instance and the op it halted at (as given, plus "idx").
struct HaltedInstance {
  int64_t instance_id = 0;
  rapidjson::Value operation;
  WallTime halted_at;  // when it reached the halt
  MonoNs left_ns = 0;  // until the halt's timeout aborts it
};

// first_call_summary / first_fail_summary.
struct InstanceRecord {
  int64_t idx = 0;
  bool completed = false;
  WallTime start;
  WallTime finish;         // when completed
  MonoNs duration_ns = 0;  // when completed
  CheckLog check_log;
  rapidjson::Value trace_log;  // an array; null when nothing was traced
};

// Which parts a snapshot holds besides the summary (run_id, status, times, counts, tags,
// percent_complete): each costs a copy, so a view asks for what it shows.
enum SnapshotPart : unsigned {
  kSnapshotGlobals = 1u << 0,     // `g` as JSON
  kSnapshotHalted = 1u << 1,      // halted instances (lowest ids, capped)
  kSnapshotReasons = 1u << 2,     // first_fails, first_aborts
  kSnapshotBuckets = 1u << 3,     // time buckets
  kSnapshotLatency = 1u << 4,     // latency summaries per op
  kSnapshotLogs = 1u << 5,        // first_call / first_fail records
  kSnapshotHistograms = 1u << 6,  // whole latency histograms per op
  kSnapshotOps = 1u << 7,         // each op's type and label
  // What QueryTest shows.
  kSnapshotQueryTest = kSnapshotGlobals | kSnapshotHalted | kSnapshotReasons |
                       kSnapshotBuckets | kSnapshotLatency | kSnapshotLogs,
};

// One op of the run's definition, as a view names it.
struct OpSummary {
  std::string type;
  std::string label;  // empty: none
};

// Where the summary logs are: for first_call and first_fail each, whether it exists, its
// instance, whether that completed, and its check and trace log sizes. Equal versions mean
// equal logs (they only grow, and a record changes once more, when it completes).
struct LogsVersion {
  std::array<uint64_t, 10> parts{};
  bool operator==(const LogsVersion&) const = default;
};

// The run's data rows (ExecuteTest `data`), as QueryTest describes them.
struct DataSummary {
  uint64_t rows = 0;
  std::vector<std::string> columns;
  std::string mode;    // "sequential", "random" or "unique"
  std::string source;  // "rows", "csv" or "file:NAME"
};

// What a run counts of its SIP traffic (QueryTest's `sip`, docs/protocol-ops.md#sip), when
// a sip op ran.
struct SipSummary {
  uint64_t retransmissions_sent = 0;      // copies of requests and 2xx the tester resent
  uint64_t retransmissions_received = 0;  // copies from the SUT of what it had sent already
  uint64_t rejected = 0;                  // new requests answered 503: no instance waiting
  uint64_t malformed = 0;                 // datagrams that are not SIP or over 64 KiB
  uint64_t unmatched = 0;                 // responses of no transaction, stray ACKs: dropped
  uint64_t no_dialog = 0;                 // in-dialog requests of no dialog: answered 481
};

// How one repetition ended. kSkipped: on a fixed cadence (`from: "start"`) its start came
// while the one before was still running; kInterrupted: the daemon stopped while it ran.
enum class RepetitionStatus : uint8_t { kCompleted, kFailed, kCancelled, kSkipped, kInterrupted };
// "completed", "failed", "cancelled", "skipped", "interrupted".
std::string_view RepetitionStatusName(RepetitionStatus status);

// A threshold's verdict as a repetition's summary keeps it: the rule as one line, whether
// it held, and the value last checked (nullopt: none).
struct ThresholdVerdict {
  std::string text;
  bool ok = true;
  std::optional<double> value;
  bool operator==(const ThresholdVerdict&) const = default;
};

// One finished repetition. A skipped one starts and ends at its planned start, with no
// counts and no verdicts.
struct RepetitionSummary {
  uint64_t repetition = 0;  // 1-based
  RepetitionStatus status = RepetitionStatus::kCompleted;
  std::string status_reason;  // empty: none
  WallTime start;
  WallTime end;
  RunCounts counts;
  std::vector<ThresholdVerdict> thresholds;  // the verdicts at its end
};

// A repeating run's progress (ExecuteTest `repeat`): which repetition the snapshot shows,
// how many are planned (0: until cancelled), and the finished ones
// (only in a snapshot of the whole series: a repetition's own snapshot has none).
struct RepeatView {
  uint64_t repetition = 0;   // 1-based
  uint64_t repetitions = 0;  // planned; 0 = unbounded
  std::vector<RepetitionSummary> history;  // the last 100, oldest first
  uint64_t history_older = 0;              // finished before those
};

// One reporter of the run (ExecuteTest `reporters`) and how its latest report went; the
// daemon adds these (daemon/run_reporters.h), the engine knows none.
struct ReporterStatus {
  std::string type;  // "webhook"
  std::string url;
  std::vector<std::string> on;  // "repetition", "final"
  std::string state;            // "idle" (nothing to report yet), "pending", "sent", "failed"
  int attempts = 0;             // of the latest report
  std::string last_error;       // of the latest report; empty: none
  uint64_t sent = 0;            // reports delivered so far
  uint64_t failed = 0;          // reports given up after the last retry
};

struct RunSnapshot {
  std::string run_id;
  RunStatus status = RunStatus::kRunning;
  std::string status_reason;  // empty: none
  bool completed = false;     // completed, cancelled or failed
  WallTime time_now;
  WallTime time_start;
  WallTime time_finish;    // when completed
  MonoNs duration_ns = 0;  // when completed
  RunCounts counts;
  std::optional<double> percent_complete;
  // Instances the distribution will start, when that is known (a total, or a paced run's
  // duration or stages).
  std::optional<uint64_t> planned_total;
  // percent_complete counts active time, not instances (a run bounded by time only).
  bool progress_by_time = false;
  // `linear` runs: instances due by now by the schedule (started, plus those a full backlog
  // holds back); nullopt for `load` and `single`, whose instances are all due at once.
  std::optional<uint64_t> due;
  MonoNs paused_ns = 0;  // time spent paused so far
  uint32_t restarts = 0;  // RestartTest calls on the run so far
  // When the run (or its next repetition) starts, while that is still ahead.
  std::optional<WallTime> next_start_at;
  std::optional<RepeatView> repeat;  // repeating runs only
  std::vector<ReporterStatus> reporters;  // the run's reporters, when it has any
  // A run brought back from state_dir that no longer runs: its QueryTest object as saved.
  // Views show it (with this snapshot's status and time_now) instead of building one.
  std::shared_ptr<const rapidjson::Document> stored_result;
  Shard shard;           // which part of the run this is ({0, 1}: all of it)
  std::vector<std::string> tags;
  // Every threshold of the definition with its latest check (always: a few per run).
  std::vector<ThresholdResult> thresholds;
  std::optional<DataSummary> data;  // when the run has data rows
  std::optional<SipSummary> sip;    // when a sip op ran
  // Changes whenever first_call or first_fail (kSnapshotLogs) would: a view that already
  // sent the logs skips copying them again while this stays the same.
  LogsVersion logs_version;

  rapidjson::Value globals;  // kSnapshotGlobals: an object
  std::vector<HaltedInstance> halted;  // kSnapshotHalted
  std::vector<FirstReasons::Entry> first_fails;   // kSnapshotReasons
  std::vector<FirstReasons::Entry> first_aborts;  // kSnapshotReasons
  std::vector<BucketCounts> buckets;              // kSnapshotBuckets: 1 to 20
  MonoNs bucket_width_ns = 0;                     // kSnapshotBuckets: each bucket's width
  std::vector<LatencySummary> latency;            // kSnapshotLatency: ops with a sample
  std::vector<OpHistogram> histograms;            // kSnapshotHistograms: ops with a sample
  std::optional<InstanceRecord> first_call;       // kSnapshotLogs: once instance 0 started
  std::optional<InstanceRecord> first_fail;       // kSnapshotLogs: once one failed
  std::vector<OpSummary> ops;                     // kSnapshotOps: every op, by index
};

}  // namespace testrund::ops
