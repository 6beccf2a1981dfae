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

}  // namespace testrund::ops::sandbox
