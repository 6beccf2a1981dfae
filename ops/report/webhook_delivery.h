// SPDX-License-Identifier: Apache-2.0
// WebhookDelivery: one event's POST to one webhook reporter (ops/report/reporter_spec.h),
// retried until it succeeds or has failed kMaxAttempts times, without ever blocking the
// event loop: each attempt is an HttpCall on the IoContext's pool (ops/net/http_client.h)
// with a timer of the IoContext's clock as its timeout, and the waits between attempts are
// timers too.
//
// An attempt succeeds on a complete 2xx response. It fails on a connection or TLS error or
// an invalid response (HttpOutcome's text, e.g. "connection refused"), on its timeout
// ("timeout after 5 s") or on any other status ("HTTP status 503"); the next attempt starts
// kRetryDelays[k] after failure k+1 (1 s, 5 s, 25 s), so the last of the 4 attempts starts
// about 31 s plus the failed attempts' durations after the first.
//
// States: pending (attempts in progress or waiting) → sent, or → failed after the 4th
// failed attempt. QueryTest shows them by StateName(), with attempts() and last_error().
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "ops/base/clock.h"
#include "ops/net/http_client.h"
#include "ops/net/io_context.h"
#include "ops/report/reporter_spec.h"

namespace testrund::ops {

enum class DeliveryState { kPending, kSent, kFailed };

// "pending", "sent" or "failed".
const char* DeliveryStateName(DeliveryState state);

class WebhookDelivery {
 public:
  // Runs once, when the delivery is sent or has failed for good. It may not destroy the
  // delivery (it runs inside the delivery's own callbacks): hand it to a DeferredFree
  // (ops/base/deferred_free.h).
  using OnSettled = std::function<void(WebhookDelivery& delivery)>;

  // The waits before the 2nd, 3rd and 4th attempts.
  using RetryDelays = std::array<MonoNs, 3>;
  static constexpr RetryDelays kRetryDelays = {1 * kNsPerSecond, 5 * kNsPerSecond,
                                               25 * kNsPerSecond};
  static constexpr int kMaxAttempts = static_cast<int>(kRetryDelays.size()) + 1;

  // A delivery of `body` (JSON text) to `spec`'s URL: POST with Content-Type:
  // application/json (unless the spec's headers set one) and the spec's headers. `io` is
  // borrowed and must outlive the delivery. `retry_delays`: tests shorten them. Nothing is
  // sent before Start.
  WebhookDelivery(IoContext& io, const ReporterSpec& spec, std::string body, OnSettled on_settled,
                  RetryDelays retry_delays = kRetryDelays);
  // Destroying a pending delivery cancels it: its timer stops and a request in progress is
  // closed; on_settled is not called.
  ~WebhookDelivery();
  WebhookDelivery(const WebhookDelivery&) = delete;
  WebhookDelivery& operator=(const WebhookDelivery&) = delete;

  // Starts the first attempt (once). Every outcome, on_settled included, comes from the
  // event loop, never inside Start.
  void Start();
  // Instead of Start, for a report brought back after the daemon restarted
  // (daemon/saved_reports.h): `failed_attempts` (0 to kMaxAttempts - 1) had failed, the
  // latest with `last_error`; the next attempt starts now, the waits before the later ones as
  // usual.
  void Resume(int failed_attempts, std::string last_error);

  // Runs after each failed attempt that will be retried (state_dir saves the count).
  void set_on_retry(std::function<void(WebhookDelivery& delivery)> on_retry) {
    on_retry_ = std::move(on_retry);
  }

  DeliveryState state() const { return state_; }
  const char* StateName() const { return DeliveryStateName(state_); }
  // Attempts started so far (0 before Start, at most kMaxAttempts).
  int attempts() const { return attempts_; }
  // Attempts that failed: attempts() less the one in progress, if any.
  int failed_attempts() const;
  // Why the latest failed attempt failed; empty while none has. A delivery sent after
  // failures keeps the last one's text.
  const std::string& last_error() const { return last_error_; }

 private:
  void StartAttempt();
  // From the call of the attempt in progress (inside its callback: the call is kept until
  // the next attempt or the delivery's end).
  void OnResponse(const HttpOutcome& outcome);
  // The timer: the attempt in progress timed out, or the wait before the next one ended.
  void OnTimer();
  void Failed(std::string error);
  void Settle(DeliveryState state);

  IoContext& io_;
  std::shared_ptr<const PreparedHttpRequest> request_;
  MonoNs timeout_;
  std::string timeout_text_;  // "timeout after 5 s"
  OnSettled on_settled_;
  std::function<void(WebhookDelivery&)> on_retry_;
  RetryDelays retry_delays_;
  std::unique_ptr<Timer> timer_;
  std::unique_ptr<HttpCall> call_;  // the latest attempt's (done once it answered)
  DeliveryState state_ = DeliveryState::kPending;
  int attempts_ = 0;
  std::string last_error_;
};

}  // namespace testrund::ops
