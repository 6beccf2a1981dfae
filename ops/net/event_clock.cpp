// SPDX-License-Identifier: Apache-2.0
// EventClock and its timer (see event_clock.h). A timer converts its monotonic deadline to
// a relative timeout when armed; libevent keeps its own monotonic clock, so both agree.
#include "ops/net/event_clock.h"

#include <sys/time.h>
#include <time.h>

#include <utility>

#include "ops/base/check.h"
#include "ops/base/event_handles.h"

namespace testrund::ops {
namespace {

class EventTimer final : public Timer {
 public:
  EventTimer(event_base* base, const EventClock& clock, std::function<void()> on_fire)
      : clock_(clock), on_fire_(std::move(on_fire)) {
    event_.reset(evtimer_new(base, &EventTimer::OnTimeout, this));
    CHECK(event_ != nullptr);
  }

  ~EventTimer() override {
    if (alive_ != nullptr) *alive_ = false;
  }

  void ArmAt(MonoNs deadline) override {
    MonoNs delay = deadline - clock_.Now();
    if (delay < 0) delay = 0;
    struct timeval tv;
    tv.tv_sec = static_cast<time_t>(delay / kNsPerSecond);
    tv.tv_usec = static_cast<suseconds_t>((delay % kNsPerSecond) / 1000);
    // A zero timeout still runs on the next loop turn, never inside this call.
    evtimer_add(event_.get(), &tv);
  }

  void Cancel() override { evtimer_del(event_.get()); }

  bool armed() const override { return evtimer_pending(event_.get(), nullptr) != 0; }

 private:
  static void OnTimeout(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<EventTimer*>(arg);
    // The callback may destroy this timer: it runs from a local copy of the function, which
    // is handed back only if the timer still exists.
    bool alive = true;
    self->alive_ = &alive;
    std::function<void()> on_fire = std::move(self->on_fire_);
    try {
      on_fire();
    } catch (const std::exception& e) {
      // Nothing may unwind through libevent.
      self->clock_.ReportError(e.what());
    } catch (...) {
      self->clock_.ReportError("unknown exception");
    }
    if (alive) {
      self->alive_ = nullptr;
      self->on_fire_ = std::move(on_fire);
    }
  }

  const EventClock& clock_;
  std::function<void()> on_fire_;
  bool* alive_ = nullptr;  // set while the callback runs
  EventPtr event_;
};

}  // namespace

EventClock::EventClock(event_base* base, ErrorHandler on_error)
    : base_(base), on_error_(std::move(on_error)) {}

void EventClock::ReportError(std::string_view what) const {
  if (on_error_) on_error_(what);
}

MonoNs EventClock::Now() const {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<MonoNs>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

WallTime EventClock::WallNow() const {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return WallTime{tv.tv_sec, tv.tv_usec};
}

std::unique_ptr<Timer> EventClock::NewTimer(std::function<void()> on_fire) {
  return std::make_unique<EventTimer>(base_, *this, std::move(on_fire));
}

}  // namespace testrund::ops
