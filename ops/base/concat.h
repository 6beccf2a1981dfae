// SPDX-License-Identifier: Apache-2.0
// Concat: strings joined into one, sized once. For texts built on every message of a hot
// path (a SIP message's headers), where fmt::format's parsing of its format string was a
// visible share of the cost; error texts keep fmt.
#pragma once

#include <string>
#include <string_view>

namespace testrund::ops {

template <typename... Parts>
std::string Concat(const Parts&... parts) {
  const std::string_view views[] = {std::string_view(parts)...};
  size_t size = 0;
  for (std::string_view v : views) size += v.size();
  std::string out;
  out.reserve(size);
  for (std::string_view v : views) out += v;
  return out;
}

}  // namespace testrund::ops
