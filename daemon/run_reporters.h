// SPDX-License-Identifier: Apache-2.0
// RunReporters: the webhook reporters of every run (ExecuteTest `reporters`,
// docs/api.md#reporters). As the registry's RunExtension it checks `reporters` with the rest
// of ExecuteTest's params (each URL's host must be in `webhook_allow`) and adds each
// reporter's state to the run's snapshots (QueryTest `reporters`); as the registry's hook it
// reports events: `repetition` when a repetition of a repeating run ends (the body is that
// repetition's QueryTest object, as in `<run_id>.<n>.json`), `final` when the run ends (its
// QueryTest object, as in `<run_id>.json`). Check and trace logs are left out unless the
// reporter has include_logs. The header X-Testrund-Event names the event.
//
// A report is a WebhookDelivery (ops/report/webhook_delivery.h): a POST that never blocks
// the loop, retried 3 times (1 s, 5 s, 25 s). A reporter keeps at most kMaxPendingReports
// reports in flight: a report beyond that gives up the oldest (counted failed). A completed
// run is kept past its retention while one of its reports is pending, and its reporters'
// states until then.
//
// With state_dir (run_saver.h), what the reporters have done and the pending reports with
// their bodies are saved in the run's file (Saved, on_changed) and brought back at start-up
// (Resume): each pending report is posted again at once, its attempts counting on from the
// saved number of failures.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/saved_reports.h"
#include "ops/base/deferred_free.h"
#include "ops/base/status.h"
#include "ops/net/io_context.h"
#include "ops/report/reporter_spec.h"
#include "ops/report/webhook_allow.h"
#include "ops/report/webhook_delivery.h"
#include "ops/run_registry.h"

namespace testrund::daemon {

class RunReporters final : public ops::RunExtension {
 public:
  static constexpr size_t kMaxPendingReports = 16;

  // Registers itself as `registry`'s extension and hooks; `io` and `registry` are borrowed.
  // The registry must be destroyed first (it calls into this), io after.
  RunReporters(ops::IoContext& io, ops::WebhookAllowList allow, ops::RunRegistry& registry,
               ops::WebhookDelivery::RetryDelays retry_delays =
                   ops::WebhookDelivery::kRetryDelays);
  ~RunReporters() override;

  void CheckParams(ops::ParamReader& params) const override;
  void AddTo(ops::RunSnapshot& snapshot) const override;
  bool Holds(std::string_view run_id) const override;

  // Reports in flight over every run (tests, metrics).
  size_t pending() const;

  // What state_dir keeps of the run's reporters (empty: it has none).
  std::vector<SavedReporter> Saved(std::string_view run_id) const;
  // Before the registry brings back run `run_id` with `params` (its accepted ExecuteTest
  // params): its reporters as `saved` left them, their pending reports started again.
  // Error (nothing is brought back): `saved` does not match the params' reporters.
  Status Resume(const std::string& run_id, const rapidjson::Value& params,
                std::vector<SavedReporter> saved);
  // Called when what Saved returns for a run changed: a report began, an attempt failed, a
  // report settled.
  void set_on_changed(std::function<void(const std::string& run_id)> on_changed) {
    on_changed_ = std::move(on_changed);
  }

 private:
  struct Pending {
    uint64_t seq;
    ops::ReportEvent event;
    std::string body;  // kept for state_dir
    std::unique_ptr<ops::WebhookDelivery> delivery;
  };
  struct Reporter {
    ops::ReporterSpec spec;
    std::vector<Pending> pending;  // oldest first
    uint64_t latest_seq = 0;       // the newest report (0: none yet)
    // The newest report's outcome once it settled.
    std::string state = "idle";
    int attempts = 0;
    std::string last_error;
    uint64_t sent = 0;
    uint64_t failed = 0;
  };
  struct RunReports {
    std::vector<Reporter> reporters;
    bool discarded = false;  // the registry freed the run: forget it once nothing is pending
  };

  // The run's reporters, read from its params the first time (nullptr: it has none).
  RunReports* Find(std::string_view run_id) const;
  // The run's reporters as `params` give them, fresh (nullptr: it has none).
  RunReports* Make(std::string_view run_id, const rapidjson::Value& params) const;
  // Starts a report of `event` to each of the run's reporters that wants it; `body` builds
  // the run's QueryTest object.
  void Report(std::string_view run_id, ops::ReportEvent event,
              const std::function<rapidjson::Value(rapidjson::Document::AllocatorType&)>& body);
  // Starts a report (after `failed_attempts` failures, the latest with `last_error`, when
  // it is brought back).
  void Deliver(const std::string& run_id, size_t index, Reporter& reporter, std::string body,
               ops::ReportEvent event, int failed_attempts = 0, std::string last_error = {});
  void OnSettled(const std::string& run_id, size_t index, ops::WebhookDelivery& delivery);
  void Settle(Reporter& reporter, uint64_t seq, const ops::WebhookDelivery& delivery);
  void OnDiscarded(std::string_view run_id);
  void ForgetIfDone(const std::string& run_id);
  void Changed(const std::string& run_id) {
    if (on_changed_) on_changed_(run_id);
  }

  ops::IoContext& io_;
  ops::WebhookAllowList allow_;
  ops::RunRegistry& registry_;
  ops::WebhookDelivery::RetryDelays retry_delays_;
  // Filled on first look (AddTo is const): a cache of what the params say.
  mutable std::map<std::string, RunReports, std::less<>> runs_;
  ops::DeferredFree<ops::WebhookDelivery> settled_;
  uint64_t next_seq_ = 1;
  std::function<void(const std::string&)> on_changed_;
};

}  // namespace testrund::daemon
