// SPDX-License-Identifier: Apache-2.0
// Tests of daemon/event_clock: the libevent implementation of the engine's clock seam on a
// real event_base (kept with the integration tests because it runs real timers).
#include "ops/net/event_clock.h"

#include <event2/event.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <memory>

#include "ops/base/event_handles.h"

namespace {

using testrund::ops::EventBasePtr;
using testrund::ops::EventClock;
using testrund::ops::kNsPerSecond;

constexpr testrund::ops::MonoNs kMs = kNsPerSecond / 1000;

}  // namespace

TEST_CASE("EventClock: monotonic and wall time", "[integration]") {
  EventBasePtr base(event_base_new());
  EventClock clock(base.get());
  auto a = clock.Now();
  auto b = clock.Now();
  CHECK(b >= a);
  auto wall = clock.WallNow();
  CHECK(std::abs(wall.sec - static_cast<int64_t>(std::time(nullptr))) <= 1);
  CHECK(wall.usec >= 0);
  CHECK(wall.usec < 1'000'000);
}

TEST_CASE("EventClock: a deadline in the past fires on the next loop turn, not inside ArmAt",
          "[integration]") {
  EventBasePtr base(event_base_new());
  EventClock clock(base.get());
  int fired = 0;
  auto timer = clock.NewTimer([&] { ++fired; });
  CHECK_FALSE(timer->armed());
  timer->ArmAt(clock.Now() - kNsPerSecond);
  CHECK(fired == 0);
  CHECK(timer->armed());
  event_base_loop(base.get(), EVLOOP_ONCE);
  CHECK(fired == 1);
  CHECK_FALSE(timer->armed());
}

TEST_CASE("EventClock: timers fire at their deadline, in order; re-arm replaces", "[integration]") {
  EventBasePtr base(event_base_new());
  EventClock clock(base.get());
  std::vector<int> order;
  testrund::ops::MonoNs start = clock.Now();
  testrund::ops::MonoNs fired_at = 0;
  auto late = clock.NewTimer([&] { order.push_back(2); });
  auto early = clock.NewTimer([&] {
    order.push_back(1);
    fired_at = clock.Now();
  });
  late->ArmAt(start + 10 * kMs);
  late->ArmAt(start + 80 * kMs);  // replaces the first deadline
  early->ArmAt(start + 40 * kMs);
  event_base_dispatch(base.get());  // returns when no timer is pending
  CHECK(order == std::vector<int>{1, 2});
  CHECK(fired_at - start >= 39 * kMs);
}

TEST_CASE(
    "EventClock: Cancel and destruction stop a timer; a callback may re-arm or "
    "destroy its own timer",
    "[integration]") {
  EventBasePtr base(event_base_new());
  EventClock clock(base.get());
  int cancelled_fired = 0;
  auto cancelled = clock.NewTimer([&] { ++cancelled_fired; });
  cancelled->ArmAt(clock.Now());
  cancelled->Cancel();
  CHECK_FALSE(cancelled->armed());
  {
    auto dropped = clock.NewTimer([&] { ++cancelled_fired; });
    dropped->ArmAt(clock.Now());
  }
  int rearmed = 0;
  std::unique_ptr<testrund::ops::Timer> repeating;
  repeating = clock.NewTimer([&] {
    if (++rearmed < 3) repeating->ArmAt(clock.Now() + kMs);
  });
  repeating->ArmAt(clock.Now());
  std::unique_ptr<testrund::ops::Timer> self_destroying;
  bool destroyed = false;
  self_destroying = clock.NewTimer([&] {
    self_destroying.reset();
    destroyed = true;
  });
  self_destroying->ArmAt(clock.Now());
  event_base_dispatch(base.get());
  CHECK(cancelled_fired == 0);
  CHECK(rearmed == 3);
  CHECK(destroyed);
}
