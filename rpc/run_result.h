// SPDX-License-Identifier: Apache-2.0
// The QueryTest result object of a run (SPEC §3, reference/querytest-api.txt), built field
// by field so the rpc layer stays thin: CancelTest adds `cancelled`, ListTests uses
// WriteRunSummary.
#pragma once

#include <rapidjson/document.h>

#include "ops/run.h"

namespace testrund::ops {

// Builds the QueryTest object for `run` into `out` (an object allocated with `alloc`):
// run_id, completed (1 = done), status, status_reason?, time_now, time_start, time_finish?
// and duration? (completed only), counts (+ passed, late, halted, running), percent_complete?,
// paused_seconds (time spent paused), tags, globals, halted (<= 1,000) + halted_total, first_fails, first_aborts, buckets (the
// first without time_start), latency? (seconds), first_call_summary, first_fail_summary?.
void WriteRunStatus(const Run& run, rapidjson::Value& out,
                    rapidjson::Document::AllocatorType& alloc);

// ListTests entry: {"run_id", "status", "time_start", "counts", "tags"}.
void WriteRunSummary(const Run& run, rapidjson::Value& out,
                     rapidjson::Document::AllocatorType& alloc);

// Caps of the `halted` list: entries (SPEC §3), and bytes of echoed operations, so that a
// halt op with a large attribute cannot make each QueryTest gigabytes long.
constexpr size_t kMaxHaltedListed = 1000;
constexpr size_t kMaxHaltedListedBytes = 16u << 20;

}  // namespace testrund::ops
