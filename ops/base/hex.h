// SPDX-License-Identifier: Apache-2.0
// Hex text of bytes: how traces show protocol messages and how tcp/udp payloads and
// expectations are written in definitions.
#pragma once

#include <string>
#include <string_view>

namespace testrund::ops {

// Lower-case hex of `bytes` ("0a1b").
std::string HexEncode(std::string_view bytes);
// Decodes hex digits (either case); false when `hex` has an odd length or a non-hex digit
// (then *out is untouched).
bool HexDecode(std::string_view hex, std::string* out);

}  // namespace testrund::ops
