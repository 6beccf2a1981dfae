// SPDX-License-Identifier: Apache-2.0
// WriteDaemonMetrics (see daemon_metrics.h).
#include "daemon/daemon_metrics.h"

#include <algorithm>

#include "daemon/histogram_metric.h"

namespace testrund::daemon {
namespace {

void Gauge(Exposition& out, std::string_view name, std::string_view help, uint64_t value,
           std::string_view unit = {}) {
  out.Family(name, MetricType::kGauge, help, unit);
  out.Sample("", Labels(), value);
}

void WriteProcess(Exposition& out, const DaemonFigures& daemon) {
  const ProcessStats& p = daemon.process;
  out.Family("process_cpu_seconds", MetricType::kCounter,
             "Total user and system CPU time spent in seconds.", "seconds");
  out.Sample("_total", Labels(), p.cpu_seconds);
  if (p.resident_bytes) {
    Gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
          *p.resident_bytes, "bytes");
  }
  if (p.virtual_bytes) {
    Gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", *p.virtual_bytes,
          "bytes");
  }
  if (p.open_fds) Gauge(out, "process_open_fds", "Number of open file descriptors.", *p.open_fds);
  if (p.max_fds) {
    Gauge(out, "process_max_fds", "Maximum number of open file descriptors.", *p.max_fds);
  }
  out.Family("process_start_time_seconds", MetricType::kGauge,
             "Start time of the process since unix epoch in seconds.", "seconds");
  out.Sample("", Labels(), ops::ToSeconds(daemon.started));
}

void WriteRuns(Exposition& out, const std::vector<ops::RunSnapshot>& runs) {
  out.Family("testrund_runs", MetricType::kGauge, "Runs the daemon holds, by status.");
  for (ops::RunStatus status : ops::kRunStatuses) {
    uint64_t n = std::count_if(runs.begin(), runs.end(),
                               [&](const ops::RunSnapshot& run) { return run.status == status; });
    out.Sample("", Labels().Add("status", ops::RunStatusName(status)), n);
  }
}

void WriteCalls(Exposition& out, const rpc::CallCounts& calls) {
  out.Family("testrund_rpc_calls", MetricType::kCounter,
             "JSON-RPC request objects handled, by method and outcome code (0: success, else "
             "the JSON-RPC error code).");
  for (const auto& [method, codes] : calls.counts()) {
    for (const auto& [code, count] : codes) {
      out.Sample("_total", Labels().Add("method", method).Add("code", int64_t{code}), count);
    }
  }
}

}  // namespace

void WriteDaemonMetrics(Exposition& out, const DaemonFigures& daemon,
                        const std::vector<ops::RunSnapshot>& runs) {
  out.Family("testrund_build", MetricType::kInfo, "The daemon's version and libraries.");
  out.Sample("_info",
             Labels()
                 .Add("version", daemon.version)
                 .Add("libevent", daemon.libevent_version)
                 .Add("lua", daemon.lua_version),
             uint64_t{1});
  WriteProcess(out, daemon);
  WriteRuns(out, runs);
  Gauge(out, "testrund_instances_live", "Instances in progress in every run.",
        daemon.instances_live);
  Gauge(out, "testrund_connections_open", "Client connections open now.",
        daemon.connections_open);
  if (daemon.calls != nullptr) WriteCalls(out, *daemon.calls);
  if (daemon.loop_lag != nullptr) {
    out.Family("testrund_event_loop_lag_seconds", MetricType::kHistogram,
               "How late the event loop ran a probe timer armed every 0.1 s: the time callbacks "
               "wait for the one running.",
               "seconds");
    WriteHistogram(out, Labels(), *daemon.loop_lag);
  }
}

}  // namespace testrund::daemon
