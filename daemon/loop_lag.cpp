// SPDX-License-Identifier: Apache-2.0
// LoopLagProbe (see loop_lag.h).
#include "daemon/loop_lag.h"

namespace testrund::daemon {

LoopLagProbe::LoopLagProbe(ops::Clock& clock, ops::MonoNs interval)
    : clock_(clock), interval_(interval), timer_(clock.NewTimer([this] { OnFire(); })) {
  Arm();
}

void LoopLagProbe::Arm() {
  due_ = clock_.Now() + interval_;
  timer_->ArmAt(due_);
}

void LoopLagProbe::OnFire() {
  lag_.Record(clock_.Now() - due_);
  Arm();
}

}  // namespace testrund::daemon
