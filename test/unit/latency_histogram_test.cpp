// SPDX-License-Identifier: Apache-2.0
// LatencyHistogram: percentiles within 1% on known distributions, exact min/max, clamping
// of out-of-range values, merge, compact memory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ops/stats/latency_histogram.h"

using testrund::ops::LatencyHistogram;
using testrund::ops::MonoNs;

namespace {

// The exact value of rank ceil(q * n) in sorted `v`.
MonoNs Exact(std::vector<MonoNs> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

void CheckWithinOnePercent(const LatencyHistogram& h, const std::vector<MonoNs>& v) {
  for (double q : {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999}) {
    double exact = static_cast<double>(Exact(v, q));
    double got = static_cast<double>(h.Percentile(q));
    INFO("q=" << q << " exact=" << exact << " got=" << got);
    CHECK(std::fabs(got - exact) <= 0.01 * exact);
  }
}

}  // namespace

TEST_CASE("latency histogram: empty and single values", "[unit]") {
  LatencyHistogram h;
  CHECK(h.count() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.Percentile(0.5) == 0);
  CHECK(h.allocated_bytes() == 0);
  h.Record(1'234'567);
  CHECK(h.count() == 1);
  CHECK(h.min() == 1'234'567);
  CHECK(h.max() == 1'234'567);
  // Clamped to [min, max]: a single value is reported exactly at every quantile.
  CHECK(h.Percentile(0.5) == 1'234'567);
  CHECK(h.Percentile(0.999) == 1'234'567);
  CHECK(h.mean() == Approx(1'234'567.0));
}

TEST_CASE("latency histogram: uniform 1 us .. 1 s within 1%", "[unit]") {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<MonoNs> dist(1'000, 1'000'000'000);
  LatencyHistogram h;
  std::vector<MonoNs> v;
  for (int i = 0; i < 200'000; ++i) {
    MonoNs x = dist(rng);
    v.push_back(x);
    h.Record(x);
  }
  CHECK(h.count() == v.size());
  CHECK(h.min() == *std::min_element(v.begin(), v.end()));
  CHECK(h.max() == *std::max_element(v.begin(), v.end()));
  CheckWithinOnePercent(h, v);
  CHECK(h.Percentile(0) == h.min());
  CHECK(h.Percentile(1) == h.max());
}

TEST_CASE("latency histogram: log-normal latencies within 1%", "[unit]") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(5e6), 1.5);  // median 5 ms, long tail
  LatencyHistogram h;
  std::vector<MonoNs> v;
  for (int i = 0; i < 100'000; ++i) {
    MonoNs x = static_cast<MonoNs>(dist(rng)) + 1'000;
    v.push_back(x);
    h.Record(x);
  }
  CheckWithinOnePercent(h, v);
  // Memory stays compact: only the powers of two that were hit.
  CHECK(h.allocated_bytes() <= 38 * 64 * 8);
  CHECK(sizeof(LatencyHistogram) < 512);
}

TEST_CASE("latency histogram: every bucket midpoint is within 1/128", "[unit]") {
  for (MonoNs x : {MonoNs{0}, MonoNs{1}, MonoNs{63}, MonoNs{64}, MonoNs{65}, MonoNs{127},
                   MonoNs{128}, MonoNs{999}, MonoNs{1000}, MonoNs{1001}, MonoNs{123'456'789},
                   MonoNs{3'600'000'000'000}, LatencyHistogram::kMaxTracked}) {
    LatencyHistogram h;
    h.Record(x);
    h.Record(x + 1'000'000'000'000'000);  // so that clamping to max does not hide the error
    MonoNs p = h.Percentile(0.5);
    INFO("x=" << x << " p=" << p);
    CHECK(std::fabs(static_cast<double>(p - x)) <= static_cast<double>(x) / 128.0);
  }
}

TEST_CASE("latency histogram: out-of-range values clamp, min/max stay exact", "[unit]") {
  LatencyHistogram h;
  const MonoNs huge = MonoNs{10} * 3600 * 1'000'000'000;  // 10 hours
  h.Record(huge);
  h.Record(huge + 5);
  h.Record(-7);  // counts as 0
  CHECK(h.count() == 3);
  CHECK(h.min() == 0);
  CHECK(h.max() == huge + 5);
  CHECK(h.Percentile(0.3) == 0);
  // The top bucket's midpoint is below 10 h; only min/max are exact there.
  CHECK(h.Percentile(0.9) <= huge + 5);
  CHECK(h.Percentile(0.9) > LatencyHistogram::kMaxTracked / 2);
  CHECK(h.Percentile(1.0) == huge + 5);
}

TEST_CASE("latency histogram: merge equals recording everything in one", "[unit]") {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<MonoNs> fast(10'000, 2'000'000);
  std::uniform_int_distribution<MonoNs> slow(50'000'000, 900'000'000);
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram all;
  std::vector<MonoNs> v;
  for (int i = 0; i < 50'000; ++i) {
    MonoNs x = fast(rng);
    MonoNs y = slow(rng);
    a.Record(x);
    b.Record(y);
    all.Record(x);
    all.Record(y);
    v.push_back(x);
    v.push_back(y);
  }
  LatencyHistogram merged = a;  // copy, then merge
  merged.Merge(b);
  CHECK(merged.count() == all.count());
  CHECK(merged.min() == all.min());
  CHECK(merged.max() == all.max());
  for (double q : {0.1, 0.5, 0.9, 0.99}) CHECK(merged.Percentile(q) == all.Percentile(q));
  CheckWithinOnePercent(merged, v);
  CHECK(a.count() == 50'000);  // the copy left the source alone

  LatencyHistogram empty;
  empty.Merge(b);
  CHECK(empty.min() == b.min());
  CHECK(empty.max() == b.max());
  b.Merge(b);
  CHECK(b.count() == 100'000);
}

TEST_CASE("latency histogram: bucket edges", "[unit]") {
  for (MonoNs v : {MonoNs{0}, MonoNs{1}, MonoNs{63}, MonoNs{64}, MonoNs{65}, MonoNs{127},
                   MonoNs{128}, MonoNs{130}, MonoNs{1} << 20, (MonoNs{1} << 20) + (1 << 14),
                   MonoNs{5} << 34}) {
    INFO(v);
    CHECK(LatencyHistogram::IsBucketEdge(v));
  }
  for (MonoNs v : {MonoNs{-1}, MonoNs{129}, MonoNs{131}, (MonoNs{1} << 20) + 1,
                   (MonoNs{1} << 20) + (1 << 13), LatencyHistogram::kMaxTracked,
                   LatencyHistogram::kMaxTracked + 1}) {
    INFO(v);
    CHECK_FALSE(LatencyHistogram::IsBucketEdge(v));
  }
}

TEST_CASE("latency histogram: counts below bucket edges are exact", "[unit]") {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> latency(13.0, 2.5);  // ~0.4 ms, spread over decades
  LatencyHistogram h;
  std::vector<MonoNs> values;
  for (int k = 0; k < 20000; ++k) {
    values.push_back(static_cast<MonoNs>(latency(random)));
    h.Record(values.back());
  }
  // Values exactly on edges, and ones past the tracked range, count on the right side.
  for (MonoNs v : {MonoNs{1} << 14, (MonoNs{1} << 14) - 1, MonoNs{5} << 30, MonoNs{1} << 50}) {
    values.push_back(v);
    h.Record(v);
  }
  std::vector<MonoNs> edges = {0, 1, 63, 64};
  for (int e = 7; e <= 42; ++e) {
    for (MonoNs quarter = 4; quarter < 8; ++quarter) edges.push_back(quarter << (e - 2));
  }
  std::vector<uint64_t> below(edges.size());
  h.CountBelow(edges, below);
  for (size_t k = 0; k < edges.size(); ++k) {
    INFO("edge " << edges[k]);
    auto expected = std::count_if(values.begin(), values.end(),
                                  [&](MonoNs v) { return v < edges[k]; });
    CHECK(below[k] == static_cast<uint64_t>(expected));
  }
  std::vector<uint64_t> none(1);
  LatencyHistogram().CountBelow(std::vector<MonoNs>{1 << 20}, none);
  CHECK(none[0] == 0);
  // The sum is of the values as recorded, also past the tracked range.
  long double sum = 0;
  for (MonoNs v : values) sum += static_cast<long double>(v);
  CHECK(h.sum() == sum);
}

TEST_CASE("latency histogram: what was recorded since an earlier copy", "[unit]") {
  LatencyHistogram h;
  for (MonoNs v : {MonoNs{100}, MonoNs{5'000}, MonoNs{1'000'000}}) h.Record(v);
  LatencyHistogram earlier = h;
  CHECK(h.Since(earlier).count() == 0);
  std::vector<MonoNs> later = {2'000'000, 2'100'000, 3'000'000, 90};
  LatencyHistogram only_later;
  for (MonoNs v : later) {
    h.Record(v);
    only_later.Record(v);
  }
  LatencyHistogram since = h.Since(earlier);
  CHECK(since.count() == 4);
  CHECK(since.sum() == only_later.sum());
  // Bucket for bucket the same as recording only the later values: the same percentiles,
  // except that min and max are the edges of their buckets.
  for (double q : {0.25, 0.5, 0.75, 0.99}) {
    INFO(q);
    CHECK(since.Percentile(q) == only_later.Percentile(q));
  }
  CHECK(since.min() == 90);  // below 64 ns buckets are exact; 90 is in a 1 ns bucket
  CHECK(since.max() >= 3'000'000);
  CHECK(since.max() < 3'000'000 * 129 / 128);
  std::vector<MonoNs> edges = {64, 1 << 20, 1 << 22};
  std::vector<uint64_t> a(3), b(3);
  since.CountBelow(edges, a);
  only_later.CountBelow(edges, b);
  CHECK(a == b);
}
