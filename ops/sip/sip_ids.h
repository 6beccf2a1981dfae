// SPDX-License-Identifier: Apache-2.0
// The identifiers the daemon writes into the messages it sends (RFC 3261 §8.1.1): Via
// branches (starting with the magic cookie `z9hG4bK`, §8.1.1.7), From/To tags (§19.3) and
// Call-IDs (§8.1.1.4). Each must be unique across space and time: an IdSource mixes a
// random 64-bit prefix, drawn once per source, with a counter, so no two ids of one source
// ever repeat and two sources (two runs, two daemons) collide only if their random
// prefixes do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace testrund::ops::sip {

// The magic cookie that starts every RFC 3261 branch.
constexpr std::string_view kBranchCookie = "z9hG4bK";

class IdSource {
 public:
  // `seed`: the random prefix (tests pass a fixed one; the daemon one from the OS).
  explicit IdSource(uint64_t seed);
  // A source with a prefix from std::random_device.
  static IdSource Random();

  // "z9hG4bK" + 16 hex digits of the prefix + the counter in hex.
  std::string Branch();
  // A tag: 8 hex digits of the prefix + the counter in hex.
  std::string Tag();
  // A Call-ID: 16 hex digits of the prefix + the counter in hex, "@" `host`.
  std::string CallId(std::string_view host);

 private:
  // `head` + the next counter value in hex, `tail` after it.
  std::string Unique(std::string_view head, std::string_view tail = {});
  std::string branch_head_;  // kBranchCookie + 16 hex digits of the prefix
  std::string tag_head_;     // 8 hex digits of the prefix
  uint64_t counter_ = 0;
};

}  // namespace testrund::ops::sip
