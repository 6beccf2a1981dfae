// SPDX-License-Identifier: Apache-2.0
// FanOut: one request to several workers at once (docs/scale-out.md). Every call has the
// same timeout, so the whole fan-out ends within it whatever the workers do; its callback
// then gets every answer, in the order of the calls.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/coordinator/worker_call.h"

namespace testrund::daemon {

class FanOut {
 public:
  struct Call {
    WorkerAddress worker;
    std::string request;  // WorkerRequest's text
  };
  // Called once, when every call has ended; from a loop callback, or inside Start when
  // there are no calls. Must not destroy the fan-out.
  using OnDone = std::function<void(std::vector<WorkerAnswer>& answers)>;

  // Starts every call. `on_finished` (the owner's) runs after `on_done` returned: the owner
  // frees the fan-out later, never inside it.
  FanOut(ops::IoContext& io, std::vector<Call> calls, ops::MonoNs timeout, OnDone on_done,
         std::function<void(FanOut&)> on_finished);
  ~FanOut();
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  // Sends the requests. Separate from construction so that the owner holds the fan-out
  // before any callback can run.
  void Start();

 private:
  void OnAnswer(size_t index, WorkerAnswer& answer);
  void Finish();

  ops::IoContext& io_;
  std::vector<Call> calls_;
  ops::MonoNs timeout_;
  OnDone on_done_;
  std::function<void(FanOut&)> on_finished_;
  std::vector<std::unique_ptr<WorkerCall>> running_;
  std::vector<WorkerAnswer> answers_;
  size_t waiting_ = 0;
};

}  // namespace testrund::daemon
