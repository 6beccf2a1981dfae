// SPDX-License-Identifier: Apache-2.0
// IoContext (see io_context.h).
#include "ops/net/io_context.h"

#include <fmt/format.h>
#include <openssl/err.h>


#include "ops/base/check.h"
#include "ops/net/http_client.h"

namespace testrund::ops {

IoContext::IoContext(event_base* base, Clock& clock) : base_(base), clock_(clock) {
  CHECK(base_ != nullptr);
  http_ = std::make_unique<HttpPool>(*this);
}

IoContext::~IoContext() {
  http_.reset();
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
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
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

}  // namespace testrund::ops
