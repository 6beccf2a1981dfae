// SPDX-License-Identifier: Apache-2.0
// Length-prefixed frames (see framed_reader.h).
#include "daemon/framed_reader.h"

#include "ops/base/check.h"

namespace testrund::daemon {

FrameStatus ReadFrame(evbuffer* input, size_t max_body_bytes, std::string* body, uint32_t* length) {
  unsigned char prefix[kFramePrefixBytes];
  if (evbuffer_copyout(input, prefix, sizeof(prefix)) < static_cast<ev_ssize_t>(sizeof(prefix))) {
    return FrameStatus::kNeedMore;
  }
  uint32_t size = (uint32_t{prefix[0]} << 24) | (uint32_t{prefix[1]} << 16) |
                  (uint32_t{prefix[2]} << 8) | uint32_t{prefix[3]};
  *length = size;
  if (size == 0 || size > max_body_bytes) return FrameStatus::kBadLength;
  if (evbuffer_get_length(input) < kFramePrefixBytes + size) return FrameStatus::kNeedMore;
  evbuffer_drain(input, kFramePrefixBytes);
  body->resize(size);
  int removed = evbuffer_remove(input, body->data(), size);
  CHECK(removed == static_cast<int>(size));
  return FrameStatus::kFrame;
}

std::string EncodeFrame(std::string_view body) {
  CHECK(body.size() <= 0xffffffffu);
  uint32_t size = static_cast<uint32_t>(body.size());
  std::string out;
  out.reserve(kFramePrefixBytes + body.size());
  out.push_back(static_cast<char>(size >> 24));
  out.push_back(static_cast<char>(size >> 16));
  out.push_back(static_cast<char>(size >> 8));
  out.push_back(static_cast<char>(size));
  out.append(body);
  return out;
}

}  // namespace testrund::daemon
