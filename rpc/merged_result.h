// SPDX-License-Identifier: Apache-2.0
// A coordinator's view of a sharded run (docs/scale-out.md): the workers' QueryTest results
// taken with `mergeable: 1` (docs/api.md#mergeable-results) merged into the one QueryTest
// result a single daemon would give, and their ListTests entries into one entry. The
// arithmetic is the stats layer's (ops/stats/run_merge.h); this file reads the workers' JSON
// into snapshots and writes the merged snapshot back as QueryTest JSON.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/status.h"
#include "rpc/run_result.h"

namespace testrund::rpc {

// One shard's latest answer: `result` is its QueryTest result (with mergeable: 1), or
// nullptr when the shard has none to give (its worker is lost); the merged result then
// lists it in `shards_missing`.
struct ShardAnswer {
  int index = 0;
  const rapidjson::Value* result = nullptr;
};

// The merged QueryTest result of `shards` (every shard of the run, by index). `globals` are
// the definition's globals (an object, or null for none): a key a shard changed from them wins
// over the unchanged value of the others. Error: a result that is not a mergeable QueryTest
// result (names the shard and the field). The output has the daemon's QueryTest fields (and
// its mergeable ones with kMergeable, so a merged result merges again), with
// `shards: {"count": n, "missing": [index, ...]}` added.
Result<rapidjson::Value> MergedQueryTestResult(std::span<const ShardAnswer> shards,
                                               const rapidjson::Value& globals,
                                               rapidjson::Document::AllocatorType& alloc,
                                               ResultDetail detail = ResultDetail::kStandard);

// One ListTests entry for a run from the workers' entries for it (any that have it):
// counts add, the status is the merged one (ops::MergedStatus), time_start the earliest.
rapidjson::Value MergedListTestsEntry(std::span<const rapidjson::Value* const> entries,
                                      rapidjson::Document::AllocatorType& alloc);

}  // namespace testrund::rpc
