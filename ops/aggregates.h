// SPDX-License-Identifier: Apache-2.0
// The aggregates of a run (SPEC §3 QueryTest), each updated in O(1) at the moment something
// happens and only serialised by QueryTest: first-reason tables, the doubling time buckets,
// per-op latency histograms, and the first call's check and trace logs. All are mergeable
// (DESIGN.md "Beyond one machine").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>

#include "ops/clock.h"

namespace testrund::ops {

// first_fails / first_aborts: entries keyed by (op_idx, text) in first-occurrence order
// with a count; at most `max_distinct` distinct entries, further distinct reasons summed
// into one entry {op_idx -1, "(other reasons)"} which is always listed last.
class FirstReasons {
 public:
  struct Entry {
    int op_idx;
    std::string text;
    uint64_t count;
  };
  explicit FirstReasons(size_t max_distinct = 100);
  void Add(int op_idx, std::string_view text);
  // Entries in first-occurrence order, "(other reasons)" last when present.
  std::vector<Entry> Entries() const;
  uint64_t total() const;
  void Merge(const FirstReasons& other);
  ...
};

// Time buckets: bucket j covers [start + j*w, start + (j+1)*w), w = 100 ms x 2^k. When an
// event (or the end of the covered time) would need a 21st bucket, neighbours merge
// pairwise and w doubles. Memory is fixed; counts are exact.
class Buckets {
 public:
  struct Bucket {
    MonoNs start;  // monotonic start of the interval
    uint64_t started;
    uint64_t finished;
  };
  explicit Buckets(MonoNs start);
  void AddStarted(MonoNs t, uint64_t n = 1);
  void AddFinished(MonoNs t, uint64_t n = 1);
  // 1..20 buckets covering [start, end): as many as `end` needs at the current width
  // (coarsened further, on a copy, when `end` is beyond 20 buckets).
  std::vector<Bucket> Snapshot(MonoNs end) const;
  ...
};

// Fixed-memory log-linear latency histogram: <= 1% relative error on percentiles, exact
// min/max, percentiles clamped to [min, max], mergeable bucket-wise.
class LatencyHistogram {
 public:
  void Record(MonoNs latency);
  uint64_t count() const;
  MonoNs min() const;
  MonoNs max() const;
  // q in [0, 1]
  MonoNs Percentile(double q) const;
  void Merge(const LatencyHistogram& other);
  ...
};

// The first call's logs (SPEC §3 first_call_summary). Entries are JSON objects kept in one
// document; the trace log is capped (default 10,000 entries) and then gets one final
// {"path":"trace.warning","text":"trace_log truncated ..."} entry.
class CheckLog { ... Add(op_idx, step, status, text) ... };
class TraceLog { ... };

}  // namespace testrund::ops
