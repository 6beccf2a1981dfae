// SPDX-License-Identifier: Apache-2.0
// FirstReasons: the first_fails / first_aborts table of a run (docs/api.md#querytest). Each
// instance contributes its first fail (resp. its abort) keyed by (op_idx, text); entries keep
// first-occurrence order with a count. At most `max_distinct` distinct entries are kept;
// further distinct reasons are summed into one entry {op_idx -1, "(other reasons)"}, listed
// last. Add is O(1) on average and does not allocate when the key is already present.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace testrund::ops {

class FirstReasons {
 public:
  static constexpr size_t kDefaultMaxDistinct = 100;
  static constexpr int kOtherOpIdx = -1;
  static constexpr std::string_view kOtherText = "(other reasons)";

  static constexpr int64_t kNoInstance = -1;

  struct Entry {
    int op_idx;
    std::string text;
    uint64_t count;
    // The lowest instance number counted in it (kNoInstance: not known): unlike the
    // order of first occurrence, it does not depend on timing, so shards merge it exactly.
    int64_t first_instance = kNoInstance;
  };

  explicit FirstReasons(size_t max_distinct = kDefaultMaxDistinct);
  FirstReasons(const FirstReasons& other);
  FirstReasons& operator=(const FirstReasons& other);
  FirstReasons(FirstReasons&&) noexcept = default;
  FirstReasons& operator=(FirstReasons&&) noexcept = default;

  // Counts `n` instances whose first fail/abort was (op_idx, text), the lowest of them
  // `instance`. A new key beyond max_distinct goes to "(other reasons)". `text` is copied
  // only when the key is new.
  void Add(int op_idx, std::string_view text, uint64_t n = 1, int64_t instance = kNoInstance);

  // Counts `n` instances into "(other reasons)" itself (a merge of tables that each
  // overflowed), the lowest of them `instance`.
  void AddOther(uint64_t n, int64_t instance);

  // Adds every entry of `other` as if Add()ed in its order after ours; its "(other
  // reasons)" count is added to ours. Our entries keep their positions.
  void Merge(const FirstReasons& other);

  // The distinct entries in first-occurrence order, without "(other reasons)".
  const std::deque<Entry>& distinct_entries() const { return entries_; }
  // Instances summed into "(other reasons)", and the lowest of them.
  uint64_t other_count() const { return other_count_; }
  int64_t other_first_instance() const { return other_first_; }
  // The QueryTest list: distinct entries, then "(other reasons)" when other_count() > 0.
  std::vector<Entry> Entries() const;
  // Sum of every count, "(other reasons)" included.
  uint64_t total() const { return total_; }
  bool empty() const { return total_ == 0; }
  size_t max_distinct() const { return max_distinct_; }

 private:
  // Views into entries_ (a deque: elements never move, so the views stay valid).
  struct KeyView {
    int op_idx;
    std::string_view text;
    bool operator==(const KeyView&) const = default;
  };
  struct KeyHash {
    size_t operator()(const KeyView& k) const {
      return std::hash<std::string_view>{}(k.text) ^
             (static_cast<size_t>(k.op_idx) * 0x9e3779b97f4a7c15ULL);
    }
  };
  void RebuildIndex();

  size_t max_distinct_;
  std::deque<Entry> entries_;
  std::unordered_map<KeyView, size_t, KeyHash> index_;  // -> position in entries_
  uint64_t other_count_ = 0;
  int64_t other_first_ = kNoInstance;
  uint64_t total_ = 0;
};

}  // namespace testrund::ops
