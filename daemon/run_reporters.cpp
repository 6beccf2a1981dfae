// SPDX-License-Identifier: Apache-2.0
// The webhook reporters of every run (see run_reporters.h).
#include "daemon/run_reporters.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "ops/base/json_writer.h"
#include "rpc/run_result.h"

namespace testrund::daemon {
namespace {

using Allocator = rapidjson::Document::AllocatorType;

// Removes the check and trace logs of the first_call and first_fail summaries.
void DropLogs(rapidjson::Value& result) {
  for (const char* summary : {"first_call_summary", "first_fail_summary"}) {
    auto it = result.FindMember(summary);
    if (it == result.MemberEnd() || !it->value.IsObject()) continue;
    it->value.RemoveMember("check_log");
    it->value.RemoveMember("trace_log");
  }
}

std::string UrlText(const ops::Url& url) {
  return fmt::format("{}://{}{}", url.scheme, url.HostHeader(), url.target);
}

std::string_view EventName(ops::ReportEvent event) {
  return event == ops::ReportEvent::kFinal ? "final" : "repetition";
}

}  // namespace

RunReporters::RunReporters(ops::IoContext& io, ops::WebhookAllowList allow,
                           ops::RunRegistry& registry,
                           ops::WebhookDelivery::RetryDelays retry_delays)
    : io_(io),
      allow_(std::move(allow)),
      registry_(registry),
      retry_delays_(retry_delays),
      settled_(io.clock()) {
  registry.set_extension(this);
  registry.add_on_repetition([this](const ops::Run& run) {
    Report(run.run_id(), ops::ReportEvent::kRepetition,
           [&run](Allocator& alloc) {
             return rpc::QueryTestResult(run.Snapshot(ops::kSnapshotQueryTest, alloc), alloc);
           });
  });
  registry.add_on_completed([this](const ops::RunSeries& series) {
    Report(series.run_id(), ops::ReportEvent::kFinal, [&series](Allocator& alloc) {
      return rpc::QueryTestResult(series.Snapshot(ops::kSnapshotQueryTest, alloc), alloc);
    });
  });
  registry.add_on_discarded(
      [this](const ops::RunSeries& series) { OnDiscarded(series.run_id()); });
}

RunReporters::~RunReporters() = default;

void RunReporters::CheckParams(ops::ParamReader& params) const {
  (void)ops::ReadReporters(params, allow_);
}

RunReporters::RunReports* RunReporters::Find(std::string_view run_id) const {
  auto it = runs_.find(run_id);
  if (it != runs_.end()) return &it->second;
  const rapidjson::Value* params = registry_.Params(run_id);
  return params == nullptr ? nullptr : Make(run_id, *params);
}

RunReporters::RunReports* RunReporters::Make(std::string_view run_id,
                                             const rapidjson::Value& params) const {
  if (!params.IsObject() || !params.HasMember("reporters")) return nullptr;
  ops::ParamReader reader(params);
  std::vector<ops::ReporterSpec> specs = ops::ReadReporters(reader, allow_);
  if (specs.empty()) return nullptr;
  RunReports reports;
  for (ops::ReporterSpec& spec : specs) {
    reports.reporters.emplace_back();
    reports.reporters.back().spec = std::move(spec);
  }
  return &runs_.emplace(std::string(run_id), std::move(reports)).first->second;
}

void RunReporters::AddTo(ops::RunSnapshot& snapshot) const {
  const RunReports* reports = Find(snapshot.run_id);
  if (reports == nullptr) return;
  for (const Reporter& r : reports->reporters) {
    ops::ReporterStatus status;
    status.type = "webhook";
    status.url = UrlText(r.spec.url);
    if (r.spec.on_repetition) status.on.emplace_back("repetition");
    if (r.spec.on_final) status.on.emplace_back("final");
    const Pending* newest = r.pending.empty() ? nullptr : &r.pending.back();
    if (newest != nullptr && newest->seq == r.latest_seq) {
      status.state = newest->delivery->StateName();
      status.attempts = newest->delivery->attempts();
      status.last_error = newest->delivery->last_error();
    } else {
      status.state = r.state;
      status.attempts = r.attempts;
      status.last_error = r.last_error;
    }
    status.sent = r.sent;
    status.failed = r.failed;
    snapshot.reporters.push_back(std::move(status));
  }
}

bool RunReporters::Holds(std::string_view run_id) const {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return false;
  return std::any_of(it->second.reporters.begin(), it->second.reporters.end(),
                     [](const Reporter& r) { return !r.pending.empty(); });
}

size_t RunReporters::pending() const {
  size_t n = 0;
  for (const auto& [id, reports] : runs_) {
    for (const Reporter& r : reports.reporters) n += r.pending.size();
  }
  return n;
}

void RunReporters::Report(
    std::string_view run_id, ops::ReportEvent event,
    const std::function<rapidjson::Value(Allocator&)>& body) {
  RunReports* reports = Find(run_id);
  if (reports == nullptr) return;
  std::string id(run_id);
  // One body with logs and one without, each built only if a reporter wants it.
  std::optional<std::string> texts[2];
  for (size_t i = 0; i < reports->reporters.size(); ++i) {
    Reporter& reporter = reports->reporters[i];
    if (!reporter.spec.On(event)) continue;
    bool logs = reporter.spec.include_logs;
    std::optional<std::string>& text = texts[logs ? 1 : 0];
    if (!text) {
      rapidjson::Document doc;
      rapidjson::Value result = body(doc.GetAllocator());
      if (!logs) DropLogs(result);
      text = ops::JsonText(result);
    }
    Deliver(id, i, reporter, *text, event);
  }
}

void RunReporters::Deliver(const std::string& run_id, size_t index, Reporter& reporter,
                           std::string body, ops::ReportEvent event, int failed_attempts,
                           std::string last_error) {
  if (reporter.pending.size() >= kMaxPendingReports) {
    // Give up the oldest: a receiver that stays down must not make reports pile up.
    Pending oldest = std::move(reporter.pending.front());
    reporter.pending.erase(reporter.pending.begin());
    ++reporter.failed;
    settled_.Add(std::move(oldest.delivery));
  }
  ops::ReporterSpec spec = reporter.spec;
  spec.headers.emplace_back("X-Testrund-Event", std::string(EventName(event)));
  uint64_t seq = next_seq_++;
  auto delivery = std::make_unique<ops::WebhookDelivery>(
      io_, spec, body,
      [this, run_id, index](ops::WebhookDelivery& settled) { OnSettled(run_id, index, settled); },
      retry_delays_);
  delivery->set_on_retry([this, run_id](ops::WebhookDelivery&) { Changed(run_id); });
  ops::WebhookDelivery& started = *delivery;
  reporter.pending.push_back(Pending{seq, event, std::move(body), std::move(delivery)});
  reporter.latest_seq = seq;
  if (failed_attempts == 0 && last_error.empty()) {
    started.Start();
  } else {
    started.Resume(failed_attempts, std::move(last_error));
  }
  Changed(run_id);
}

void RunReporters::OnSettled(const std::string& run_id, size_t index,
                             ops::WebhookDelivery& delivery) {
  auto it = runs_.find(run_id);
  if (it == runs_.end() || index >= it->second.reporters.size()) return;
  Reporter& reporter = it->second.reporters[index];
  auto pending = std::find_if(reporter.pending.begin(), reporter.pending.end(),
                              [&delivery](const Pending& p) { return p.delivery.get() == &delivery; });
  if (pending == reporter.pending.end()) return;
  Settle(reporter, pending->seq, delivery);
  // Freed after this callback: it is the delivery's own.
  settled_.Add(std::move(pending->delivery));
  reporter.pending.erase(pending);
  Changed(run_id);
  ForgetIfDone(run_id);
}

void RunReporters::Settle(Reporter& reporter, uint64_t seq,
                          const ops::WebhookDelivery& delivery) {
  bool sent = delivery.state() == ops::DeliveryState::kSent;
  ++(sent ? reporter.sent : reporter.failed);
  if (seq != reporter.latest_seq) return;  // a newer report is what the state shows
  reporter.state = delivery.StateName();
  reporter.attempts = delivery.attempts();
  reporter.last_error = delivery.last_error();
}

std::vector<SavedReporter> RunReporters::Saved(std::string_view run_id) const {
  std::vector<SavedReporter> out;
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return out;
  for (const Reporter& r : it->second.reporters) {
    SavedReporter saved;
    saved.state = r.state;
    saved.attempts = r.attempts;
    saved.last_error = r.last_error;
    saved.sent = r.sent;
    saved.failed = r.failed;
    for (const Pending& p : r.pending) {
      saved.pending.push_back(SavedReport{p.event, p.body, p.delivery->failed_attempts(),
                                          p.delivery->last_error()});
    }
    saved.newest_pending = !r.pending.empty() && r.pending.back().seq == r.latest_seq;
    out.push_back(std::move(saved));
  }
  return out;
}

Status RunReporters::Resume(const std::string& run_id, const rapidjson::Value& params,
                            std::vector<SavedReporter> saved) {
  if (saved.empty()) return Status::Ok();
  RunReports* reports = Make(run_id, params);
  size_t have = reports == nullptr ? 0 : reports->reporters.size();
  if (have != saved.size()) {
    runs_.erase(std::string(run_id));
    return Status::Error(fmt::format("the file keeps {} reporters where the run has {}",
                                     saved.size(), have));
  }
  for (size_t i = 0; i < saved.size(); ++i) {
    Reporter& reporter = reports->reporters[i];
    SavedReporter& s = saved[i];
    reporter.state = s.state;
    reporter.attempts = s.attempts;
    reporter.last_error = s.last_error;
    reporter.sent = s.sent;
    reporter.failed = s.failed;
    for (SavedReport& report : s.pending) {
      Deliver(run_id, i, reporter, std::move(report.body), report.event, report.failed_attempts,
              std::move(report.last_error));
    }
    // A settled report newer than the pending ones is what the state shows.
    if (!s.newest_pending) reporter.latest_seq = next_seq_++;
  }
  return Status::Ok();
}

void RunReporters::OnDiscarded(std::string_view run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  it->second.discarded = true;
  ForgetIfDone(it->first);
}

void RunReporters::ForgetIfDone(const std::string& run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end() || !it->second.discarded) return;
  for (const Reporter& r : it->second.reporters) {
    if (!r.pending.empty()) return;
  }
  runs_.erase(it);
}

}  // namespace testrund::daemon
