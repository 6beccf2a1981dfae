// SPDX-License-Identifier: Apache-2.0
// TraceLog: the first call's trace_log, one rapidjson array in one pool (see trace_log.h).
#include "ops/stats/trace_log.h"

#include <string>
#include <utility>

#include "ops/base/hex.h"

namespace testrund::ops {

TraceLog::TraceLog(size_t max_entries, size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

rapidjson::Value TraceLog::Str(std::string_view s) {
  bytes_ += s.size();
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc_);
}

rapidjson::Value* TraceLog::Append(WallTime time, uint64_t step, int op_idx,
                                   std::string_view path) {
  if (truncated_) {
    ++dropped_;
    return nullptr;
  }
  std::string warning;
  if (entries_.Size() >= max_entries_ || bytes_ >= max_bytes_) {
    // This entry is the first one over a cap: it becomes the truncation notice.
    truncated_ = true;
    ++dropped_;
    warning = "trace_log truncated after " + std::to_string(entries_.Size()) + " entries";
    if (bytes_ >= max_bytes_) warning += ", over " + std::to_string(max_bytes_) + " bytes";
    path = "trace.warning";
  }
  rapidjson::Value entry(rapidjson::kObjectType);
  rapidjson::Value when(rapidjson::kArrayType);
  when.PushBack(time.sec, alloc_).PushBack(time.usec, alloc_);
  // Constant keys are static strings: StringRef keeps them uncopied.
  entry.AddMember("time", when, alloc_);
  entry.AddMember("step", step, alloc_);
  entry.AddMember("op_idx", op_idx, alloc_);
  entry.AddMember("path", Str(path), alloc_);
  if (truncated_) entry.AddMember("text", Str(warning), alloc_);
  entries_.PushBack(entry, alloc_);
  if (truncated_) return nullptr;  // no fields may be added to the notice
  return &entries_[entries_.Size() - 1];
}

TraceLog::EntryRef TraceLog::Add(WallTime time, uint64_t step, int op_idx, std::string_view path) {
  return EntryRef(Append(time, step, op_idx, path), this);
}

bool TraceLog::AddText(WallTime time, uint64_t step, int op_idx, std::string_view path,
                       std::string_view text) {
  EntryRef ref = Add(time, step, op_idx, path);
  ref.SetString("text", text);
  return static_cast<bool>(ref);
}

TraceLog::EntryRef& TraceLog::EntryRef::SetString(std::string_view name, std::string_view value) {
  if (value_) value_->AddMember(log_->Str(name), log_->Str(value), log_->alloc_);
  return *this;
}

TraceLog::EntryRef& TraceLog::EntryRef::SetHex(std::string_view bytes) {
  if (!value_) return *this;
  if (!log_->defer_hex_) return SetString("hex", HexEncode(bytes));
  log_->deferred_hex_.push_back(log_->entries_.Size() - 1);
  return SetString("hex", bytes);
}

void TraceLog::EncodeDeferredHex() {
  defer_hex_ = false;
  for (rapidjson::SizeType index : deferred_hex_) {
    rapidjson::Value& member = entries_[index]["hex"];
    std::string hex = HexEncode(std::string_view(member.GetString(), member.GetStringLength()));
    bytes_ += hex.size() - member.GetStringLength();
    member.SetString(hex.data(), static_cast<rapidjson::SizeType>(hex.size()), alloc_);
  }
  deferred_hex_.clear();
}

TraceLog::EntryRef& TraceLog::EntryRef::SetInt(std::string_view name, int64_t value) {
  if (value_) value_->AddMember(log_->Str(name), rapidjson::Value(value), log_->alloc_);
  return *this;
}

TraceLog::EntryRef& TraceLog::EntryRef::SetUint(std::string_view name, uint64_t value) {
  if (value_) value_->AddMember(log_->Str(name), rapidjson::Value(value), log_->alloc_);
  return *this;
}

TraceLog::EntryRef& TraceLog::EntryRef::SetDouble(std::string_view name, double value) {
  if (value_) value_->AddMember(log_->Str(name), rapidjson::Value(value), log_->alloc_);
  return *this;
}

TraceLog::EntryRef& TraceLog::EntryRef::SetBool(std::string_view name, bool value) {
  if (value_) value_->AddMember(log_->Str(name), rapidjson::Value(value), log_->alloc_);
  return *this;
}

TraceLog::EntryRef& TraceLog::EntryRef::SetValue(std::string_view name, rapidjson::Value&& value) {
  if (value_) value_->AddMember(log_->Str(name), value, log_->alloc_);
  return *this;
}

}  // namespace testrund::ops
