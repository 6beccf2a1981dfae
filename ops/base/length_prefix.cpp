// SPDX-License-Identifier: Apache-2.0
// Big-endian length prefixes (see length_prefix.h).
#include "ops/base/length_prefix.h"

#include "ops/base/check.h"

namespace testrund::ops {

std::string EncodeFrame(std::string_view body) {
  CHECK(body.size() <= 0xffffffffu);
  auto size = static_cast<uint32_t>(body.size());
  std::string out;
  out.reserve(kFramePrefixBytes + body.size());
  out.push_back(static_cast<char>(size >> 24));
  out.push_back(static_cast<char>(size >> 16));
  out.push_back(static_cast<char>(size >> 8));
  out.push_back(static_cast<char>(size));
  out.append(body);
  return out;
}

uint64_t ReadBigEndian(const unsigned char* bytes, size_t count) {
  CHECK(count <= 8);
  uint64_t value = 0;
  for (size_t i = 0; i < count; ++i) value = (value << 8) | bytes[i];
  return value;
}

}  // namespace testrund::ops
