// SPDX-License-Identifier: Apache-2.0
// The clock/timer seam between the engine and the event loop. The engine never calls
// libevent or the system clock directly: it asks a Clock for the time and for Timers. The
// daemon supplies the libevent implementation (ops/net/event_clock.*); unit tests supply
// FakeClock (test/fakes/fake_clock.h), which runs hours of timers in microseconds.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>

namespace testrund::ops {

// Monotonic time in nanoseconds since an arbitrary origin.
using MonoNs = int64_t;
constexpr MonoNs kNsPerSecond = 1'000'000'000;

// Wall-clock time as results show it: [epoch seconds, microseconds].
struct WallTime {
  int64_t sec = 0;
  int64_t usec = 0;
};

// A duration in seconds, as results show durations and latencies.
inline double ToSeconds(MonoNs ns) { return static_cast<double>(ns) / kNsPerSecond; }
// Epoch seconds of a wall time.
inline double ToSeconds(WallTime t) {
  return static_cast<double>(t.sec) + static_cast<double>(t.usec) / 1e6;
}
// The wall time of `seconds` since the epoch (non-negative), to the microsecond.
inline WallTime WallFromSeconds(double seconds) {
  auto us = static_cast<int64_t>(std::llround(seconds * 1e6));
  return WallTime{us / 1'000'000, us % 1'000'000};
}

// A one-shot timer. Re-arming replaces the previous deadline. Destroying it cancels it.
// The callback runs on the event loop, never inside ArmAt/Cancel.
class Timer {
 public:
  virtual ~Timer() = default;
  // Fire at monotonic time `deadline` (at once, on the next loop turn, if it has passed).
  virtual void ArmAt(MonoNs deadline) = 0;
  virtual void Cancel() = 0;
  virtual bool armed() const = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoNs Now() const = 0;
  virtual WallTime WallNow() const = 0;
  // A new, unarmed timer that calls `on_fire` when it expires.
  virtual std::unique_ptr<Timer> NewTimer(std::function<void()> on_fire) = 0;
};

// Wall time `mono` corresponds to, given one pair of readings taken together.
inline WallTime WallAt(MonoNs mono, MonoNs ref_mono, WallTime ref_wall) {
  int64_t us = ref_wall.sec * 1'000'000 + ref_wall.usec + (mono - ref_mono) / 1000;
  return WallTime{us / 1'000'000, us % 1'000'000};
}

}  // namespace testrund::ops
