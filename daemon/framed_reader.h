// SPDX-License-Identifier: Apache-2.0
// The length-prefixed (N2SVCD) framing of docs/api.md#1-transports: a 4-byte unsigned big-endian
// length, then exactly that many bytes of JSON. Reads one frame from a libevent input buffer and
// responses are encoded with ops::EncodeFrame (ops/base/length_prefix.h).
#pragma once

#include <event2/buffer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ops/base/length_prefix.h"

namespace testrund::daemon {

enum class FrameStatus {
  kNeedMore,   // the prefix or the body is incomplete; nothing was removed
  kFrame,      // `*body` holds the frame's body; prefix and body were removed
  kBadLength,  // the prefix is 0 or over the limit; `*length` holds it
};

// Reads one frame from `input` when it is complete. `max_body_bytes` is the largest
// length accepted.
FrameStatus ReadFrame(evbuffer* input, size_t max_body_bytes, std::string* body, uint32_t* length);

}  // namespace testrund::daemon
