// SPDX-License-Identifier: Apache-2.0
// Client sockets of protocol ops: how a TLS session checks its server (the `tls` attribute
// of http, jsonrpc and tcp.connect), client bufferevents plain or TLS, and the text that
// names why a socket failed, as abort texts quote it.
#pragma once

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include <string>

#include "ops/base/event_handles.h"
#include "ops/base/status.h"
#include "ops/net/io_context.h"

namespace testrund::ops {

struct TlsOptions {
  bool verify = true;        // verify the chain and the name
  std::string ca_file;       // PEM file of trusted CAs; empty: the system's default paths
  std::string server_name;   // SNI and the name verified; empty: the URL's / connect host
};

// A client TLS session for a connection to `host` under `options`: SNI and, when verifying,
// the name (or IP address) checked against the certificate. Error: the CA file cannot be
// loaded, or OpenSSL cannot make the session. The caller owns the SSL (bufferevent_openssl
// takes it over).
Result<SSL*> NewClientSsl(IoContext& io, const TlsOptions& options, const std::string& host);

// A client bufferevent (not yet connected) for `host`, plain or, when `tls`, an OpenSSL one
// in connecting state whose SNI and verified name (or IP address) follow `options`. The
// caller sets its callbacks and connects it (bufferevent_socket_connect_hostname with
// io.dns()). `flags` are added to BEV_OPT_CLOSE_ON_FREE (e.g. BEV_OPT_DEFER_CALLBACKS).
// Error: the TLS context (CA file) or the socket could not be made.
Result<BuffereventPtr> NewClientBufferevent(IoContext& io, const std::string& host, bool tls,
                                            const TlsOptions& options, int flags = 0);

// Why a bufferevent reported `events` (BEV_EVENT_ERROR / EOF / TIMEOUT): "connection
// refused", "connection reset by peer", "TLS error: certificate verify failed", "cannot
// resolve host: <reason>", "connection closed by peer", ...
std::string SocketErrorText(bufferevent* bev, short events);

}  // namespace testrund::ops
