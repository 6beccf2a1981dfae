// SPDX-License-Identifier: Apache-2.0
// CallCounts (see call_counts.h).
#include "rpc/call_counts.h"

namespace testrund::rpc {

void CallCounts::Add(std::string_view method, int code) {
  auto it = counts_.find(method);  // a view: counting a known method allocates nothing
  if (it == counts_.end()) it = counts_.emplace(std::string(method), std::map<int, uint64_t>()).first;
  ++it->second[code];
}

}  // namespace testrund::rpc
