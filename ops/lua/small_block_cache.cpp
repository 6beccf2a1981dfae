// SPDX-License-Identifier: Apache-2.0
// Free lists of small Lua blocks by size class (see small_block_cache.h).
#include "ops/lua/small_block_cache.h"

#include <cstdlib>

namespace testrund::ops::sandbox {

SmallBlockCache::~SmallBlockCache() {
  for (FreeBlock* head : free_) {
    while (head != nullptr) {
      FreeBlock* next = head->next;
      std::free(head);
      head = next;
    }
  }
}

void* SmallBlockCache::Take(size_t size) {
  FreeBlock*& head = free_[ClassOf(size)];
  if (head == nullptr) return std::malloc(ClassBytes(size));
  FreeBlock* block = head;
  head = block->next;
  cached_bytes_ -= ClassBytes(size);
  return block;
}

void SmallBlockCache::Give(void* ptr, size_t size) {
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

void* SmallBlockCache::Reallocate(void* ptr, size_t osize, size_t nsize) {
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
