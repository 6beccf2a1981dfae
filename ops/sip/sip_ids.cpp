// SPDX-License-Identifier: Apache-2.0
// Unique branches, tags and Call-IDs (see sip_ids.h).
#include "ops/sip/sip_ids.h"

#include <random>

namespace testrund::ops::sip {

IdSource IdSource::Random() {
  std::random_device device;
  uint64_t seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  return IdSource(seed);
}

namespace {

// `value`'s lowest `digits` hex digits, zero-padded, appended to `out` (by hand: fmt's
// "{:0Nx}" showed in a SIP call's profile, which makes three ids per call).
void AppendHex(uint64_t value, size_t digits, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t k = digits; k-- > 0;) out += kDigits[(value >> (4 * k)) & 0xf];
}

// The counter in hex, without leading zeros ("0" for 0).
void AppendCounter(uint64_t value, std::string& out) {
  size_t digits = 1;
  while (digits < 16 && (value >> (4 * digits)) != 0) ++digits;
  AppendHex(value, digits, out);
}

}  // namespace

IdSource::IdSource(uint64_t seed) : branch_head_(kBranchCookie) {
  AppendHex(seed, 16, branch_head_);
  AppendHex(seed >> 32, 8, tag_head_);
}

std::string IdSource::Unique(std::string_view head, std::string_view tail) {
  std::string out;
  out.reserve(head.size() + 16 + tail.size());
  out += head;
  AppendCounter(counter_++, out);
  out += tail;
  return out;
}

std::string IdSource::Branch() { return Unique(branch_head_); }

std::string IdSource::Tag() { return Unique(tag_head_); }

std::string IdSource::CallId(std::string_view host) {
  std::string out = Unique(std::string_view(branch_head_).substr(kBranchCookie.size()), "@");
  out += host;
  return out;
}

}  // namespace testrund::ops::sip
