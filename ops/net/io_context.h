// SPDX-License-Identifier: Apache-2.0
// IoContext: the socket seam between the engine and the event loop, beside the clock seam
// (ops/base/clock.h). The daemon builds one on its event_base and hands it to the
// RunRegistry; tests build one on an event_base of their own. It owns what protocol ops
// share across instances and runs: the asynchronous DNS resolver, the client TLS contexts
// (one per verify/CA-file pair) and the HTTP connection pool.
#pragma once

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "ops/base/clock.h"
#include "ops/base/event_handles.h"
#include "ops/base/status.h"

namespace testrund::ops {

class HttpPool;  // ops/net/http_client.h

class IoContext {
 public:
  // `base` and `clock` (a clock on that base) are borrowed and must outlive the context;
  // every object of protocol ops (runs included) must be destroyed before the context.
  IoContext(event_base* base, Clock& clock);
  ~IoContext();
  IoContext(const IoContext&) = delete;
  IoContext& operator=(const IoContext&) = delete;

  event_base* base() const { return base_; }
  Clock& clock() const { return clock_; }
  // The asynchronous resolver (nameservers from /etc/resolv.conf, names from /etc/hosts),
  // created on first use; nullptr when it cannot be created (then bufferevents resolve
  // with the blocking resolver).
  evdns_base* dns();
  // A client SSL_CTX for `verify` and `ca_file`, created on first use and kept. Error: the
  // CA file cannot be loaded (the text names it).
  Result<SSL_CTX*> ClientTls(bool verify, const std::string& ca_file);
  HttpPool& http() { return *http_; }

 private:
  event_base* base_;
  Clock& clock_;
  EvdnsPtr dns_;
  bool dns_tried_ = false;
  std::map<std::pair<bool, std::string>, SslCtxPtr> tls_;
  std::unique_ptr<HttpPool> http_;
};

}  // namespace testrund::ops
