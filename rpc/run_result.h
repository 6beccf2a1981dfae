// SPDX-License-Identifier: Apache-2.0
// The result objects of the run methods, built from a run's snapshot (ops/stats/
// run_snapshot.h): QueryTest's status object (docs/api.md#querytest, the N2SVCD format
// with its extensions), which CancelTest and the results_dir file carry too, and ListTests'
// entries. This is the only place that knows their field names and shapes.
#pragma once

#include <cstdint>

#include <rapidjson/document.h>

#include "ops/stats/run_snapshot.h"

namespace testrund::rpc {

// The QueryTest object of `snapshot` (taken with ops::kSnapshotQueryTest; its JSON values
// built with `alloc`, and moved into the result): run_id, completed (1 = done), status,
// status_reason?, time_now, time_start, time_finish? and duration? (completed only), counts
// (+ passed, late, halted, running), percent_complete?, paused_seconds, tags, globals,
// halted (<= 1,000) + halted_total, first_fails, first_aborts, buckets (the first without
// time_start), latency? (seconds), first_call_summary, first_fail_summary?; a scheduled or
// repeating run adds next_start_at, and a repeating one repetition, repetitions, history
// and history_older (docs/api.md#repeat).
// kMergeable adds what an exact merge of shards needs (docs/api.md#mergeable-results):
// `shard`, `planned_total`, `bucket_width`, each reason's `first_instance` and each op's
// latency `histogram` (the snapshot must then hold kSnapshotHistograms).
enum class ResultDetail : uint8_t { kStandard, kMergeable };
rapidjson::Value QueryTestResult(ops::RunSnapshot&& snapshot,
                                 rapidjson::Document::AllocatorType& alloc,
                                 ResultDetail detail = ResultDetail::kStandard);

// A ListTests entry: {"run_id", "status", "time_start", "counts", "tags"}, plus
// next_start_at for a scheduled or repeating run, and repetition and repetitions for a
// repeating one.
rapidjson::Value ListTestsEntry(const ops::RunSnapshot& snapshot,
                                rapidjson::Document::AllocatorType& alloc);

}  // namespace testrund::rpc
