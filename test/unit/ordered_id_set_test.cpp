// SPDX-License-Identifier: Apache-2.0
// OrderedIdSet (ops/base/ordered_id_set.h): ascending visits across words, sizes, repeated
// inserts and erases, erasing what is not there, and stopping a visit early.
#include <cstdint>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include "ops/base/ordered_id_set.h"

namespace testrund::ops {
namespace {

std::vector<uint64_t> Ids(const OrderedIdSet& set, size_t most = SIZE_MAX) {
  std::vector<uint64_t> ids;
  set.ForEach([&](uint64_t id) {
    if (ids.size() >= most) return false;
    ids.push_back(id);
    return true;
  });
  return ids;
}

TEST_CASE("OrderedIdSet visits its ids in ascending order, across words", "[unit]") {
  OrderedIdSet set;
  CHECK(set.empty());
  for (uint64_t id : {130u, 0u, 63u, 64u, 1'000'000u, 5u, 64u}) set.insert(id);
  CHECK(set.size() == 6);  // 64 twice
  CHECK(Ids(set) == std::vector<uint64_t>{0, 5, 63, 64, 130, 1'000'000});
  CHECK(Ids(set, 3) == std::vector<uint64_t>{0, 5, 63});
  set.erase(64);
  set.erase(64);      // not there any more
  set.erase(999);     // never there, in an absent word
  set.erase(6);       // never there, in a present word
  CHECK(set.size() == 5);
  CHECK(Ids(set) == std::vector<uint64_t>{0, 5, 63, 130, 1'000'000});
  for (uint64_t id : {0u, 5u, 63u, 130u, 1'000'000u}) set.erase(id);
  CHECK(set.empty());
  CHECK(Ids(set).empty());
}

TEST_CASE("OrderedIdSet agrees with std::set on a mixed sequence", "[unit]") {
  OrderedIdSet set;
  std::set<uint64_t> reference;
  uint64_t x = 12345;
  for (int i = 0; i < 20'000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t id = (x >> 33) % 5000;
    if ((x >> 20) & 1) {
      set.insert(id);
      reference.insert(id);
    } else {
      set.erase(id);
      reference.erase(id);
    }
  }
  CHECK(set.size() == reference.size());
  CHECK(Ids(set) == std::vector<uint64_t>(reference.begin(), reference.end()));
}

}  // namespace
}  // namespace testrund::ops
