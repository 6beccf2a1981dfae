// SPDX-License-Identifier: Apache-2.0
// CallCounts: how many JSON-RPC request objects the dispatcher answered (or ran, for
// notifications), by method and outcome code — the `testrund_rpc_calls_total` metric
// (docs/metrics.md). 0 is a success; anything else is the JSON-RPC error code. The set of
// keys is bounded: a method name is kept only when it is in the method table; requests for
// other names count as "(unknown)", requests without a readable method as "(invalid)", and
// bodies that are not JSON as "(parse error)".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace testrund::rpc {

class CallCounts {
 public:
  static constexpr std::string_view kUnknownMethod = "(unknown)";
  static constexpr std::string_view kInvalidRequest = "(invalid)";
  static constexpr std::string_view kParseError = "(parse error)";

  // Counts one call of `method` (a table method or one of the names above) ending in `code`.
  void Add(std::string_view method, int code);

  // method -> code -> calls, both ordered.
  using Map = std::map<std::string, std::map<int, uint64_t>, std::less<>>;
  const Map& counts() const { return counts_; }

 private:
  Map counts_;
};

}  // namespace testrund::rpc
