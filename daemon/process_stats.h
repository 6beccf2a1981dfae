// SPDX-License-Identifier: Apache-2.0
// The process_* figures every Prometheus client library exports, read from the kernel
// (getrusage, /proc/self) when /metrics is scraped (docs/metrics.md#the-daemon).
#pragma once

#include <cstdint>
#include <optional>

namespace testrund::daemon {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system CPU time
  std::optional<uint64_t> resident_bytes;
  std::optional<uint64_t> virtual_bytes;
  std::optional<uint64_t> open_fds;
  std::optional<uint64_t> max_fds;  // the soft limit; nullopt when unlimited
};

// What can be read now; a figure the kernel does not give is nullopt (and not exported).
ProcessStats ReadProcessStats();

}  // namespace testrund::daemon
