// SPDX-License-Identifier: Apache-2.0
// FakeClock: a Clock for unit tests. Time stands still until the test calls Advance(),
// which fires every timer that falls due, in deadline order (ties in arming order), moving
// Now() to each deadline as it fires.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "ops/base/clock.h"

namespace testrund::ops {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(MonoNs start = 1'000 * kNsPerSecond,
                     WallTime wall_start = WallTime{1'700'000'000, 0})
      : now_(start), start_(start), wall_start_(wall_start) {}

  MonoNs Now() const override { return now_; }
  WallTime WallNow() const override { return WallAt(now_, start_, wall_start_); }
  std::unique_ptr<Timer> NewTimer(std::function<void()> on_fire) override {
    return std::make_unique<FakeTimer>(this, std::move(on_fire));
  }

  // Moves time forward by `ns`, firing due timers (including ones armed by callbacks).
  void Advance(MonoNs ns) { AdvanceTo(now_ + ns); }
  void AdvanceSeconds(double s) { Advance(static_cast<MonoNs>(s * kNsPerSecond)); }
  void AdvanceTo(MonoNs target) {
    while (!queue_.empty() && queue_.begin()->first.first <= target) FireNext();
    if (target > now_) now_ = target;
  }
  // Fires timers already due (deadline <= now), as a loop turn would.
  void RunDue() { AdvanceTo(now_); }
  // Fires the earliest timer only, moving Now() to its deadline; false when none is armed.
  // Lets a caller bound the work (a fuzzer: an endless run must not run forever).
  bool FireNext() {
    if (queue_.empty()) return false;
    auto it = queue_.begin();
    FakeTimer* timer = it->second;
    if (it->first.first > now_) now_ = it->first.first;
    queue_.erase(it);
    timer->queued_ = false;
    timer->on_fire_();
    return true;
  }
  size_t pending_timers() const { return queue_.size(); }

 private:
  class FakeTimer final : public Timer {
   public:
    FakeTimer(FakeClock* clock, std::function<void()> on_fire)
        : clock_(clock), on_fire_(std::move(on_fire)) {}
    ~FakeTimer() override { Cancel(); }
    void ArmAt(MonoNs deadline) override {
      Cancel();
      key_ = {deadline, clock_->next_seq_++};
      clock_->queue_.emplace(key_, this);
      queued_ = true;
    }
    void Cancel() override {
      if (queued_) clock_->queue_.erase(key_);
      queued_ = false;
    }
    bool armed() const override { return queued_; }

   private:
    friend class FakeClock;
    FakeClock* clock_;
    std::function<void()> on_fire_;
    std::pair<MonoNs, uint64_t> key_{};
    bool queued_ = false;
  };

  MonoNs now_;
  MonoNs start_;
  WallTime wall_start_;
  uint64_t next_seq_ = 0;
  std::map<std::pair<MonoNs, uint64_t>, FakeTimer*> queue_;
};

}  // namespace testrund::ops
