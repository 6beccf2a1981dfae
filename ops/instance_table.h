// SPDX-License-Identifier: Apache-2.0
// InstanceTable: a run's live instances by id, in one flat array of owning pointers (open
// addressing, linear probing, deletion by backward shift). The id is read from the instance
// itself, so a slot is 8 bytes; at the load the table keeps (at most 7/8, at least 7/16 after
// growing) an instance costs 9-18 bytes here, where a std::unordered_map node and its bucket
// cost about 40 (docs/performance.md, scenario 2). Lookups hash the id with Fibonacci hashing:
// a run's ids are consecutive (or evenly spaced, for a shard), which that spreads evenly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ops/instance.h"

namespace testrund::ops {

class InstanceTable {
 public:
  // `stride`: the spacing of the ids (a shard's count; 1 for a whole run).
  explicit InstanceTable(uint32_t stride = 1) : stride_(stride) {}

  // The instance `id`, or nullptr.
  Instance* Find(int64_t id) const {
    if (size_ == 0) return nullptr;
    for (size_t slot = Home(id);; slot = Next(slot)) {
      Instance* instance = slots_[slot].get();
      if (instance == nullptr) return nullptr;
      if (instance->id == id) return instance;
    }
  }
  // Adds `instance`, whose id must not be in the table.
  Instance& Insert(std::unique_ptr<Instance> instance);
  // Takes the instance `id` out of the table (nullptr when absent).
  std::unique_ptr<Instance> Remove(int64_t id);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Ids of every instance, in no particular order.
  std::vector<int64_t> Ids() const;
  // The longest distance of an instance from its home slot (tests: how well ids spread).
  size_t LongestProbe() const;
  void clear() {
    slots_.clear();
    size_ = 0;
  }

 private:
  size_t Home(int64_t id) const {
    uint64_t position = static_cast<uint64_t>(id);
    if (stride_ != 1) position /= stride_;
    return static_cast<size_t>((position * 0x9E3779B97F4A7C15ULL) >> shift_);
  }
  size_t Next(size_t slot) const { return (slot + 1) & (slots_.size() - 1); }
  void Grow();

  std::vector<std::unique_ptr<Instance>> slots_;  // a power of two long, or empty
  size_t size_ = 0;
  int shift_ = 64;
  uint32_t stride_;  // 64 - log2(slots_.size())
};

}  // namespace testrund::ops
