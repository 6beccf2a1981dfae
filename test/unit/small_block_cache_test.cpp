// SPDX-License-Identifier: Apache-2.0
// SmallBlockCache: freed small blocks serve later requests of their class, resizes keep the
// contents, the cache stays within its bound, and a class's size takes the same malloc chunk
// as the exact size would (so the blocks Lua holds cost no more than before).
#include "ops/lua/small_block_cache.h"

#include <malloc.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

namespace testrund::ops::sandbox {
namespace {

constexpr bool kCaches = SmallBlockCache::kMaxBytes > 0;  // false under AddressSanitizer

TEST_CASE("a freed small block serves the next request of its class, not another's") {
  SmallBlockCache cache;
  void* table = cache.Reallocate(nullptr, 0, 56);
  REQUIRE(table != nullptr);
  cache.Reallocate(table, 56, 0);
  CHECK(cache.cached_bytes() == (kCaches ? 56u : 0u));
  void* other_class = cache.Reallocate(nullptr, 0, 24);
  void* same_class = cache.Reallocate(nullptr, 0, 49);  // 41..56 share a class
  if (kCaches) CHECK(same_class == table);
  CHECK(other_class != same_class);
  CHECK(cache.cached_bytes() == 0);
  cache.Reallocate(other_class, 24, 0);
  cache.Reallocate(same_class, 49, 0);
}

TEST_CASE("blocks larger than the classes are never kept") {
  SmallBlockCache cache;
  void* big = cache.Reallocate(nullptr, 0, SmallBlockCache::kMaxBlockBytes + 1);
  cache.Reallocate(big, SmallBlockCache::kMaxBlockBytes + 1, 0);
  CHECK(cache.cached_bytes() == 0);
}

TEST_CASE("resizing keeps the contents, in place within a class") {
  SmallBlockCache cache;
  auto* p = static_cast<char*>(cache.Reallocate(nullptr, 0, 20));
  std::memcpy(p, "0123456789abcdefghi", 20);
  CHECK(cache.Reallocate(p, 20, 24) == p);  // 1..24 are one class
  auto* grown = static_cast<char*>(cache.Reallocate(p, 24, 300));
  REQUIRE(grown != nullptr);
  CHECK(std::memcmp(grown, "0123456789abcdefghi", 20) == 0);
  auto* shrunk = static_cast<char*>(cache.Reallocate(grown, 300, 30));
  REQUIRE(shrunk != nullptr);
  CHECK(std::memcmp(shrunk, "0123456789abcdefghi", 20) == 0);
  // Freed as a 30-byte block, it must hold a whole class (25..40) for its next user.
  cache.Reallocate(shrunk, 30, 0);
  auto* reused = static_cast<char*>(cache.Reallocate(nullptr, 0, 40));
  if (kCaches) CHECK(reused == shrunk);
  std::memset(reused, 1, 40);
  cache.Reallocate(reused, 40, 0);
}

TEST_CASE("the cache holds at most kMaxBytes; the rest goes back to malloc") {
  SmallBlockCache cache;
  std::vector<void*> blocks;
  size_t count = SmallBlockCache::kMaxBytes / 56 + 1000;
  for (size_t k = 0; k < count; ++k) blocks.push_back(cache.Reallocate(nullptr, 0, 56));
  for (void* block : blocks) cache.Reallocate(block, 56, 0);
  CHECK(cache.cached_bytes() <= SmallBlockCache::kMaxBytes);
  CHECK(cache.cached_bytes() + 56 > SmallBlockCache::kMaxBytes);
  // Taking them all back empties the cache and then asks malloc again.
  blocks.clear();
  for (size_t k = 0; k < count; ++k) blocks.push_back(cache.Reallocate(nullptr, 0, 56));
  CHECK(cache.cached_bytes() == 0);
  for (void* block : blocks) cache.Reallocate(block, 56, 0);
}

TEST_CASE("a class's size takes the same malloc chunk as the exact size") {
  // AddressSanitizer's malloc reports the size asked, not the chunk's; glibc's is measured.
  if (!kCaches) return;
  for (size_t size = 1; size <= SmallBlockCache::kMaxBlockBytes; ++size) {
    void* exact = std::malloc(size);
    void* rounded = std::malloc(SmallBlockCache::ClassBytes(size));
    INFO("size " << size << ", class bytes " << SmallBlockCache::ClassBytes(size));
    CHECK(SmallBlockCache::ClassBytes(size) >= size);
    CHECK(malloc_usable_size(exact) == malloc_usable_size(rounded));
    std::free(exact);
    std::free(rounded);
  }
}

}  // namespace
}  // namespace testrund::ops::sandbox
