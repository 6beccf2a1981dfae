// SPDX-License-Identifier: Apache-2.0
// ReporterSpec: one entry of ExecuteTest's `reporters` — whom to tell about a run's result,
// and when — validated once when the run is defined. Today the one type is "webhook": a
// POST of the run's result as JSON to a URL the daemon's `webhook_allow` option allows
// (ops/report/webhook_allow.h), after each repetition and/or when the run ends. Its delivery
// is ops/report/webhook_delivery.h.
//
//   "reporters": [{"type": "webhook", "url": "http://127.0.0.1:8080/hook",
//                  "on": ["final", "repetition"], "headers": {"X-Team": "core"},
//                  "timeout": 5, "include_logs": false,
//                  "tls": {"verify": true, "ca_file": "/etc/ssl/hook-ca.pem"}}]
#pragma once

#include <cstddef>
#include <vector>

#include "ops/base/param_reader.h"
#include "ops/net/client_socket.h"
#include "ops/net/http_client.h"
#include "ops/net/url.h"
#include "ops/report/webhook_allow.h"

namespace testrund::ops {

enum class ReporterType { kWebhook };

// When a reporter reports.
enum class ReportEvent {
  kRepetition,  // after each repetition of a repeated run
  kFinal,       // when the run ends
};

struct ReporterSpec {
  static constexpr size_t kMaxPerRun = 8;
  static constexpr double kDefaultTimeout = 5;  // seconds per attempt
  static constexpr double kMaxTimeout = 60;

  ReporterType type = ReporterType::kWebhook;
  Url url;               // http or https; its host allowed by webhook_allow
  bool on_final = true;  // `on` holds "final" (the default when `on` is not given)
  bool on_repetition = false;
  HeaderList headers;                // sent besides Host, Content-Type and Content-Length
  double timeout = kDefaultTimeout;  // seconds one attempt may take
  bool include_logs = false;         // the result sent holds the run's check and trace logs
  TlsOptions tls;                    // how an https server is checked (as the http op's `tls`)

  // Whether this reporter reports `event`.
  bool On(ReportEvent event) const {
    return event == ReportEvent::kFinal ? on_final : on_repetition;
  }
};

// Reads the `reporters` member of what `params` reads (ExecuteTest's params): an array of
// at most kMaxPerRun objects {type, url, on, headers, timeout, include_logs, tls}. Every
// problem is recorded in `params`' list with its field ("reporters[1].url",
// "reporters[0].on[2]", "reporters[0].headers.Host"), as ParamReader words them; the
// entries read without a problem are returned (the caller checks params.ok()). Absent or
// null: no reporters.
std::vector<ReporterSpec> ReadReporters(ParamReader& params, const WebhookAllowList& allow);

}  // namespace testrund::ops
