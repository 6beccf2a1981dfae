// SPDX-License-Identifier: Apache-2.0
// Which row of a run's data an instance reads (ExecuteTest's data mode):
//   sequential  instance k reads row k mod rows: every row in turn, again and again;
//   unique      instance k reads row k: each row once (the run has at most as many
//               instances as rows, which its caller checks);
//   random      a pseudo-random row drawn from (seed, k) alone: the same seed and instance
//               give the same row on every machine and in every run, whatever else runs,
//               so a failing instance can be replayed with its row.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace testrund::ops {

enum class DataMode { kSequential, kRandom, kUnique };

// "sequential", "random", "unique" -> the mode; nullopt for anything else.
std::optional<DataMode> DataModeFromName(std::string_view name);
std::string_view DataModeName(DataMode mode);

// The 0-based row instance `instance` reads from `rows` rows (at least 1; for kUnique more
// than `instance`: both CHECKed). kRandom draws from SplitMix64 of (seed, instance),
// reduced to [0, rows) without bias.
uint64_t RowFor(DataMode mode, uint64_t instance, uint64_t rows, uint64_t seed);

}  // namespace testrund::ops
