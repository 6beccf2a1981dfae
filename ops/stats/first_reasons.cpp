// SPDX-License-Identifier: Apache-2.0
// FirstReasons: the first_fails / first_aborts table (see first_reasons.h).
#include "ops/stats/first_reasons.h"

#include <algorithm>
#include <utility>

namespace testrund::ops {

FirstReasons::FirstReasons(size_t max_distinct) : max_distinct_(max_distinct) {}

FirstReasons::FirstReasons(const FirstReasons& other)
    : max_distinct_(other.max_distinct_),
      entries_(other.entries_),
      other_count_(other.other_count_),
      other_first_(other.other_first_),
      total_(other.total_) {
  RebuildIndex();
}

FirstReasons& FirstReasons::operator=(const FirstReasons& other) {
  if (this == &other) return *this;
  max_distinct_ = other.max_distinct_;
  entries_ = other.entries_;
  other_count_ = other.other_count_;
  other_first_ = other.other_first_;
  total_ = other.total_;
  RebuildIndex();
  return *this;
}

void FirstReasons::RebuildIndex() {
  // The copied strings live at new addresses: the views must point at them.
  index_.clear();
  index_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    index_.emplace(KeyView{entries_[i].op_idx, entries_[i].text}, i);
  }
}

namespace {

// The lower of two instance numbers, kNoInstance counting as none.
int64_t LowerInstance(int64_t a, int64_t b) {
  if (a == FirstReasons::kNoInstance) return b;
  if (b == FirstReasons::kNoInstance) return a;
  return std::min(a, b);
}

}  // namespace

void FirstReasons::Add(int op_idx, std::string_view text, uint64_t n, int64_t instance) {
  if (n == 0) return;
  total_ += n;
  auto it = index_.find(KeyView{op_idx, text});
  if (it != index_.end()) {
    Entry& entry = entries_[it->second];
    entry.count += n;
    entry.first_instance = LowerInstance(entry.first_instance, instance);
    return;
  }
  if (entries_.size() >= max_distinct_) {
    other_count_ += n;
    other_first_ = LowerInstance(other_first_, instance);
    return;
  }
  entries_.push_back(Entry{op_idx, std::string(text), n, instance});
  index_.emplace(KeyView{op_idx, entries_.back().text}, entries_.size() - 1);
}

void FirstReasons::AddOther(uint64_t n, int64_t instance) {
  if (n == 0) return;
  total_ += n;
  other_count_ += n;
  other_first_ = LowerInstance(other_first_, instance);
}

void FirstReasons::Merge(const FirstReasons& other) {
  if (&other == this) {
    // Doubling: every count twice, nothing new.
    for (Entry& e : entries_) e.count *= 2;
    other_count_ *= 2;
    total_ *= 2;
    return;
  }
  for (const Entry& e : other.entries_) Add(e.op_idx, e.text, e.count, e.first_instance);
  other_count_ += other.other_count_;
  other_first_ = LowerInstance(other_first_, other.other_first_);
  total_ += other.other_count_;
}

std::vector<FirstReasons::Entry> FirstReasons::Entries() const {
  std::vector<Entry> out(entries_.begin(), entries_.end());
  if (other_count_ > 0) {
    out.push_back(Entry{kOtherOpIdx, std::string(kOtherText), other_count_, other_first_});
  }
  return out;
}

}  // namespace testrund::ops
