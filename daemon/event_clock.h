// SPDX-License-Identifier: Apache-2.0
// EventClock: the libevent implementation of the engine's clock/timer seam (ops/clock.h).
// Now() is CLOCK_MONOTONIC, WallNow() is gettimeofday, and each Timer is one libevent timer
// event on the daemon's event_base.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>

#include "ops/base/clock.h"

namespace testrund::daemon {

class EventClock final : public ops::Clock {
 public:
  // `base` is borrowed; every timer made by this clock must be destroyed before it.
  explicit EventClock(event_base* base);

  ops::MonoNs Now() const override;
  ops::WallTime WallNow() const override;
  // A timer on the base. Its callback runs from the loop and may re-arm or destroy the timer.
  std::unique_ptr<ops::Timer> NewTimer(std::function<void()> on_fire) override;

 private:
  event_base* base_;
};

}  // namespace testrund::daemon
