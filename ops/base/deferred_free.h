// SPDX-License-Identifier: Apache-2.0
// DeferredFree<T>: the one way an object that ends inside its own callback is freed. A
// client connection whose peer closed, an HTTP connection whose response completed, an
// instance that finished: each is handed here by its owner and destroyed after the
// callback that ended it has returned, never while it may still be on the stack. The owner
// calls Flush() where none of them can be (the end of a run's work turn); otherwise a timer
// of the clock seam (ops/base/clock.h) frees them on the next loop turn.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "ops/base/clock.h"

namespace testrund::ops {

template <typename T>
class DeferredFree {
 public:
  // `clock` is borrowed and must outlive this; so must what T's destructors use.
  explicit DeferredFree(Clock& clock)
      : clock_(clock), timer_(clock.NewTimer([this] { Flush(); })) {}
  ~DeferredFree() { Flush(); }
  DeferredFree(const DeferredFree&) = delete;
  DeferredFree& operator=(const DeferredFree&) = delete;

  // Takes `object`; it is destroyed by the next Flush() (at the latest on the next turn).
  void Add(std::unique_ptr<T> object) {
    pending_.push_back(std::move(object));
    if (!armed_) {
      armed_ = true;
      timer_->ArmAt(clock_.Now());
    }
  }

  // Destroys every object handed over so far. Destructors may hand over more: those go too.
  void Flush() {
    while (!pending_.empty()) {
      std::vector<std::unique_ptr<T>> batch;
      batch.swap(pending_);
      batch.clear();
    }
    Disarm();
  }

  // As Flush, but the objects are appended to `out` instead of destroyed: for a pool that
  // reuses their memory (it resets them itself).
  void FlushInto(std::vector<std::unique_ptr<T>>* out) {
    for (std::unique_ptr<T>& object : pending_) out->push_back(std::move(object));
    pending_.clear();
    Disarm();
  }

  // Objects waiting to be freed.
  size_t size() const { return pending_.size(); }

 private:
  // Nothing is pending any more: the timer need not fire.
  void Disarm() {
    if (armed_) {
      armed_ = false;
      timer_->Cancel();
    }
  }

  Clock& clock_;
  std::unique_ptr<Timer> timer_;
  std::vector<std::unique_ptr<T>> pending_;
  bool armed_ = false;  // the timer's state, kept here: asking the clock costs more per Add
};

}  // namespace testrund::ops
