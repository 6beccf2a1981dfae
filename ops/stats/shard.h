// SPDX-License-Identifier: Apache-2.0
// Shard: which part of a run one daemon runs (docs/scale-out.md). Instance numbers stay
// global: the shard starts exactly the instances k with k mod count == index, each at the
// time the whole run plans for it, so the shards together are the whole run, instance by
// instance. {0, 1} is the whole run.
#pragma once

#include <cstdint>

namespace testrund::ops {

constexpr uint32_t kMaxShards = 1024;

struct Shard {
  uint32_t index = 0;
  uint32_t count = 1;
  // How many of the instances 0..total-1 fall in this shard.
  uint64_t Share(uint64_t total) const {
    return total > index ? (total - index - 1) / count + 1 : 0;
  }
  bool whole() const { return count == 1; }
  bool operator==(const Shard&) const = default;
};

}  // namespace testrund::ops
