// SPDX-License-Identifier: Apache-2.0
// Roles a token grants (docs/api.md#1-transports): operator may call every method, observer only
// the read-only ones. kNone is a caller without a valid token.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

namespace testrund::rpc {

enum class Role { kNone, kObserver, kOperator };

// "operator", "observer", "none".
inline std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOperator:
      return "operator";
    case Role::kObserver:
      return "observer";
    case Role::kNone:
      break;
  }
  return "none";
}

// Looks a token up; nullopt when it is unknown. Supplied by the daemon (daemon/auth.*), which
// compares in constant time. Never logs the token.
using TokenLookup = std::function<std::optional<Role>(std::string_view token)>;

}  // namespace testrund::rpc
