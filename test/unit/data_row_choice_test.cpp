// SPDX-License-Identifier: Apache-2.0
// RowFor and the data modes: sequential and unique rows, and random rows that are
// reproducible (the same values on every machine: a few are written down here), in range
// for any number of rows, roughly uniform, and different for different seeds.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "ops/data/row_choice.h"

using testrund::ops::DataMode;
using testrund::ops::DataModeFromName;
using testrund::ops::DataModeName;
using testrund::ops::RowFor;

TEST_CASE("data modes by name", "[unit]") {
  for (DataMode mode : {DataMode::kSequential, DataMode::kRandom, DataMode::kUnique}) {
    CHECK(DataModeFromName(DataModeName(mode)) == mode);
  }
  CHECK(DataModeName(DataMode::kSequential) == "sequential");
  CHECK(DataModeName(DataMode::kRandom) == "random");
  CHECK(DataModeName(DataMode::kUnique) == "unique");
  CHECK(DataModeFromName("") == std::nullopt);
  CHECK(DataModeFromName("Random") == std::nullopt);
  CHECK(DataModeFromName("unique ") == std::nullopt);
}

TEST_CASE("sequential rows go round, unique rows are the instance", "[unit]") {
  for (uint64_t k = 0; k < 25; ++k) {
    CHECK(RowFor(DataMode::kSequential, k, 10, 99) == k % 10);
    CHECK(RowFor(DataMode::kUnique, k, 25, 99) == k);
  }
  CHECK(RowFor(DataMode::kSequential, UINT64_MAX, 7, 0) == UINT64_MAX % 7);
  CHECK(RowFor(DataMode::kSequential, 5, 1, 0) == 0);
}

TEST_CASE("random rows are reproducible", "[unit]") {
  for (uint64_t k = 0; k < 1000; ++k) {
    CHECK(RowFor(DataMode::kRandom, k, 1000, 42) == RowFor(DataMode::kRandom, k, 1000, 42));
  }
  // The same on every machine: SplitMix64's first output from state 0 (its published
  // value), and rows written down when RowFor was written.
  CHECK(RowFor(DataMode::kRandom, 0, UINT64_MAX, 0) == 0xE220A8397B1DCDAF);
  std::vector<uint64_t> rows;
  for (uint64_t k = 0; k < 8; ++k) rows.push_back(RowFor(DataMode::kRandom, k, 1000, 42));
  CHECK(rows == std::vector<uint64_t>{413, 723, 144, 589, 244, 14, 932, 362});
  CHECK(RowFor(DataMode::kRandom, 123456789, UINT64_MAX, 7) == 849692371251058384u);
}

TEST_CASE("random rows are in range for any number of rows", "[unit]") {
  for (uint64_t rows : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{7}, uint64_t{1000},
                        (uint64_t{1} << 63) + 1, UINT64_MAX - 1, UINT64_MAX}) {
    for (uint64_t k = 0; k < 2000; ++k) {
      REQUIRE(RowFor(DataMode::kRandom, k, rows, 5) < rows);
    }
  }
  CHECK(RowFor(DataMode::kRandom, 77, 1, 5) == 0);
}

TEST_CASE("random rows are roughly uniform", "[unit]") {
  // 10 rows x 100,000 instances: each row 10,000 times, give or take 5 standard
  // deviations (95).
  std::vector<uint64_t> counts(10);
  for (uint64_t k = 0; k < 100'000; ++k) ++counts[RowFor(DataMode::kRandom, k, 10, 2024)];
  for (uint64_t count : counts) {
    CHECK(count > 9'500);
    CHECK(count < 10'500);
  }
  // Consecutive instances do not follow each other.
  uint64_t same_as_previous = 0;
  for (uint64_t k = 1; k < 100'000; ++k) {
    same_as_previous +=
        RowFor(DataMode::kRandom, k, 10, 2024) == RowFor(DataMode::kRandom, k - 1, 10, 2024);
  }
  CHECK(same_as_previous > 9'500);
  CHECK(same_as_previous < 10'500);
}

TEST_CASE("different seeds give different rows", "[unit]") {
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{0xFFFF'FFFF'FFFF'FFFF}}) {
    uint64_t differ = 0;
    for (uint64_t k = 0; k < 1000; ++k) {
      differ +=
          RowFor(DataMode::kRandom, k, 10, seed) != RowFor(DataMode::kRandom, k, 10, seed + 2);
    }
    CHECK(differ > 850);  // 900 expected
  }
}
