// SPDX-License-Identifier: Apache-2.0
// Schedule: open-model offsets for constant rates and stage ramps, exact counts under the
// exclusive duration / stage end, total, high and low rates, load and single.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include <rapidjson/document.h>

#include "ops/distribution.h"
#include "ops/schedule.h"

using testrund::ops::Distribution;
using testrund::ops::DistributionType;
using testrund::ops::MonoNs;
using testrund::ops::Schedule;

namespace {

constexpr MonoNs kS = testrund::ops::kNsPerSecond;

Distribution Linear(double rate, uint64_t total, std::optional<double> duration = {}) {
  Distribution d;
  d.type = DistributionType::kLinear;
  d.rate = rate;
  d.total = total;
  d.duration = duration;
  return d;
}

Distribution Staged(std::vector<Distribution::Stage> stages, std::optional<double> rate = {},
                    uint64_t total = 0, std::optional<double> duration = {}) {
  Distribution d;
  d.type = DistributionType::kLinear;
  d.rate = rate;
  d.total = total;
  d.duration = duration;
  d.stages = std::move(stages);
  return d;
}

// Offsets are non-decreasing, and DueCount agrees exactly with PlannedOffset around each k.
void CheckConsistent(const Schedule& s, uint64_t k_begin, uint64_t k_end) {
  std::optional<MonoNs> previous;
  for (uint64_t k = k_begin; k < k_end; ++k) {
    std::optional<MonoNs> at = s.PlannedOffset(k);
    REQUIRE(at.has_value());
    if (previous) REQUIRE(*at >= *previous);
    previous = at;
    REQUIRE(s.DueCount(*at) >= k + 1);
    if (*at > 0) REQUIRE(s.DueCount(*at - 1) <= k);
  }
}

}  // namespace

TEST_CASE("schedule: constant rate offsets are k / rate", "[unit]") {
  Schedule s(Linear(10, 100));
  CHECK(s.Paced());
  CHECK(s.Finite());
  CHECK(*s.TotalPlanned() == 100);
  CHECK(*s.PlannedOffset(0) == 0);
  CHECK(*s.PlannedOffset(1) == kS / 10);
  CHECK(*s.PlannedOffset(99) == 9'900'000'000);
  CHECK_FALSE(s.PlannedOffset(100));  // total ends starting
  CHECK(s.DueCount(-1) == 0);
  CHECK(s.DueCount(0) == 1);
  CHECK(s.DueCount(kS / 10 - 1) == 1);
  CHECK(s.DueCount(kS / 10) == 2);
  CHECK(s.DueCount(1000 * kS) == 100);
  CHECK_FALSE(s.EndOffset());
  CheckConsistent(s, 0, 100);
  CHECK(*s.PercentComplete(25, 0) == 25.0);
  CHECK(*s.PlannedAt(3, 1000 * kS, 7 * kS) == 1007 * kS + 300'000'000);
}

TEST_CASE("schedule: duration is exclusive, exactly every k with k / rate < duration", "[unit]") {
  CHECK(*Schedule(Linear(3, 0, 1.0)).TotalPlanned() == 3);  // k = 3 falls exactly on 1 s
  CHECK(*Schedule(Linear(3, 0, 1.000000001)).TotalPlanned() == 4);
  CHECK(*Schedule(Linear(7, 0, 13)).TotalPlanned() == 91);
  CHECK(*Schedule(Linear(7, 0, 13.1)).TotalPlanned() == 92);
  // Decimal rates that binary floating point cannot hold exactly still count exactly.
  CHECK(*Schedule(Linear(0.3, 0, 10)).TotalPlanned() == 3);
  CHECK(*Schedule(Linear(0.1, 0, 30)).TotalPlanned() == 3);
  CHECK(*Schedule(Linear(333.3, 0, 3)).TotalPlanned() == 1000);  // 999.9 -> k = 0..999
  CHECK(*Schedule(Linear(1.1, 0, 10)).TotalPlanned() == 11);     // k = 11 at exactly 10 s
  Schedule s(Linear(0.3, 0, 10));
  CHECK(*s.PlannedOffset(1) == 3'333'333'333);
  CHECK(*s.PlannedOffset(2) == 6'666'666'666);
  CHECK_FALSE(s.PlannedOffset(3));
  CHECK(*s.EndOffset() == 10 * kS);
  CHECK(s.DueCount(100 * kS) == 3);
  // total and duration together: the smaller wins.
  CHECK(*Schedule(Linear(10, 5, 100)).TotalPlanned() == 5);
  CHECK(*Schedule(Linear(10, 500, 2)).TotalPlanned() == 20);
  // Percent complete follows the planned count.
  CHECK(*Schedule(Linear(10, 0, 2)).PercentComplete(5, 0) == 25.0);
}

TEST_CASE("schedule: a high rate (1,000,000/s) starts exactly a million in one second", "[unit]") {
  Schedule s(Linear(1'000'000, 0, 1));
  CHECK(*s.TotalPlanned() == 1'000'000);
  CHECK(*s.PlannedOffset(999'999) == 999'999'000);
  CHECK_FALSE(s.PlannedOffset(1'000'000));
  CHECK(s.DueCount(0) == 1);
  CHECK(s.DueCount(999) == 1);
  CHECK(s.DueCount(1000) == 2);
  CHECK(s.DueCount(kS - 1) == 1'000'000);
  CHECK(s.DueCount(kS) == 1'000'000);
  // Batching starts per 1 ms tick covers every instance exactly once.
  uint64_t started = 0;
  for (MonoNs t = 0; t < kS + 5'000'000; t += 1'000'000) {
    uint64_t due = s.DueCount(t);
    REQUIRE(due >= started);
    started = due;
  }
  CHECK(started == 1'000'000);
  CheckConsistent(s, 0, 2000);
  CheckConsistent(s, 998'000, 1'000'000);
}

TEST_CASE("schedule: a low rate (0.01/s) starts one every 100 s", "[unit]") {
  Schedule s(Linear(0.01, 3));
  CHECK(*s.PlannedOffset(0) == 0);
  CHECK(*s.PlannedOffset(1) == 100 * kS);
  CHECK(*s.PlannedOffset(2) == 200 * kS);
  CHECK(s.DueCount(100 * kS - 1) == 1);
  CHECK(s.DueCount(100 * kS) == 2);
  CHECK(*Schedule(Linear(0.01, 0, 150)).TotalPlanned() == 2);
  CHECK(*Schedule(Linear(0.01, 0, 200)).TotalPlanned() == 2);
  CHECK(*Schedule(Linear(0.01, 0, 200.5)).TotalPlanned() == 3);
}

TEST_CASE("schedule: total 0 without duration is unbounded", "[unit]") {
  Schedule s(Linear(10, 0));
  CHECK_FALSE(s.Finite());
  CHECK_FALSE(s.TotalPlanned());
  CHECK(*s.PlannedOffset(1'000'000'000) == 100'000'000 * kS);
  CHECK(s.DueCount(10 * kS) == 101);
  CHECK_FALSE(s.PercentComplete(10, kS));
}

TEST_CASE("schedule: stages ramp up, hold and down", "[unit]") {
  // 0 -> 10/s over 10 s (50), hold 10/s for 10 s (100), 10 -> 0 over 10 s (50).
  Schedule s(Staged({{10, 10}, {10, 10}, {10, 0}}));
  CHECK(s.Paced());
  CHECK(*s.TotalPlanned() == 200);
  CHECK(*s.EndOffset() == 30 * kS);
  // Ramp up: the integral t^2 / 2 passes k at sqrt(2k).
  CHECK(*s.PlannedOffset(0) == 0);
  CHECK(*s.PlannedOffset(2) == 2 * kS);
  CHECK(*s.PlannedOffset(8) == 4 * kS);
  CHECK(*s.PlannedOffset(32) == 8 * kS);
  CHECK(*s.PlannedOffset(1) == static_cast<MonoNs>(std::floor(std::sqrt(2.0) * 1e9)));
  // Hold: 10 s + (k - 50) / 10.
  CHECK(*s.PlannedOffset(50) == 10 * kS);
  CHECK(*s.PlannedOffset(51) == 10 * kS + kS / 10);
  CHECK(*s.PlannedOffset(149) == 19'900'000'000);
  // Ramp down: 10 tau - tau^2 / 2 = k - 150.
  CHECK(*s.PlannedOffset(150) == 20 * kS);
  CHECK(*s.PlannedOffset(182) == 24 * kS);  // 10 * 4 - 4^2 / 2 = 32
  CHECK(std::llabs(*s.PlannedOffset(199) - static_cast<MonoNs>((30.0 - std::sqrt(2.0)) * 1e9)) <=
        1);
  CHECK_FALSE(s.PlannedOffset(200));  // the end of the last stage is exclusive
  CHECK(s.DueCount(10 * kS - 1) == 50);
  CHECK(s.DueCount(10 * kS) == 51);
  CHECK(s.DueCount(40 * kS) == 200);
  CheckConsistent(s, 0, 200);
  CHECK(*s.PercentComplete(50, 0) == 25.0);
}

TEST_CASE("schedule: stage edge cases", "[unit]") {
  SECTION("a 0 -> 0 stage starts nothing; the next ramp starts at its beginning") {
    // 0->10 over 5 s (25), 10->0 over 5 s (25), 0->0 for 10 s, 0->10 over 5 s (25).
    Schedule s(Staged({{5, 10}, {5, 0}, {10, 0}, {5, 10}}));
    CHECK(*s.TotalPlanned() == 75);
    CHECK(*s.PlannedOffset(49) < 10 * kS);
    CHECK(*s.PlannedOffset(50) == 20 * kS);
    CHECK(s.DueCount(20 * kS - 1) == 50);
    CHECK(s.DueCount(20 * kS) == 51);
    CheckConsistent(s, 0, 75);
  }
  SECTION("the distribution's rate is where the first stage starts") {
    Schedule s(Staged({{10, 10}}, 10.0));
    CHECK(*s.TotalPlanned() == 100);
    CHECK(*s.PlannedOffset(99) == 9'900'000'000);
    Schedule down(Staged({{10, 0}}, 10.0));  // 10 -> 0: 50
    CHECK(*down.TotalPlanned() == 50);
    CHECK(*down.PlannedOffset(0) == 0);
  }
  SECTION("a fractional integral rounds up: k < integral") {
    CHECK(*Schedule(Staged({{1, 1}})).TotalPlanned() == 1);          // 0.5
    CHECK(*Schedule(Staged({{3, 1}})).TotalPlanned() == 2);          // 1.5
    CHECK(*Schedule(Staged({{4, 1}})).TotalPlanned() == 2);          // 2.0, exclusive
    CHECK(*Schedule(Staged({{0.3, 0}}, 10.0)).TotalPlanned() == 2);  // 1.5
  }
  SECTION("all rates 0 start nothing") {
    Schedule s(Staged({{10, 0}}));
    CHECK(*s.TotalPlanned() == 0);
    CHECK_FALSE(s.PlannedOffset(0));
    CHECK(s.DueCount(100 * kS) == 0);
    CHECK(*s.PercentComplete(0, 0) == 100.0);
  }
  SECTION("total and duration cut stages short") {
    CHECK(*Schedule(Staged({{10, 10}}, 10.0, 20)).TotalPlanned() == 20);
    Schedule d(Staged({{10, 10}}, 10.0, 0, 5.0));
    CHECK(*d.TotalPlanned() == 50);
    CHECK(*d.EndOffset() == 5 * kS);
    Schedule ramp(Staged({{10, 10}}, {}, 0, 4.0));  // t^2/2 < 8 at 4 s: k = 0..7
    CHECK(*ramp.TotalPlanned() == 8);
    CHECK_FALSE(ramp.PlannedOffset(8));
  }
  SECTION("a high-rate ramp counts exactly") {
    Schedule s(Staged({{100, 1'000'000}}));  // 0 -> 1e6/s over 100 s: 5e7
    CHECK(*s.TotalPlanned() == 50'000'000);
    CheckConsistent(s, 0, 1000);
    CheckConsistent(s, 49'999'000, 50'000'000);
    CHECK(*s.PlannedOffset(49'999'999) < 100 * kS);
    CHECK(s.DueCount(100 * kS) == 50'000'000);
  }
  SECTION("a low-rate ramp") {
    Schedule s(Staged({{1000, 0.01}}));  // 0 -> 0.01/s over 1000 s: 5
    CHECK(*s.TotalPlanned() == 5);
    // a = 1e-5 /s^2: k = 1 at sqrt(2e5) s.
    CHECK(std::llabs(*s.PlannedOffset(1) - static_cast<MonoNs>(std::sqrt(2e5) * 1e9)) <= 1);
    CheckConsistent(s, 0, 5);
  }
}

TEST_CASE("schedule: load and single have no schedule", "[unit]") {
  Distribution load;
  load.type = DistributionType::kLoad;
  load.total = 500;
  Schedule l(load);
  CHECK_FALSE(l.Paced());
  CHECK(*l.TotalPlanned() == 500);
  CHECK(*l.PlannedOffset(499) == 0);
  CHECK_FALSE(l.PlannedOffset(500));
  CHECK(l.DueCount(0) == 500);
  CHECK_FALSE(l.EndOffset());

  load.total = 0;
  load.duration = 10;
  Schedule ld(load);
  CHECK_FALSE(ld.TotalPlanned());
  CHECK(*ld.EndOffset() == 10 * kS);
  CHECK(ld.DueCount(0) == Schedule::kUnbounded);
  CHECK(*ld.PercentComplete(123, 5 * kS / 2) == 25.0);

  Distribution single;
  Schedule s(single);
  CHECK_FALSE(s.Paced());
  CHECK(*s.TotalPlanned() == 1);
  CHECK(*s.PlannedOffset(0) == 0);
  CHECK_FALSE(s.PlannedOffset(1));
  CHECK(s.DueCount(0) == 1);
}

TEST_CASE("schedule from a parsed distribution", "[unit]") {
  rapidjson::Document doc;
  doc.Parse(R"({"type":"linear","rate":"4","duration":"2.5","total":"0"})");
  testrund::ops::Problems problems;
  Distribution d = testrund::ops::ParseDistribution(&doc, problems);
  REQUIRE(problems.empty());
  Schedule s(d);
  CHECK(*s.TotalPlanned() == 10);  // k / 4 < 2.5
  CHECK(*s.PlannedOffset(9) == 2'250'000'000);
}
