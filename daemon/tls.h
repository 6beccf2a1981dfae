// SPDX-License-Identifier: Apache-2.0
// The server-side TLS context for the TLS listeners: TLS 1.2 minimum (TLS 1.2 with ECDHE
// and AEAD cipher suites only), no renegotiation, the configured certificate chain and
// private key, checked to match at start-up.
#pragma once

#include <string>

#include "ops/base/event_handles.h"
#include "ops/base/status.h"

namespace testrund::daemon {

// Loads `cert_file` (PEM chain) and `key_file` (PEM key) into a new server context.
// Error: a sentence naming the option (tls_cert / tls_key) and OpenSSL's reason.
Result<ops::SslCtxPtr> NewServerTlsContext(const std::string& cert_file, const std::string& key_file);

}  // namespace testrund::daemon
