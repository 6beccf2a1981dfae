// SPDX-License-Identifier: Apache-2.0
// CoordinatedRun: what a coordinator keeps of one run it sharded (docs/scale-out.md): which
// worker runs which shard (fixed at the start), the definition's globals (the merge needs
// them), each shard's final result once its worker returned it completed (the worker then
// discards the run), and retention. ShardParams builds a worker's ExecuteTest params.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/coordinator/worker_call.h"
#include "ops/base/clock.h"
#include "ops/run_definition.h"

namespace testrund::daemon {

struct CoordinatedRun {
  std::string run_id;
  std::vector<WorkerAddress> shards;  // shard i runs on shards[i]
  rapidjson::Document globals;        // the definition's `globals`; null when none
  // Shard i's completed QueryTest result (mergeable), once its worker returned it.
  std::vector<std::unique_ptr<rapidjson::Document>> finals;
  bool starting = true;                    // ExecuteTest has not been answered yet
  std::optional<ops::MonoNs> returned_at;  // when QueryTest returned it completed
  bool doomed = false;                     // cancelled: discarded at the next sweep

  bool complete() const {
    for (const auto& f : finals) {
      if (!f) return false;
    }
    return true;
  }
};

// share_i of `x` over `n` shards: floor(x/n), plus 1 for the first x mod n shards, so that the
// shares sum to x.
uint64_t Share(uint64_t x, uint32_t index, uint32_t count);

// Worker `index`'s ExecuteTest params (of `count`): the client's `params` plus run_id, shard,
// start_at, seed, and its share of distribution.backlog (at least 1) and of max_failures,
// all from the validated `def`. Built in `alloc`.
rapidjson::Value ShardParams(const rapidjson::Value& params, const ops::RunDefinition& def,
                             uint32_t index, uint32_t count, double start_at,
                             rapidjson::Document::AllocatorType& alloc);

}  // namespace testrund::daemon
