// SPDX-License-Identifier: Apache-2.0
// IoContext: the socket seam between the engine and the event loop, beside the Clock seam
// (ops/clock.h). The daemon builds one on its event_base and hands it to the RunRegistry;
// tests build one on an event_base of their own. It owns what protocol ops share across
// instances and runs: the asynchronous DNS resolver, the client TLS contexts (one per
// verify/CA-file pair), the HTTP connection pool, and a deferred-delete list, so that an
// object whose callback decides to go away is freed after that callback has returned.
//
// Also here: unique_ptr deleters for the libevent and OpenSSL handles of protocol ops, the
// hex helpers of traces and tcp/udp payloads, and the error-cause text of a bufferevent.
#pragma once

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ops/base/status.h"

namespace testrund::ops {

struct BuffereventFree {
  void operator()(bufferevent* bev) const { bufferevent_free(bev); }
};
struct EventFree {
  void operator()(event* ev) const { event_free(ev); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct EvdnsFree {
  void operator()(evdns_base* dns) const { evdns_base_free(dns, /*fail_requests=*/1); }
};
using BuffereventHandle = std::unique_ptr<bufferevent, BuffereventFree>;
using EventHandle = std::unique_ptr<event, EventFree>;
using SslCtxHandle = std::unique_ptr<SSL_CTX, SslCtxFree>;
using EvdnsHandle = std::unique_ptr<evdns_base, EvdnsFree>;

// Something IoContext::DeferDelete can free later.
class Disposable {
 public:
  virtual ~Disposable() = default;
};

class HttpPool;  // ops/http_client.h

// How a client TLS session checks its server (the `tls` attribute of http, jsonrpc and
// tcp.connect).
struct TlsOptions {
  bool verify = true;        // verify the chain and the name
  std::string ca_file;       // PEM file of trusted CAs; empty: the system's default paths
  std::string server_name;   // SNI and the name verified; empty: the URL's / connect host
};

class IoContext {
 public:
  // `base` is borrowed and must outlive the context; every object of protocol ops (runs
  // included) must be destroyed before the context.
  explicit IoContext(event_base* base);
  ~IoContext();
  IoContext(const IoContext&) = delete;
  IoContext& operator=(const IoContext&) = delete;

  event_base* base() const { return base_; }
  // The asynchronous resolver (nameservers from /etc/resolv.conf, names from /etc/hosts),
  // created on first use; nullptr when it cannot be created (then bufferevents resolve
  // with the blocking resolver).
  evdns_base* dns();
  // A client SSL_CTX for `verify` and `ca_file`, created on first use and kept. Error: the
  // CA file cannot be loaded (the text names it).
  Result<SSL_CTX*> ClientTls(bool verify, const std::string& ca_file);
  HttpPool& http() { return *http_; }

  // Frees `object` on a later loop turn (never inside the caller's callback).
  void DeferDelete(std::unique_ptr<Disposable> object);
  // Objects waiting for DeferDelete (tests).
  size_t deferred() const { return deferred_.size(); }

 private:
  static void OnDeferred(evutil_socket_t, short, void* arg);

  event_base* base_;
  EvdnsHandle dns_;
  bool dns_tried_ = false;
  std::map<std::pair<bool, std::string>, SslCtxHandle> tls_;
  std::unique_ptr<HttpPool> http_;
  std::vector<std::unique_ptr<Disposable>> deferred_;
  EventHandle deferred_event_;
};

// A client TLS session for a connection to `host` under `options`: SNI and, when verifying,
// the name (or IP address) checked against the certificate. Error: the CA file cannot be
// loaded, or OpenSSL cannot make the session. The caller owns the SSL (bufferevent_openssl
// takes it over).
Result<SSL*> NewClientSsl(IoContext& io, const TlsOptions& options, const std::string& host);

// A client bufferevent (not yet connected) for `host`, plain or, when `tls`, an OpenSSL one
// in connecting state whose SNI and verified name (or IP address) follow `options`. The
// caller sets its callbacks and connects it (bufferevent_socket_connect_hostname with
// io.dns()). Error: the TLS context (CA file) or the socket could not be made.
Result<BuffereventHandle> NewClientBufferevent(IoContext& io, const std::string& host, bool tls,
                                               const TlsOptions& options);

// Lower-case hex of `bytes` ("0a1b").
std::string HexEncode(std::string_view bytes);
// Decodes hex digits (either case); false when `hex` has an odd length or a non-hex digit.
bool HexDecode(std::string_view hex, std::string* out);

// Why a bufferevent reported `events` (BEV_EVENT_ERROR / EOF / TIMEOUT): "connection
// refused", "connection reset by peer", "TLS error: certificate verify failed", "cannot
// resolve host: <reason>", "connection closed by peer", ...
std::string SocketErrorText(bufferevent* bev, short events);

}  // namespace testrund::ops
