// SPDX-License-Identifier: Apache-2.0
// Client TLS sessions, client bufferevents and socket error texts (see client_socket.h).
#include "ops/net/client_socket.h"

#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>

#include "ops/net/plain_socket.h"

namespace testrund::ops {

Result<SSL*> NewClientSsl(IoContext& io, const TlsOptions& options, const std::string& host) {
  Result<SSL_CTX*> ctx = io.ClientTls(options.verify, options.ca_file);
  if (!ctx.ok()) return ctx.status();
  SSL* ssl = SSL_new(ctx.value());
  if (ssl == nullptr) return Status::Error("cannot create a TLS session");
  const std::string& name = options.server_name.empty() ? host : options.server_name;
  bool is_ip = host.find_first_not_of("0123456789.") == std::string::npos ||
               name.find(':') != std::string::npos;
  if (options.server_name.empty() && is_ip) {
    // No SNI for an address; the certificate must name the address itself.
    if (options.verify) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    if (options.verify) SSL_set1_host(ssl, name.c_str());
  }
  return ssl;
}

Result<BuffereventPtr> NewClientBufferevent(IoContext& io, const std::string& host, bool tls,
                                            const TlsOptions& options, int flags) {
  flags |= BEV_OPT_CLOSE_ON_FREE;
  BuffereventPtr bev;
  if (!tls) {
    bev.reset(bufferevent_socket_new(io.base(), -1, flags));
    if (!bev) return Status::Error("cannot create a socket");
    return bev;
  }
  Result<SSL*> ssl = NewClientSsl(io, options, host);
  if (!ssl.ok()) return ssl.status();
  bev.reset(bufferevent_openssl_socket_new(io.base(), -1, ssl.value(),
                                           BUFFEREVENT_SSL_CONNECTING, flags));
  if (!bev) {
    SSL_free(ssl.value());
    return Status::Error("cannot create a TLS socket");
  }
  bufferevent_openssl_set_allow_dirty_shutdown(bev.get(), 1);
  return bev;
}

std::string SocketErrorText(bufferevent* bev, short events) {
  int socket_error = EVUTIL_SOCKET_ERROR();
  if (events & BEV_EVENT_TIMEOUT) return "timed out";
  if (int dns_error = bufferevent_socket_get_dns_error(bev); dns_error != 0) {
    return fmt::format("cannot resolve host: {}", evutil_gai_strerror(dns_error));
  }
  std::string tls;
  while (unsigned long e = bufferevent_get_openssl_error(bev)) {
    if (tls.empty()) {
      const char* reason = ERR_reason_error_string(e);
      tls = reason != nullptr ? reason : fmt::format("error {}", e);
    }
  }
  if (!tls.empty()) return "TLS error: " + tls;
  if (events & BEV_EVENT_ERROR) return SocketErrnoText(socket_error);
  return "connection closed by peer";
}

}  // namespace testrund::ops
