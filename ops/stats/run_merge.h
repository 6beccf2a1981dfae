// SPDX-License-Identifier: Apache-2.0
// MergeShards: the snapshot of a whole run from the snapshots of its shards (ops/stats/
// shard.h; docs/scale-out.md#the-exact-merge). Everything a run counts merges exactly:
// counts add; buckets add by time (the bucket that starts at t goes where t falls in the
// merged layout, so shards with one common start merge bucket for bucket); reasons add by
// (op_idx, text), each keeping its lowest first instance; histograms add bucket-wise, so the
// merged percentiles, min and max are those of one histogram holding every shard's values.
// For a deterministic program the result equals the single daemon's run of the same
// definition in everything that does not depend on wall-clock timing.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <rapidjson/document.h>

#include "ops/stats/run_snapshot.h"

namespace testrund::ops {

// The status of a run from its shards' statuses: when all completed, failed if one failed,
// else cancelled if one was cancelled, else completed; otherwise running while any shard
// runs (or some completed while others wait to start), paused when every unfinished shard
// is paused, scheduled when every unfinished shard is.
RunStatus MergedStatus(std::span<const RunStatus> statuses);

struct MergeOptions {
  // The definition's globals (an object; null: none). A top-level key whose value a shard
  // changed from these wins over the unchanged value of the others; when several changed it,
  // the lowest shard's value wins.
  const rapidjson::Value* globals = nullptr;
  size_t max_halted = 1000;  // the halted list keeps the lowest ids
};

// Merges `shards` (at least one; each taken with the QueryTest parts and
// kSnapshotHistograms). Their JSON values are moved into the result (built with `alloc`).
// The shard left is {0, 1}; first_call is the record of instance 0 and first_fail the one of
// the lowest instance; tags, ops, data and thresholds are the first shard's.
RunSnapshot MergeShards(std::vector<RunSnapshot>&& shards, const MergeOptions& options,
                        rapidjson::Document::AllocatorType& alloc);

}  // namespace testrund::ops
