// SPDX-License-Identifier: Apache-2.0
// IoContext, hex helpers and socket error texts (see net.h).
#include "ops/net/io_context.h"

#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>

#include "ops/base/check.h"
#include "ops/net/http_client.h"

namespace testrund::ops {

IoContext::IoContext(event_base* base) : base_(base) {
  CHECK(base_ != nullptr);
  http_ = std::make_unique<HttpPool>(*this);
  deferred_event_.reset(event_new(base_, -1, 0, &IoContext::OnDeferred, this));
  CHECK(deferred_event_ != nullptr);
}

IoContext::~IoContext() {
  http_.reset();
  deferred_.clear();
}

evdns_base* IoContext::dns() {
  if (!dns_tried_) {
    dns_tried_ = true;
    dns_.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                         EVDNS_BASE_DISABLE_WHEN_INACTIVE));
    // Without nameservers (a sealed container) the blocking resolver still reads /etc/hosts.
    if (dns_ && evdns_base_count_nameservers(dns_.get()) == 0) dns_.reset();
  }
  return dns_.get();
}

Result<SSL_CTX*> IoContext::ClientTls(bool verify, const std::string& ca_file) {
  auto key = std::make_pair(verify, ca_file);
  auto it = tls_.find(key);
  if (it != tls_.end()) return it->second.get();
  SslCtxHandle ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::Error("cannot create a TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (verify) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    int loaded = ca_file.empty()
                     ? SSL_CTX_set_default_verify_paths(ctx.get())
                     : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
    if (loaded != 1) {
      ERR_clear_error();
      return Status::Error(fmt::format("cannot load TLS CA file \"{}\"", ca_file));
    }
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  SSL_CTX* raw = ctx.get();
  tls_.emplace(key, std::move(ctx));
  return raw;
}

void IoContext::DeferDelete(std::unique_ptr<Disposable> object) {
  deferred_.push_back(std::move(object));
  if (!event_pending(deferred_event_.get(), EV_TIMEOUT, nullptr)) {
    timeval zero{0, 0};
    event_add(deferred_event_.get(), &zero);
  }
}

void IoContext::OnDeferred(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<IoContext*>(arg);
  // Destructors may defer more objects: free in rounds until none is left.
  while (!self->deferred_.empty()) {
    std::vector<std::unique_ptr<Disposable>> batch;
    batch.swap(self->deferred_);
    batch.clear();
  }
}

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

Result<BuffereventHandle> NewClientBufferevent(IoContext& io, const std::string& host, bool tls,
                                               const TlsOptions& options) {
  BuffereventHandle bev;
  if (!tls) {
    bev.reset(bufferevent_socket_new(io.base(), -1, BEV_OPT_CLOSE_ON_FREE));
    if (!bev) return Status::Error("cannot create a socket");
    return bev;
  }
  Result<SSL*> ssl = NewClientSsl(io, options, host);
  if (!ssl.ok()) return ssl.status();
  bev.reset(bufferevent_openssl_socket_new(io.base(), -1, ssl.value(),
                                           BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE));
  if (!bev) {
    SSL_free(ssl.value());
    return Status::Error("cannot create a TLS socket");
  }
  bufferevent_openssl_set_allow_dirty_shutdown(bev.get(), 1);
  return bev;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto byte = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kDigits[byte >> 4];
    out[2 * i + 1] = kDigits[byte & 0xf];
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  std::string bytes;
  bytes.resize(hex.size() / 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes[i] = static_cast<char>((hi << 4) | lo);
  }
  *out = std::move(bytes);
  return true;
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
  if (events & BEV_EVENT_ERROR) {
    switch (socket_error) {
      case ECONNREFUSED: return "connection refused";
      case ECONNRESET: return "connection reset by peer";
      case EPIPE: return "connection reset by peer (broken pipe)";
      case ETIMEDOUT: return "connection timed out";
      case EHOSTUNREACH: return "host unreachable";
      case ENETUNREACH: return "network unreachable";
      case 0: return "connection failed";
      default: return evutil_socket_error_to_string(socket_error);
    }
  }
  return "connection closed by peer";
}

}  // namespace testrund::ops
