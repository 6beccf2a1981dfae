// SPDX-License-Identifier: Apache-2.0
// Unique branches, tags and Call-IDs (see sip_ids.h).
#include "ops/sip/sip_ids.h"

#include <fmt/format.h>

#include <random>

namespace testrund::ops::sip {

IdSource IdSource::Random() {
  std::random_device device;
  uint64_t seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  return IdSource(seed);
}

std::string IdSource::Unique(size_t prefix_digits) {
  uint64_t prefix = prefix_digits >= 16 ? prefix_ : prefix_ >> (64 - 4 * prefix_digits);
  return fmt::format("{:0{}x}{:x}", prefix, prefix_digits, counter_++);
}

std::string IdSource::Branch() { return fmt::format("{}{}", kBranchCookie, Unique(16)); }

std::string IdSource::Tag() { return Unique(8); }

std::string IdSource::CallId(std::string_view host) {
  return fmt::format("{}@{}", Unique(16), host);
}

}  // namespace testrund::ops::sip
