// SPDX-License-Identifier: Apache-2.0
// A run's live instances by id (see instance_table.h).
#include "ops/instance_table.h"

#include <algorithm>
#include <bit>
#include <utility>

namespace testrund::ops {

Instance& InstanceTable::Insert(std::unique_ptr<Instance> instance) {
  // Grown before it is 7/8 full. A run's ids are consecutive (or evenly spaced), and
  // Fibonacci hashing spreads such ids almost evenly, so even that full the probe sequences
  // stay short (instance_table_test counts them).
  if ((size_ + 1) * 8 > slots_.size() * 7) Grow();
  size_t slot = Home(instance->id);
  while (slots_[slot] != nullptr) slot = Next(slot);
  slots_[slot] = std::move(instance);
  ++size_;
  return *slots_[slot];
}

std::unique_ptr<Instance> InstanceTable::Remove(int64_t id) {
  if (size_ == 0) return nullptr;
  size_t slot = Home(id);
  while (slots_[slot] != nullptr && slots_[slot]->id != id) slot = Next(slot);
  if (slots_[slot] == nullptr) return nullptr;
  std::unique_ptr<Instance> removed = std::move(slots_[slot]);
  --size_;
  // Backward shift: each entry after the hole that may move into it does, so that every
  // entry stays reachable from its home slot without tombstones.
  size_t hole = slot;
  for (size_t next = Next(hole); slots_[next] != nullptr; next = Next(next)) {
    size_t home = Home(slots_[next]->id);
    // `next` may move to `hole` when its home is not in the cyclic range (hole, next].
    bool home_after_hole = hole <= next ? (home > hole && home <= next)
                                        : (home > hole || home <= next);
    if (home_after_hole) continue;
    slots_[hole] = std::move(slots_[next]);
    hole = next;
  }
  return removed;
}

std::vector<int64_t> InstanceTable::Ids() const {
  std::vector<int64_t> ids;
  ids.reserve(size_);
  for (const auto& instance : slots_) {
    if (instance != nullptr) ids.push_back(instance->id);
  }
  return ids;
}

size_t InstanceTable::LongestProbe() const {
  size_t longest = 0;
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot] == nullptr) continue;
    size_t home = Home(slots_[slot]->id);
    longest = std::max(longest, (slot - home) & (slots_.size() - 1));
  }
  return longest;
}

void InstanceTable::Grow() {
  std::vector<std::unique_ptr<Instance>> old = std::move(slots_);
  size_t capacity = old.empty() ? 16 : old.size() * 2;
  slots_ = std::vector<std::unique_ptr<Instance>>(capacity);
  shift_ = 64 - std::countr_zero(capacity);
  for (auto& instance : old) {
    if (instance == nullptr) continue;
    size_t slot = Home(instance->id);
    while (slots_[slot] != nullptr) slot = Next(slot);
    slots_[slot] = std::move(instance);
  }
}

}  // namespace testrund::ops
