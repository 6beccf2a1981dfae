// SPDX-License-Identifier: Apache-2.0
// RowFor and the data modes' names (see row_choice.h). The random row is SplitMix64
// (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014) started
// at seed ^ (instance * an odd constant), so that the instances of one seed start from
// distinct states; a draw in the last, incomplete stretch of 2^64 mod rows values is
// rejected and the next one taken, so that every row is equally likely.
#include "ops/data/row_choice.h"

#include "ops/base/check.h"

namespace testrund::ops {
namespace {

struct ModeName {
  DataMode mode;
  std::string_view name;
};

constexpr ModeName kModeNames[] = {
    {DataMode::kSequential, "sequential"},
    {DataMode::kRandom, "random"},
    {DataMode::kUnique, "unique"},
};

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15;     // SplitMix64's increment
constexpr uint64_t kInstanceSpread = 0xD1B54A32D192ED03;  // odd: instance -> state is 1:1

// SplitMix64: advances `state` and returns its next output.
uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += kGoldenGamma);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

uint64_t RandomRow(uint64_t instance, uint64_t rows, uint64_t seed) {
  uint64_t state = seed ^ (instance * kInstanceSpread);
  // 2^64 mod rows: the draws below it are the incomplete stretch.
  const uint64_t reject_below = (0 - rows) % rows;
  uint64_t draw = SplitMix64(&state);
  while (draw < reject_below) draw = SplitMix64(&state);
  return draw % rows;
}

}  // namespace

std::optional<DataMode> DataModeFromName(std::string_view name) {
  for (const ModeName& m : kModeNames) {
    if (m.name == name) return m.mode;
  }
  return std::nullopt;
}

std::string_view DataModeName(DataMode mode) {
  for (const ModeName& m : kModeNames) {
    if (m.mode == mode) return m.name;
  }
  return "?";
}

uint64_t RowFor(DataMode mode, uint64_t instance, uint64_t rows, uint64_t seed) {
  CHECK(rows > 0);
  switch (mode) {
    case DataMode::kSequential:
      return instance % rows;
    case DataMode::kUnique:
      CHECK(instance < rows);
      return instance;
    case DataMode::kRandom:
      return RandomRow(instance, rows, seed);
  }
  return 0;
}

}  // namespace testrund::ops
