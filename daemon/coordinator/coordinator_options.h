// SPDX-License-Identifier: Apache-2.0
// CoordinatorOptions: what `testrund --coordinator` is configured with (docs/scale-out.md,
// docs/configuration.md#coordinator). Filled from the option table (daemon/config.cpp), which
// holds every default and bound; no defaults here.
#pragma once

#include <string>
#include <vector>

namespace testrund::daemon {

struct CoordinatorOptions {
  bool enabled = false;
  // HOST:PORT of each worker, or one NAME:PORT whose name resolves to several addresses.
  std::vector<std::string> workers;
  std::string worker_token;   // sent as every worker request's "auth"; empty: none
  double shard_lead = 0;      // seconds from ExecuteTest to the shards' common start_at
  double worker_timeout = 0;  // seconds a worker call may take; silence this long = lost
};

}  // namespace testrund::daemon
