// SPDX-License-Identifier: Apache-2.0
// Length-prefixed frames (see framed_reader.h).
#include "daemon/framed_reader.h"

#include "ops/base/check.h"

namespace testrund::daemon {

FrameStatus ReadFrame(evbuffer* input, size_t max_body_bytes, std::string* body, uint32_t* length) {
  unsigned char prefix[ops::kFramePrefixBytes];
  if (evbuffer_copyout(input, prefix, sizeof(prefix)) < static_cast<ev_ssize_t>(sizeof(prefix))) {
    return FrameStatus::kNeedMore;
  }
  auto size = static_cast<uint32_t>(ops::ReadBigEndian(prefix, sizeof(prefix)));
  *length = size;
  if (size == 0 || size > max_body_bytes) return FrameStatus::kBadLength;
  if (evbuffer_get_length(input) < ops::kFramePrefixBytes + size) return FrameStatus::kNeedMore;
  evbuffer_drain(input, ops::kFramePrefixBytes);
  body->resize(size);
  int removed = evbuffer_remove(input, body->data(), size);
  CHECK(removed == static_cast<int>(size));
  return FrameStatus::kFrame;
}

}  // namespace testrund::daemon
