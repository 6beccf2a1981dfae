// SPDX-License-Identifier: Apache-2.0
// The aggregates of a run (SPEC §3 QueryTest), each updated in O(1) at the moment something
// happens and only serialised by QueryTest, and each mergeable (DESIGN.md "Beyond one
// machine"). One concept per file; this umbrella header includes them all.
#pragma once

#include "ops/buckets.h"            // time buckets (doubling width, fixed memory)
#include "ops/check_log.h"          // the first call's check_log
#include "ops/first_reasons.h"      // first_fails / first_aborts
#include "ops/latency_histogram.h"  // per-op latency percentiles
#include "ops/trace_log.h"          // the first call's trace_log
