// SPDX-License-Identifier: Apache-2.0
// TransportLimits: the transports' share of the configuration (docs/configuration.md): body
// and header sizes, the idle timeout and the open-connection cap. Filled from the option
// table (daemon/config.cpp), the one source of their defaults; zero until then.
#pragma once

#include <cstdint>

namespace testrund::daemon {

struct TransportLimits {
  uint64_t max_body_bytes = 0;    // length prefix / Content-Length / chunked total
  uint64_t max_header_bytes = 0;  // HTTP start line + headers
  double idle_timeout = 0;        // seconds without progress before a close
  uint64_t max_connections = 0;   // open client connections, all listeners
};

}  // namespace testrund::daemon
