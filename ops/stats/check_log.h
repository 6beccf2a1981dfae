// SPDX-License-Identifier: Apache-2.0
// CheckLog: the first call's check_log (docs/api.md#querytest first_call_summary): every check in
// order, each {op_idx, step, status pass|fail|abort, text}. Only instance 0 (and the first failing
// instance, for first_fail_summary) keeps one. A safety cap (default 100,000 entries) bounds memory
// against a looping definition; checks beyond it are counted in dropped(), not kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace testrund::ops {

enum class CheckStatus { kPass, kFail, kAbort };

// "pass", "fail", "abort".
std::string_view CheckStatusName(CheckStatus status);

// A text that lives as long as the program (a string literal): logged without a copy, so
// that "Assert tested TRUE." for every instance allocates nothing.
struct StaticText {
  std::string_view text;
};

// A check's text: copied into the log, or, from a StaticText, referred to.
struct CheckText {
  CheckText(std::string_view copied) : text(copied) {}  // NOLINT: implicit by design
  CheckText(StaticText literal) : text(literal.text), is_static(true) {}  // NOLINT: as above
  CheckText(const std::string& copied) : text(copied) {}  // NOLINT: as above
  CheckText(const char* copied) : text(copied) {}  // NOLINT: as above
  std::string_view text;
  bool is_static = false;
};

class CheckLog {
 public:
  static constexpr size_t kDefaultMaxEntries = 100'000;

  struct Entry {
    int op_idx;
    uint64_t step;
    CheckStatus status;
    std::string owned;             // the text, when it was copied
    std::string_view constant;     // the text, when it is a constant (see StaticText)
    std::string_view text() const { return constant.data() != nullptr ? constant : owned; }
  };

  explicit CheckLog(size_t max_entries = kDefaultMaxEntries) : max_entries_(max_entries) {}

  // Appends one check. Returns false (and counts it) when the log is full.
  bool Add(int op_idx, uint64_t step, CheckStatus status, CheckText text);
  // Forgets every entry, keeping the memory for reuse.
  void Clear() {
    entries_.clear();
    dropped_ = 0;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  uint64_t dropped() const { return dropped_; }

 private:
  size_t max_entries_;
  std::vector<Entry> entries_;
  uint64_t dropped_ = 0;
};

}  // namespace testrund::ops
