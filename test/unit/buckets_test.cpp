// SPDX-License-Identifier: Apache-2.0
// Buckets: exact counts over long runs, the pairwise merge at the 21st bucket, snapshot
// coarsening, boundaries, merge of two tables.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "ops/stats/buckets.h"

using testrund::ops::Buckets;
using testrund::ops::MonoNs;

namespace {

constexpr MonoNs kStart = 5'000 * testrund::ops::kNsPerSecond;
constexpr MonoNs kMs = 1'000'000;
constexpr MonoNs kS = testrund::ops::kNsPerSecond;

uint64_t SumStarted(const std::vector<Buckets::Bucket>& b) {
  uint64_t n = 0;
  for (const auto& x : b) n += x.started;
  return n;
}

}  // namespace

TEST_CASE("buckets start at 100 ms and count on exact boundaries", "[unit]") {
  Buckets b(kStart);
  CHECK(b.width() == 100 * kMs);
  b.AddStarted(kStart);                  // bucket 0
  b.AddStarted(kStart + 100 * kMs - 1);  // still bucket 0
  b.AddStarted(kStart + 100 * kMs);      // bucket 1
  b.AddFinished(kStart - 5 * kS);        // before start: bucket 0
  auto snap = b.Snapshot(kStart + 150 * kMs);
  REQUIRE(snap.size() == 2);
  CHECK(snap[0].start == kStart);
  CHECK(snap[0].started == 2);
  CHECK(snap[0].finished == 1);
  CHECK(snap[1].start == kStart + 100 * kMs);
  CHECK(snap[1].started == 1);

  SECTION("an empty or instant run has one bucket") {
    Buckets e(kStart);
    CHECK(e.Snapshot(kStart).size() == 1);
    CHECK(e.Snapshot(kStart - 1).size() == 1);
    CHECK(e.Snapshot(kStart + 1).size() == 1);
    CHECK(e.Snapshot(kStart + 100 * kMs).size() == 1);
    CHECK(e.Snapshot(kStart + 100 * kMs + 1).size() == 2);
  }
}

TEST_CASE("buckets merge pairwise when a 21st bucket is needed", "[unit]") {
  Buckets b(kStart);
  for (int j = 0; j < 20; ++j) b.AddStarted(kStart + j * 100 * kMs, j + 1);
  CHECK(b.width() == 100 * kMs);
  auto before = b.Snapshot(kStart + 2 * kS);
  REQUIRE(before.size() == 20);
  CHECK(before[19].started == 20);
  b.AddStarted(kStart + 2 * kS);  // index 20 -> merge
  CHECK(b.width() == 200 * kMs);
  auto after = b.Snapshot(kStart + 2 * kS + 1);
  REQUIRE(after.size() == 11);
  for (int i = 0; i < 10; ++i) {
    CHECK(after[i].start == kStart + i * 200 * kMs);
    CHECK(after[i].started == static_cast<uint64_t>((2 * i + 1) + (2 * i + 2)));
  }
  CHECK(after[10].started == 1);
  CHECK(SumStarted(after) == b.total_started());
}

TEST_CASE("buckets: 1 event per second for an hour, exact", "[unit]") {
  Buckets b(kStart);
  for (int s = 0; s < 3600; ++s) {
    b.AddStarted(kStart + s * kS);
    b.AddFinished(kStart + s * kS + 500 * kMs);
  }
  // 3600 s needs w >= 180 s: 100 ms x 2^11 = 204.8 s, 18 buckets.
  CHECK(b.width() == 100 * kMs * 2048);
  auto snap = b.Snapshot(kStart + 3600 * kS);
  REQUIRE(snap.size() == 18);
  uint64_t started = 0;
  uint64_t finished = 0;
  for (size_t j = 0; j < snap.size(); ++j) {
    MonoNs lo = static_cast<MonoNs>(j) * b.width();
    MonoNs hi = lo + b.width();
    // events at whole seconds s with lo <= s*1e9 < hi
    uint64_t expect_started =
        static_cast<uint64_t>(std::min<MonoNs>((hi + kS - 1) / kS, 3600) - (lo + kS - 1) / kS);
    CHECK(snap[j].start == kStart + lo);
    CHECK(snap[j].started == expect_started);
    started += snap[j].started;
    finished += snap[j].finished;
  }
  CHECK(started == 3600);
  CHECK(finished == 3600);
  CHECK(snap[0].started == 205);  // seconds 0..204
}

TEST_CASE("buckets snapshot coarsens a copy when the end needs more than 20", "[unit]") {
  Buckets b(kStart);
  b.AddStarted(kStart + 50 * kMs);
  b.AddStarted(kStart + 1 * kS);
  // Data needs only 100 ms buckets, the end 3 s: 30 -> 15 buckets of 200 ms.
  auto snap = b.Snapshot(kStart + 3 * kS);
  REQUIRE(snap.size() == 15);
  CHECK(snap[0].started == 1);
  CHECK(snap[5].started == 1);
  CHECK(b.width() == 100 * kMs);  // the table itself is untouched
  // Exactly 20 widths: no coarsening.
  CHECK(b.Snapshot(kStart + 2 * kS).size() == 20);
  // A very long run: 10 hours -> 100 ms x 2^k >= 1800 s -> 2^15 (3276.8 s), 11 buckets.
  auto long_snap = b.Snapshot(kStart + 36'000 * kS);
  REQUIRE(long_snap.size() == 11);
  CHECK(long_snap[1].start - long_snap[0].start == 100 * kMs * 32768);
  CHECK(long_snap[0].started == 2);
}

TEST_CASE("buckets snapshot never hides events past the end", "[unit]") {
  Buckets b(kStart);
  b.AddStarted(kStart + 900 * kMs);
  auto snap = b.Snapshot(kStart + 100 * kMs);
  REQUIRE(snap.size() == 10);
  CHECK(SumStarted(snap) == 1);
}

TEST_CASE("buckets jump far ahead in one event", "[unit]") {
  Buckets b(kStart);
  b.AddStarted(kStart);
  b.AddStarted(kStart + 86'400 * kS);  // a day later: many doublings at once
  CHECK(b.width() == 100 * kMs * 65536);
  auto snap = b.Snapshot(kStart + 86'400 * kS + 1);
  CHECK(snap.size() == 14);
  CHECK(SumStarted(snap) == 2);
  CHECK(snap.back().started == 1);
}

TEST_CASE("buckets merge adds by time at the wider width", "[unit]") {
  Buckets a(kStart);
  Buckets b(kStart);
  a.AddStarted(kStart + 150 * kMs, 2);
  b.AddStarted(kStart + 5 * kS, 3);  // b is at 400 ms
  b.AddFinished(kStart + 10 * kMs);
  a.Merge(b);
  CHECK(a.width() == 400 * kMs);
  auto snap = a.Snapshot(kStart + 5 * kS + 1);
  REQUIRE(snap.size() == 13);
  CHECK(snap[0].started == 2);
  CHECK(snap[0].finished == 1);
  CHECK(snap[12].started == 3);
  CHECK(a.total_started() == 5);
  CHECK(a.total_finished() == 1);
}
