// SPDX-License-Identifier: Apache-2.0
// CheckLog: the first call's check_log (see check_log.h).
#include "ops/stats/check_log.h"

namespace testrund::ops {

std::string_view CheckStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass:
      return "pass";
    case CheckStatus::kFail:
      return "fail";
    case CheckStatus::kAbort:
      return "abort";
  }
  return "abort";
}

bool CheckLog::Add(int op_idx, uint64_t step, CheckStatus status, CheckText text) {
  if (entries_.size() >= max_entries_) {
    ++dropped_;
    return false;
  }
  if (text.is_static) {
    // An empty literal still has a non-null data(): text() tells the two cases apart by it.
    entries_.push_back(
        Entry{op_idx, step, status, {}, text.text.data() ? text.text : std::string_view("")});
  } else {
    entries_.push_back(Entry{op_idx, step, status, std::string(text.text), {}});
  }
  return true;
}

}  // namespace testrund::ops
