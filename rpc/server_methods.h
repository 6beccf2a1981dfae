// SPDX-License-Identifier: Apache-2.0
// Handlers about the daemon itself rather than one run (docs/api.md#3-methods).
#pragma once

#include <rapidjson/document.h>

#include "rpc/methods.h"

namespace testrund::rpc {

// GetServerInfo {} -> {"version", "time_start": [sec, usec], "runs", "instances_live",
// "memory_bytes", "lua_version"}. Takes no parameters; unknown ones are ignored. Never
// fails. memory_bytes is the process's resident set size (0 if it cannot be read); runs
// and instances_live are 0 when the state has no RunRegistry.
Outcome GetServerInfo(const rapidjson::Value& params, MethodContext& ctx);

}  // namespace testrund::rpc
