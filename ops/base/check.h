// SPDX-License-Identifier: Apache-2.0
// CHECK(cond): a fatal invariant check. For programming errors only, never for input
// validation (input errors are Status values or JSON-RPC errors).
#pragma once

#include <cstdio>
#include <cstdlib>

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
