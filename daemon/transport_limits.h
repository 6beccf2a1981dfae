// SPDX-License-Identifier: Apache-2.0
// TransportLimits: the transports' share of the configuration (SPEC §6): body and header
// sizes, the idle timeout and the open-connection cap. Filled from Config by main.
#pragma once

#include <cstddef>

namespace testrund::daemon {

struct TransportLimits {
  size_t max_body_bytes = 16u << 20;    // length prefix / Content-Length / chunked total
  size_t max_header_bytes = 64u << 10;  // HTTP start line + headers
  double idle_timeout = 60;             // seconds without progress before a close
  size_t max_connections = 10'000;      // open client connections, all listeners
};

}  // namespace testrund::daemon
