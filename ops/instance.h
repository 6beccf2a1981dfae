// SPDX-License-Identifier: Apache-2.0
// Instance: one pass of a run through its Program (docs/operations.md#how-an-instance-runs). A
// small struct — id, program counter, step counters, state, outcome flags, planned and actual
// start, its Lua `v`/`i` references, its math.random state and parking data — plus, only for the
// first call and for candidates of first_fail_summary, its check/trace logs. A finished instance
// leaves nothing behind but its contribution to the run's aggregates.
//
// Memory: sizeof(Instance) is 96 bytes; with its map node and a small `v` table a halted
// instance stays well under 512 bytes (docs/architecture.md#memory).
#pragma once

#include <cstdint>
#include <memory>

#include "ops/base/clock.h"
#include "ops/stats/summary_logs.h"

namespace testrund::ops {

enum class InstanceState : uint8_t {
  kRunnable,  // in the run's runnable queue: executes on the next work turn
  kWaiting,   // parked on a `wait` timer
  kHalted,    // parked on a `halt`: listed in `halted`, resumable, aborts when its timer expires
  kIo,        // parked on a protocol op's socket or its timeout (OpContext::ParkIo)
  kFinished,  // ended (pass, fail, abort or cancel); about to be freed
};

// What an instance's protocol ops hold between and during ops: sockets, timers, the call in
// flight (ops/protocol/op_protocol.h derives it). It lives and dies with the instance, so
// cancelling or aborting an instance releases every descriptor and timer it held.
struct InstanceIo {
  virtual ~InstanceIo() = default;
};

struct RunSnapshot;  // ops/stats/run_snapshot.h

// What protocol ops share across a run's instances (the sip ops' one socket per run,
// ops/protocol/sip_endpoint.h): created by the first op that needs it, destroyed with the
// run after its instances, so an instance's part of it may refer to it until it ends.
struct RunIo {
  virtual ~RunIo() = default;
  // Adds what it counts to the run's snapshot (SipSummary).
  virtual void AddTo(RunSnapshot& out) const = 0;
};

struct Instance {
  int64_t id = 0;
  MonoNs planned_start = 0;
  MonoNs actual_start = 0;
  MonoNs park_start = 0;       // when it parked (latency of halt/wait ops)
  MonoNs park_duration = 0;    // the timer duration it parked with
  uint64_t rng = 0;            // math.random state (LuaSandbox::SeedInstanceRng)
  uint64_t step = 0;           // ops executed so far (docs/operations.md#how-an-instance-runs)
  uint64_t steps_since_wait = 0;
  int32_t pc = 0;              // index of the next op to execute
  int v_ref = -2;              // registry reference of `v` (LUA_NOREF = -2)
  int i_ref = -2;              // registry reference of `i`, LUA_NOREF until a protocol op
  InstanceState state = InstanceState::kRunnable;
  bool had_fail = false;       // at least one failed check
  bool aborted = false;
  bool waited = false;         // has parked at least once (latency from planned start)
  std::unique_ptr<InstanceLogs> logs;  // a first_fail_summary candidate's (SummaryLogs)
  std::unique_ptr<InstanceIo> io;      // only once a protocol op ran
};

}  // namespace testrund::ops

static_assert(sizeof(testrund::ops::Instance) <= 128,
              "keep Instance small (docs/architecture.md#memory)");
