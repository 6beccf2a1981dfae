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

bool CheckLog::Add(int op_idx, uint64_t step, CheckStatus status, std::string_view text) {
  if (entries_.size() >= max_entries_) {
    ++dropped_;
    return false;
  }
  entries_.push_back(Entry{op_idx, step, status, std::string(text), {}});
  return true;
}

bool CheckLog::AddConstant(int op_idx, uint64_t step, CheckStatus status,
                           std::string_view text) {
  if (entries_.size() >= max_entries_) {
    ++dropped_;
    return false;
  }
  // An empty literal still has a non-null data(): text() tells the two cases apart by it.
  entries_.push_back(Entry{op_idx, step, status, {}, text.data() ? text : std::string_view("")});
  return true;
}

rapidjson::Value CheckLog::ToJson(rapidjson::Document::AllocatorType& alloc) const {
  rapidjson::Value array(rapidjson::kArrayType);
  array.Reserve(static_cast<rapidjson::SizeType>(entries_.size()), alloc);
  for (const Entry& e : entries_) {
    rapidjson::Value entry(rapidjson::kObjectType);
    entry.AddMember("op_idx", e.op_idx, alloc);
    entry.AddMember("step", e.step, alloc);
    std::string_view status = CheckStatusName(e.status);
    // The status names are static strings: no copy needed.
    entry.AddMember(
        "status",
        rapidjson::StringRef(status.data(), static_cast<rapidjson::SizeType>(status.size())),
        alloc);
    std::string_view text = e.text();
    entry.AddMember(
        "text",
        rapidjson::Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc),
        alloc);
    array.PushBack(entry, alloc);
  }
  return array;
}

}  // namespace testrund::ops
