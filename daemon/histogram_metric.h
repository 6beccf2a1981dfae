// SPDX-License-Identifier: Apache-2.0
// A LatencyHistogram (ops/stats/latency_histogram.h) as a Prometheus histogram in seconds
// (docs/metrics.md#latency-histograms). Every `le` is the last nanosecond before an edge of
// the internal histogram, so each cumulative count is exact, not re-binned: the edges are
// 2^e·(1 + j/4) ns for j = 0..3 (four per octave) from 2^14 ns (16.4 µs) to 2^36 ns
// (68.7 s), then +Inf.
#pragma once

#include <span>

#include "daemon/exposition.h"
#include "ops/base/clock.h"
#include "ops/stats/latency_histogram.h"

namespace testrund::daemon {

// The internal edges the `le` values stand for (ns, ascending; +Inf not included).
std::span<const ops::MonoNs> HistogramMetricEdges();

// Writes the _bucket, _sum and _count samples of `histogram` (the family must have been
// started as a histogram with unit seconds).
void WriteHistogram(Exposition& out, const Labels& labels, const ops::LatencyHistogram& histogram);

}  // namespace testrund::daemon
