// SPDX-License-Identifier: Apache-2.0
// WriteRunMetrics (see run_metrics.h). Each family is written whole, run after run, so that
// no two families interleave.
#include "daemon/run_metrics.h"

#include <string>
#include <unordered_map>
#include <utility>

#include "daemon/histogram_metric.h"

namespace testrund::daemon {
namespace {

using ops::RunCounts;
using ops::RunSnapshot;

// A family that is one of the instance counters of every run.
struct CountFamily {
  std::string_view name;
  MetricType type;
  uint64_t RunCounts::*count;
  std::string_view help;
};

constexpr CountFamily kCountFamilies[] = {
    {"testrund_run_instances_started", MetricType::kCounter, &RunCounts::started,
     "Instances of the run started."},
    {"testrund_run_instances_finished", MetricType::kCounter, &RunCounts::finished,
     "Instances of the run finished: passed, failed, aborted or cancelled."},
    {"testrund_run_instances_passed", MetricType::kCounter, &RunCounts::passed,
     "Instances of the run that finished with no failed check."},
    {"testrund_run_instances_failed", MetricType::kCounter, &RunCounts::failed,
     "Instances of the run that finished with at least one failed check."},
    {"testrund_run_instances_aborted", MetricType::kCounter, &RunCounts::aborted,
     "Instances of the run that were aborted."},
    {"testrund_run_instances_cancelled", MetricType::kCounter, &RunCounts::cancelled,
     "Instances of the run ended by a cancel."},
    {"testrund_run_instances_late", MetricType::kCounter, &RunCounts::late,
     "Starts of the run that were due while its backlog was full."},
    {"testrund_run_instances_running", MetricType::kGauge, &RunCounts::running,
     "Instances of the run in progress now."},
    {"testrund_run_instances_halted", MetricType::kGauge, &RunCounts::halted,
     "Instances of the run stopped at a halt operation now."},
};

void WriteProgress(Exposition& out, const std::vector<RunSnapshot>& runs,
                   const std::vector<Labels>& labels) {
  out.Family("testrund_run_instances_planned", MetricType::kGauge,
             "Instances the run's distribution will start, when that is known.");
  for (size_t k = 0; k < runs.size(); ++k) {
    if (runs[k].planned_total) out.Sample("", labels[k], *runs[k].planned_total);
  }
  out.Family("testrund_run_instances_due", MetricType::kGauge,
             "Linear runs: instances due by now by the schedule; started less due is how far "
             "the run is behind.");
  for (size_t k = 0; k < runs.size(); ++k) {
    if (runs[k].due) out.Sample("", labels[k], *runs[k].due);
  }
  out.Family("testrund_run_progress_ratio", MetricType::kGauge,
             "How far the run is, 0 to 1, by instances started or by time, when that is known.");
  for (size_t k = 0; k < runs.size(); ++k) {
    if (runs[k].percent_complete) out.Sample("", labels[k], *runs[k].percent_complete / 100);
  }
  out.Family("testrund_run_start_time_seconds", MetricType::kGauge,
             "When the run started, in seconds since the Unix epoch.", "seconds");
  for (size_t k = 0; k < runs.size(); ++k) {
    out.Sample("", labels[k], ops::ToSeconds(runs[k].time_start));
  }
}

void WriteStatus(Exposition& out, const std::vector<RunSnapshot>& runs) {
  out.Family("testrund_run_status", MetricType::kGauge,
             "1 for the run's status (scheduled, running, paused, completed, cancelled, "
             "failed, interrupted), 0 for the others.");
  for (const RunSnapshot& run : runs) {
    for (ops::RunStatus status : ops::kRunStatuses) {
      Labels labels;
      labels.Add("run_id", run.run_id).Add("status", ops::RunStatusName(status));
      out.Sample("", labels, uint64_t{run.status == status ? 1u : 0u});
    }
  }
}

// One run's reasons as (labels, count), entries whose labels read the same once repaired
// (texts that were not UTF-8) added together, so that no series appears twice.
std::vector<std::pair<Labels, uint64_t>> ReasonSeries(
    const RunSnapshot& run, const std::vector<ops::FirstReasons::Entry>& entries) {
  std::vector<std::pair<Labels, uint64_t>> series;
  std::unordered_map<std::string, size_t> index;
  for (const ops::FirstReasons::Entry& entry : entries) {
    Labels labels;
    labels.Add("run_id", run.run_id).Add("op_idx", int64_t{entry.op_idx}).Add("reason", entry.text);
    auto [it, added] = index.emplace(labels.text(), series.size());
    if (added) {
      series.emplace_back(std::move(labels), entry.count);
    } else {
      series[it->second].second += entry.count;
    }
  }
  return series;
}

void WriteReasons(Exposition& out, const std::vector<RunSnapshot>& runs) {
  struct ReasonFamily {
    std::string_view name;
    std::vector<ops::FirstReasons::Entry> RunSnapshot::*entries;
    std::string_view help;
  };
  const ReasonFamily families[] = {
      {"testrund_run_first_fails", &RunSnapshot::first_fails,
       "Instances by their first failed check (op_idx, text); at most 100 reasons per run, "
       "then op_idx -1, \"(other reasons)\"."},
      {"testrund_run_first_aborts", &RunSnapshot::first_aborts,
       "Instances by the reason they were aborted (op_idx, text); at most 100 reasons per "
       "run, then op_idx -1, \"(other reasons)\"."},
  };
  for (const ReasonFamily& family : families) {
    out.Family(family.name, MetricType::kCounter, family.help);
    for (const RunSnapshot& run : runs) {
      for (const auto& [labels, count] : ReasonSeries(run, run.*family.entries)) {
        out.Sample("_total", labels, count);
      }
    }
  }
}

void WriteLatency(Exposition& out, const std::vector<RunSnapshot>& runs) {
  out.Family("testrund_op_latency_seconds", MetricType::kHistogram,
             "Latency of an operation that waits on the outside world (halt, wait, protocol "
             "ops), as QueryTest's latency: an instance's first such wait measured from its "
             "planned start when that was earlier.",
             "seconds");
  for (const RunSnapshot& run : runs) {
    for (const ops::OpHistogram& op : run.histograms) {
      Labels labels;
      labels.Add("run_id", run.run_id).Add("op_idx", int64_t{op.op_idx});
      WriteHistogram(out, labels, *op.histogram);
    }
  }
}

}  // namespace

void WriteRunMetrics(Exposition& out, const std::vector<RunSnapshot>& runs) {
  std::vector<Labels> labels(runs.size());
  for (size_t k = 0; k < runs.size(); ++k) labels[k].Add("run_id", runs[k].run_id);
  for (const CountFamily& family : kCountFamilies) {
    out.Family(family.name, family.type, family.help);
    std::string_view suffix = family.type == MetricType::kCounter ? "_total" : "";
    for (size_t k = 0; k < runs.size(); ++k) {
      out.Sample(suffix, labels[k], runs[k].counts.*family.count);
    }
  }
  WriteProgress(out, runs, labels);
  WriteStatus(out, runs);
  WriteReasons(out, runs);
  WriteLatency(out, runs);
}

}  // namespace testrund::daemon
