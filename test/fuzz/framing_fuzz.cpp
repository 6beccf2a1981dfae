// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the length-prefixed framing reader (daemon/framed_reader). The input
// is a byte stream a client sends; the first byte chooses how it arrives (in pieces of 1
// to 64 bytes, as TCP may deliver it) and the second the body limit. After every piece the
// target reads frames as a connection does, until one is incomplete or bad.
// Oracles: a frame's body has exactly its prefix's length, nothing is lost or invented
// (every frame re-encoded with EncodeFrame equals the bytes it was read from), a bad
// length is 0 or over the limit, and kNeedMore leaves the buffer untouched.
#include <event2/buffer.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/framed_reader.h"
#include "test/fuzz/fuzz_support.h"

namespace {

using namespace testrund;

struct EvbufferFree {
  void operator()(evbuffer* b) const { evbuffer_free(b); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t piece = 1 + data[0] % 64;
  const size_t max_body = 1 + static_cast<size_t>(data[1]) * 16;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::unique_ptr<evbuffer, EvbufferFree> input(evbuffer_new());
  size_t fed = 0;
  size_t consumed = 0;  // stream bytes taken out as frames
  std::string body;
  while (fed < stream.size()) {
    size_t n = std::min(piece, stream.size() - fed);
    evbuffer_add(input.get(), stream.data() + fed, n);
    fed += n;
    for (;;) {
      uint32_t length = 0;
      size_t before = evbuffer_get_length(input.get());
      daemon::FrameStatus status = daemon::ReadFrame(input.get(), max_body, &body, &length);
      if (status == daemon::FrameStatus::kNeedMore) {
        if (evbuffer_get_length(input.get()) != before) fuzz::Fail("kNeedMore consumed", "");
        break;
      }
      if (status == daemon::FrameStatus::kBadLength) {
        if (length != 0 && length <= max_body) fuzz::Fail("kBadLength for a good length", "");
        return 0;  // the connection answers -32700 and closes
      }
      if (body.size() != length) fuzz::Fail("body length differs from its prefix", body);
      std::string frame = ops::EncodeFrame(body);
      if (stream.substr(consumed, frame.size()) != frame) {
        fuzz::Fail("frame differs from the bytes it was read from", body);
      }
      consumed += frame.size();
      if (evbuffer_get_length(input.get()) != fed - consumed) fuzz::Fail("bytes lost", body);
    }
  }
  return 0;
}
