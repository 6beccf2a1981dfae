// SPDX-License-Identifier: Apache-2.0
// UTF-8 validation and repair for text that came from outside (Lua strings, peer bytes,
// error texts) and must be written into JSON, which is UTF-8. Well-formed means Unicode
// §3.9 Table 3-7: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF. NUL is a well-formed character like any other.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace testrund::ops {

// The length of the longest well-formed UTF-8 prefix of `text`: text.size() when all of
// `text` is well-formed. Pure ASCII runs are scanned eight bytes at a time.
size_t ValidUtf8Prefix(std::string_view text);

// `text` with each maximal subpart of an ill-formed sequence replaced by one U+FFFD (the
// Unicode "U+FFFD substitution of maximal subparts" practice): "\xE2\x82" (a truncated
// euro sign) becomes one U+FFFD, "\xFF\xFE" two. Well-formed text comes back unchanged.
std::string RepairUtf8(std::string_view text);

}  // namespace testrund::ops
