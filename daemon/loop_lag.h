// SPDX-License-Identifier: Apache-2.0
// LoopLagProbe: how late the event loop runs a timer — the time a callback waits because
// another one is still running (docs/metrics.md#the-daemon). A timer is armed every
// `interval`; when it fires, now minus the time it was due is recorded. On an idle daemon
// the lag is tens of microseconds; a run's work turn (up to ~1 ms) or a large QueryTest
// shows up directly.
#pragma once

#include <memory>

#include "ops/base/clock.h"
#include "ops/stats/latency_histogram.h"

namespace testrund::daemon {

class LoopLagProbe {
 public:
  static constexpr ops::MonoNs kDefaultInterval = ops::kNsPerSecond / 10;

  // Starts probing on `clock` (borrowed; must outlive the probe).
  explicit LoopLagProbe(ops::Clock& clock, ops::MonoNs interval = kDefaultInterval);
  LoopLagProbe(const LoopLagProbe&) = delete;
  LoopLagProbe& operator=(const LoopLagProbe&) = delete;

  const ops::LatencyHistogram& histogram() const { return lag_; }

 private:
  void Arm();
  void OnFire();

  ops::Clock& clock_;
  ops::MonoNs interval_;
  ops::MonoNs due_ = 0;
  ops::LatencyHistogram lag_;
  std::unique_ptr<ops::Timer> timer_;
};

}  // namespace testrund::daemon
