// SPDX-License-Identifier: Apache-2.0
// Big-endian length prefixes: the N2SVCD framing (a 4-byte unsigned length, then that many
// bytes of JSON; docs/api.md#1-transports), spoken by the daemon's framed transport and the
// jsonrpc op's tcp:// and tls:// client, and the 1-, 2- or 4-byte prefixes of tcp.receive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace testrund::ops {

// The N2SVCD frame prefix.
constexpr size_t kFramePrefixBytes = 4;

// `body` with its 4-byte big-endian length in front. `body` must be shorter than 4 GiB.
std::string EncodeFrame(std::string_view body);

// The unsigned big-endian number held by `bytes` (at most 8 of them).
uint64_t ReadBigEndian(const unsigned char* bytes, size_t count);

}  // namespace testrund::ops
