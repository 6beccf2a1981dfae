// SPDX-License-Identifier: Apache-2.0
// OrderedIdSet: a set of non-negative integers, visited in ascending order, stored as 64-bit
// words in an ordered map (word index -> bits). Made for a run's halted instances: their ids
// are mostly close together, so a halted instance costs about a bit instead of a tree node
// (48 bytes with malloc's header); ids far apart cost a node per 64-id word, about what a
// std::set node costs for each.
#pragma once

#include <bit>
#include <cstdint>
#include <map>

namespace testrund::ops {

class OrderedIdSet {
 public:
  void insert(uint64_t id) {
    uint64_t& word = words_[id / 64];
    uint64_t bit = uint64_t{1} << (id % 64);
    if ((word & bit) == 0) ++size_;
    word |= bit;
  }
  void erase(uint64_t id) {
    auto it = words_.find(id / 64);
    if (it == words_.end()) return;
    uint64_t bit = uint64_t{1} << (id % 64);
    if ((it->second & bit) == 0) return;
    --size_;
    it->second &= ~bit;
    if (it->second == 0) words_.erase(it);
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Calls `visit(id)` for each id in ascending order while it returns true.
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    for (const auto& [index, bits] : words_) {
      for (uint64_t rest = bits; rest != 0; rest &= rest - 1) {
        if (!visit(index * 64 + static_cast<uint64_t>(std::countr_zero(rest)))) return;
      }
    }
  }

 private:
  std::map<uint64_t, uint64_t> words_;
  size_t size_ = 0;
};

}  // namespace testrund::ops
