// SPDX-License-Identifier: Apache-2.0
// SmallBlockCache: the small blocks that Lua states freed, kept for their next allocations of
// the same size class (docs/performance.md). A run's instances each make and drop a `v` table
// (a 56-byte Table and its hash part). The collector frees a cycle's garbage in one sweep,
// far more blocks than malloc's per-thread cache holds, so most of those frees, and the
// mallocs after them, took malloc's slower paths. Here each is a pop or a push.
//
// Every block is an ordinary malloc block. A small one is asked of malloc at its class's
// size, so a freed block serves any later request of its class. The classes follow glibc's
// 64-bit chunk sizes (24 usable bytes, then 16 more a step), so asking for the class's size
// takes the same chunk as asking for the exact size would: the cache costs no memory in the
// blocks Lua holds. The cache keeps at most kMaxBytes; past that, blocks go back to free().
// One cache serves every Lua state of a thread (the sandbox's allocator, sandbox_budget.cpp),
// so runs reuse each other's freed blocks as they did malloc's. A run's memory limit counts
// only the blocks its Lua state holds, never the cache.
#pragma once

#include <array>
#include <cstddef>
#include <cstdlib>

namespace testrund::ops::sandbox {

class SmallBlockCache {
 public:
  static constexpr size_t kClasses = 8;
  static constexpr size_t kMaxBlockBytes = 24 + 16 * (kClasses - 1);  // 136
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer every block goes back to free(), so that a use of a freed Lua
  // object (a string's bytes kept past its collection) is still reported.
  static constexpr size_t kMaxBytes = 0;
#else
  static constexpr size_t kMaxBytes = 4 * 1024 * 1024;
#endif

  SmallBlockCache() = default;
  ~SmallBlockCache();  // frees the blocks it holds
  SmallBlockCache(const SmallBlockCache&) = delete;
  SmallBlockCache& operator=(const SmallBlockCache&) = delete;

  // Lua's allocator contract (lua_Alloc) without a cap: `ptr` null makes a block of `nsize`
  // bytes, `nsize` 0 frees `ptr` (of `osize` bytes), else resizes it. Null when malloc fails.
  // Inline, with Take and Give: the allocator calls it for every block Lua makes or frees.
  inline void* Reallocate(void* ptr, size_t osize, size_t nsize);

  size_t cached_bytes() const { return cached_bytes_; }

  // The size a block of `size` bytes (1..kMaxBlockBytes) is asked of malloc at: the largest
  // its class holds.
  static size_t ClassBytes(size_t size) { return 24 + 16 * ClassOf(size); }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  static size_t ClassOf(size_t size) { return size <= 24 ? 0 : (size - 24 + 15) / 16; }
  static bool IsSmall(size_t size) { return size > 0 && size <= kMaxBlockBytes; }

  inline void* Take(size_t size);
  inline void Give(void* ptr, size_t size);

  std::array<FreeBlock*, kClasses> free_{};
  size_t cached_bytes_ = 0;
};

inline void* SmallBlockCache::Take(size_t size) {
  FreeBlock*& head = free_[ClassOf(size)];
  if (head == nullptr) return std::malloc(ClassBytes(size));
  FreeBlock* block = head;
  head = block->next;
  cached_bytes_ -= ClassBytes(size);
  return block;
}

inline void SmallBlockCache::Give(void* ptr, size_t size) {
  if (cached_bytes_ + ClassBytes(size) > kMaxBytes) {
    std::free(ptr);
    return;
  }
  // Every class holds at least 24 bytes, room for the link.
  auto* block = static_cast<FreeBlock*>(ptr);
  FreeBlock*& head = free_[ClassOf(size)];
  block->next = head;
  head = block;
  cached_bytes_ += ClassBytes(size);
}

inline void* SmallBlockCache::Reallocate(void* ptr, size_t osize, size_t nsize) {
  if (nsize == 0) {
    if (ptr != nullptr && IsSmall(osize)) {
      Give(ptr, osize);
    } else {
      std::free(ptr);
    }
    return nullptr;
  }
  if (ptr == nullptr) return IsSmall(nsize) ? Take(nsize) : std::malloc(nsize);
  if (IsSmall(osize) && IsSmall(nsize) && ClassOf(osize) == ClassOf(nsize)) return ptr;
  // A small block is asked of malloc at its class's size, so that it can serve its class
  // once freed; realloc keeps the contents up to the smaller size.
  return std::realloc(ptr, IsSmall(nsize) ? ClassBytes(nsize) : nsize);
}

}  // namespace testrund::ops::sandbox
