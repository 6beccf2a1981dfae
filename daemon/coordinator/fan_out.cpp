// SPDX-License-Identifier: Apache-2.0
// FanOut (see fan_out.h).
#include "daemon/coordinator/fan_out.h"

#include <utility>

namespace testrund::daemon {

FanOut::FanOut(ops::IoContext& io, std::vector<Call> calls, ops::MonoNs timeout, OnDone on_done,
               std::function<void(FanOut&)> on_finished)
    : io_(io),
      calls_(std::move(calls)),
      timeout_(timeout),
      on_done_(std::move(on_done)),
      on_finished_(std::move(on_finished)),
      answers_(calls_.size()),
      waiting_(calls_.size()) {}

FanOut::~FanOut() = default;

void FanOut::Start() {
  if (calls_.empty()) return Finish();
  running_.reserve(calls_.size());
  for (size_t i = 0; i < calls_.size(); ++i) {
    running_.push_back(WorkerCall::Start(io_, calls_[i].worker, std::move(calls_[i].request),
                                         timeout_, [this, i](WorkerAnswer& a) { OnAnswer(i, a); }));
  }
}

void FanOut::OnAnswer(size_t index, WorkerAnswer& answer) {
  answers_[index] = std::move(answer);
  if (--waiting_ == 0) Finish();
}

void FanOut::Finish() {
  OnDone on_done = std::move(on_done_);
  on_done(answers_);
  on_finished_(*this);
}

}  // namespace testrund::daemon
