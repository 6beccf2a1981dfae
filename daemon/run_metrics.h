// SPDX-License-Identifier: Apache-2.0
// The families /metrics shows about runs (docs/metrics.md#runs), written from run snapshots
// (ops/stats/run_snapshot.h): per run, labelled run_id, its instance counters and gauges,
// status, progress and first fail/abort reasons; per run and op, the latency histogram. A
// run's series exist while the daemon holds the run and are gone once it is discarded.
#pragma once

#include <vector>

#include "daemon/exposition.h"
#include "ops/stats/run_snapshot.h"

namespace testrund::daemon {

// What each snapshot must hold: the summary, reasons and whole histograms.
inline constexpr unsigned kRunMetricsParts = ops::kSnapshotReasons | ops::kSnapshotHistograms;

void WriteRunMetrics(Exposition& out, const std::vector<ops::RunSnapshot>& runs);

}  // namespace testrund::daemon
