// SPDX-License-Identifier: Apache-2.0
// InstanceTable (ops/instance_table.h): finds, inserts and removes agree with a reference
// map through growth and backward-shift deletion, for consecutive ids, a shard's spaced ids
// and scattered ones.
#include <cstdint>
#include <map>
#include <memory>

#include <catch2/catch.hpp>

#include "ops/instance_table.h"

namespace testrund::ops {
namespace {

std::unique_ptr<Instance> Make(int64_t id) {
  auto instance = std::make_unique<Instance>();
  instance->id = id;
  return instance;
}

// Inserts and removes ids from `next_id` in a pseudo-random order and checks every id the
// reference holds (and some it does not) after each step.
void Exercise(int64_t (*next_id)(uint64_t)) {
  InstanceTable table;
  std::map<int64_t, Instance*> reference;
  uint64_t x = 7;
  for (int step = 0; step < 6000; ++step) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t id = next_id((x >> 33) % 3000);
    if ((x >> 21) % 3 != 0 && reference.count(id) == 0) {
      reference[id] = &table.Insert(Make(id));
    } else {
      std::unique_ptr<Instance> removed = table.Remove(id);
      CHECK((removed != nullptr) == (reference.erase(id) == 1));
      if (removed) CHECK(removed->id == id);
    }
    REQUIRE(table.size() == reference.size());
  }
  for (const auto& [id, instance] : reference) CHECK(table.Find(id) == instance);
  CHECK(table.Find(next_id(3001)) == nullptr);
  CHECK(table.Ids().size() == reference.size());
}

TEST_CASE("InstanceTable agrees with a map: consecutive, spaced and scattered ids", "[unit]") {
  Exercise([](uint64_t n) { return static_cast<int64_t>(n); });
  Exercise([](uint64_t n) { return static_cast<int64_t>(n * 8 + 3); });  // shard 3 of 8, stride not told
  Exercise([](uint64_t n) { return static_cast<int64_t>(n * n * 1'000'003 % 999'999'937); });
}

TEST_CASE("InstanceTable: a run's ids spread evenly, probes stay short when 7/8 full",
          "[unit]") {
  for (uint32_t stride : {1u, 2u, 8u, 1000u}) {
    InstanceTable table(stride);
    for (int64_t k = 0; k < 229'000; ++k) table.Insert(Make(k * stride + stride / 2));
    CHECK(table.Find(1000 * stride + stride / 2)->id == 1000 * stride + stride / 2);
    INFO("stride " << stride << ", longest probe " << table.LongestProbe());
    CHECK(table.LongestProbe() <= 2);
  }
}

TEST_CASE("InstanceTable: empty, a missing id, clear", "[unit]") {
  InstanceTable table;
  CHECK(table.empty());
  CHECK(table.Find(0) == nullptr);
  CHECK(table.Remove(0) == nullptr);
  for (int64_t id = 0; id < 100; ++id) table.Insert(Make(id));
  CHECK(table.size() == 100);
  CHECK(table.Remove(1000) == nullptr);
  CHECK(table.Find(42)->id == 42);
  table.clear();
  CHECK(table.empty());
  CHECK(table.Find(42) == nullptr);
  table.Insert(Make(42));
  CHECK(table.Find(42)->id == 42);
}

}  // namespace
}  // namespace testrund::ops
