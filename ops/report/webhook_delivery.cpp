// SPDX-License-Identifier: Apache-2.0
// WebhookDelivery: the attempts of one webhook POST, their timeouts and the waits between
// them (see webhook_delivery.h).
#include "ops/report/webhook_delivery.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "ops/base/check.h"
#include "ops/base/json_numbers.h"

namespace testrund::ops {
namespace {

std::shared_ptr<const PreparedHttpRequest> PostRequest(const ReporterSpec& spec, std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.url = spec.url;
  request.headers = spec.headers;
  if (!HasHeader(request.headers, "content-type")) {
    request.headers.emplace_back("Content-Type", "application/json");
  }
  request.body = std::move(body);
  request.tls = spec.tls;
  return PrepareHttpRequest(std::move(request));
}

}  // namespace

const char* DeliveryStateName(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kSent:
      return "sent";
    case DeliveryState::kFailed:
      return "failed";
  }
  return "pending";
}

WebhookDelivery::WebhookDelivery(IoContext& io, const ReporterSpec& spec, std::string body,
                                 OnSettled on_settled, RetryDelays retry_delays)
    : io_(io),
      request_(PostRequest(spec, std::move(body))),
      timeout_(std::max<MonoNs>(1, std::llround(spec.timeout * kNsPerSecond))),
      timeout_text_(fmt::format("timeout after {} s", NumberText(spec.timeout))),
      on_settled_(std::move(on_settled)),
      retry_delays_(retry_delays),
      timer_(io.clock().NewTimer([this] { OnTimer(); })) {}

WebhookDelivery::~WebhookDelivery() = default;

void WebhookDelivery::Start() {
  CHECK(attempts_ == 0);
  StartAttempt();
}

void WebhookDelivery::Resume(int failed_attempts, std::string last_error) {
  CHECK(attempts_ == 0 && failed_attempts >= 0 && failed_attempts < kMaxAttempts);
  attempts_ = failed_attempts;
  last_error_ = std::move(last_error);
  StartAttempt();
}

int WebhookDelivery::failed_attempts() const {
  bool in_progress = state_ == DeliveryState::kPending && call_ != nullptr && !call_->done();
  return in_progress ? attempts_ - 1 : attempts_;
}

void WebhookDelivery::StartAttempt() {
  ++attempts_;
  // The previous attempt's call, if any, answered or timed out: freeing it here is outside
  // its callbacks.
  call_ = HttpCall::Start(io_, request_, /*keep_raw=*/false,
                          [this](HttpOutcome& outcome) { OnResponse(outcome); });
  timer_->ArmAt(io_.clock().Now() + timeout_);
}

void WebhookDelivery::OnResponse(const HttpOutcome& outcome) {
  timer_->Cancel();
  if (!outcome.error.empty()) {
    Failed(outcome.error);
  } else if (outcome.status < 200 || outcome.status > 299) {
    Failed(fmt::format("HTTP status {}", outcome.status));
  } else {
    Settle(DeliveryState::kSent);
  }
}

void WebhookDelivery::OnTimer() {
  if (call_ != nullptr && !call_->done()) {
    // The attempt's time is up: destroying the call closes its connection (and it never
    // answers after that).
    call_.reset();
    Failed(timeout_text_);
    return;
  }
  StartAttempt();
}

void WebhookDelivery::Failed(std::string error) {
  last_error_ = std::move(error);
  if (attempts_ >= kMaxAttempts) {
    Settle(DeliveryState::kFailed);
    return;
  }
  timer_->ArmAt(io_.clock().Now() + retry_delays_[attempts_ - 1]);
  if (on_retry_) on_retry_(*this);
}

void WebhookDelivery::Settle(DeliveryState state) {
  state_ = state;
  OnSettled on_settled = std::move(on_settled_);
  if (on_settled) on_settled(*this);
}

}  // namespace testrund::ops
