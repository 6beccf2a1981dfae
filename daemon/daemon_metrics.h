// SPDX-License-Identifier: Apache-2.0
// The families /metrics shows about the daemon itself (docs/metrics.md#the-daemon): build
// info, the standard process_* figures, runs by status, live instances, open connections,
// JSON-RPC calls by method and outcome, and the event loop's lag.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "daemon/exposition.h"
#include "daemon/process_stats.h"
#include "ops/base/clock.h"
#include "ops/stats/latency_histogram.h"
#include "ops/stats/run_snapshot.h"
#include "rpc/call_counts.h"

namespace testrund::daemon {

struct DaemonFigures {
  std::string_view version;
  std::string_view libevent_version;
  std::string_view lua_version;
  ops::WallTime started;  // when the daemon started (process_start_time_seconds)
  ProcessStats process;
  size_t connections_open = 0;
  uint64_t instances_live = 0;
  const rpc::CallCounts* calls = nullptr;
  const ops::LatencyHistogram* loop_lag = nullptr;
};

// `runs` only for the count of runs by status.
void WriteDaemonMetrics(Exposition& out, const DaemonFigures& daemon,
                        const std::vector<ops::RunSnapshot>& runs);

}  // namespace testrund::daemon
