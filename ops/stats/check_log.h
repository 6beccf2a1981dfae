// SPDX-License-Identifier: Apache-2.0
// CheckLog: the first call's check_log (SPEC §3 first_call_summary): every check in order,
// each {op_idx, step, status pass|fail|abort, text}. Only instance 0 (and the first failing
// instance, for first_fail_summary) keeps one. A safety cap (default 100,000 entries) bounds
// memory against a looping definition; checks beyond it are counted in dropped(), not kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace testrund::ops {

enum class CheckStatus { kPass, kFail, kAbort };

// "pass", "fail", "abort".
std::string_view CheckStatusName(CheckStatus status);

class CheckLog {
 public:
  static constexpr size_t kDefaultMaxEntries = 100'000;

  struct Entry {
    int op_idx;
    uint64_t step;
    CheckStatus status;
    std::string owned;             // the text, when it was copied
    std::string_view constant;     // the text, when it is a constant (see AddConstant)
    std::string_view text() const { return constant.data() != nullptr ? constant : owned; }
  };

  explicit CheckLog(size_t max_entries = kDefaultMaxEntries) : max_entries_(max_entries) {}

  // Appends one check (text copied). Returns false (and counts it) when the log is full.
  bool Add(int op_idx, uint64_t step, CheckStatus status, std::string_view text);
  // The same for a text that lives as long as the log (a string literal): not copied, so
  // that logging "Assert tested TRUE." for every instance allocates nothing.
  bool AddConstant(int op_idx, uint64_t step, CheckStatus status, std::string_view text);
  // Forgets every entry, keeping the memory for reuse.
  void Clear() {
    entries_.clear();
    dropped_ = 0;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  uint64_t dropped() const { return dropped_; }

  // QueryTest form: [{"op_idx", "step", "status", "text"}, ...].
  template <typename Writer>
  void WriteJson(Writer& w) const {
    w.StartArray();
    for (const Entry& e : entries_) {
      w.StartObject();
      w.Key("op_idx");
      w.Int(e.op_idx);
      w.Key("step");
      w.Uint64(e.step);
      w.Key("status");
      std::string_view status = CheckStatusName(e.status);
      w.String(status.data(), static_cast<rapidjson::SizeType>(status.size()));
      w.Key("text");
      std::string_view text = e.text();
      w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
      w.EndObject();
    }
    w.EndArray();
  }
  // The same as a rapidjson array allocated with `alloc`.
  rapidjson::Value ToJson(rapidjson::Document::AllocatorType& alloc) const;

 private:
  size_t max_entries_;
  std::vector<Entry> entries_;
  uint64_t dropped_ = 0;
};

}  // namespace testrund::ops
