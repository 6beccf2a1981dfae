// SPDX-License-Identifier: Apache-2.0
// EventClock: the libevent implementation of the engine's clock/timer seam
// (ops/base/clock.h). Now() is CLOCK_MONOTONIC, WallNow() is gettimeofday, and each Timer is
// one libevent timer event on the event_base (the daemon's, or a test's).
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string_view>

#include "ops/base/clock.h"

namespace testrund::ops {

class EventClock final : public Clock {
 public:
  // What a timer callback that threw is reported to (nothing may unwind through libevent).
  using ErrorHandler = std::function<void(std::string_view what)>;

  // `base` is borrowed; every timer made by this clock must be destroyed before it.
  explicit EventClock(event_base* base, ErrorHandler on_error = {});

  MonoNs Now() const override;
  WallTime WallNow() const override;
  // A timer on the base. Its callback runs from the loop and may re-arm or destroy the timer.
  std::unique_ptr<Timer> NewTimer(std::function<void()> on_fire) override;

  // Reports a timer callback that threw.
  void ReportError(std::string_view what) const;

 private:
  event_base* base_;
  ErrorHandler on_error_;
};

}  // namespace testrund::ops
