// SPDX-License-Identifier: Apache-2.0
// Server TLS context creation (see tls.h).
#include "daemon/tls.h"

#include <fmt/core.h>
#include <openssl/err.h>

namespace testrund::daemon {
namespace {

std::string OpenSslReason() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

// TLS 1.2 cipher suites: forward-secret key exchange (ECDHE) and AEAD only, as in Mozilla's
// "intermediate" profile. OpenSSL's default list also offers CBC suites with SHA-1/SHA-384
// MACs (and static RSA key exchange, without forward secrecy, for RSA keys). TLS 1.3 keeps
// OpenSSL's suites, which are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

Result<ops::SslCtxPtr> NewServerTlsContext(const std::string& cert_file, const std::string& key_file) {
  ops::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Status::Error("tls: cannot create context: " + OpenSslReason());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    return Status::Error("tls: cannot set the cipher list: " + OpenSslReason());
  }
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    return Status::Error(fmt::format("tls_cert: cannot load {}: {}", cert_file, OpenSslReason()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::Error(fmt::format("tls_key: cannot load {}: {}", key_file, OpenSslReason()));
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return Status::Error(fmt::format("tls_key: {} does not match the certificate {}: {}", key_file,
                                     cert_file, OpenSslReason()));
  }
  return ctx;
}

}  // namespace testrund::daemon
