// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the HTTP request framing of the daemon (daemon/http_framing). The input
// is four bytes of settings, then the byte stream a client sends: byte 0 chooses
// max_header_bytes, byte 1 max_body_bytes, bytes 2-3 a split point. The stream is parsed
// twice, as a connection does (feed, take each request, feed the rest): once whole, once
// in two chunks cut at the split point, as TCP may deliver it.
// Oracles: both parses yield the same requests and end the same way (incremental parsing
// changes nothing, but for 400 vs. 431 on headers both too long and malformed); kNeedMore consumed everything it was given and no Feed consumes more;
// a request is complete (not in_request(), no pending 100-continue) with a method and a
// path, a body only for POST and never over the limit; an error is 400, 413 or 431 with a
// reason, and the parser stays dead after it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/http_framing.h"
#include "test/fuzz/fuzz_support.h"

namespace {

using testrund::daemon::HttpRequest;
using testrund::daemon::HttpRequestParser;
using testrund::fuzz::Fail;

struct Limits {
  size_t max_header;
  size_t max_body;
};

// How a parse ended, and every request it produced on the way.
struct Outcome {
  std::vector<HttpRequest> requests;
  int error_status = 0;  // 0: it needs more bytes
  std::string error_reason;
};

// One request as text, for the oracle's message.
std::string Describe(const HttpRequest& r) {
  return r.method + " " + r.path + " keep_alive=" + (r.keep_alive ? "1" : "0") +
         " authorization=" + r.authorization + " body=" + r.body;
}

void CheckRequest(const HttpRequest& r, const Limits& limits) {
  if (r.method.empty()) Fail("a request without a method", Describe(r));
  if (r.path.empty()) Fail("a request without a path", Describe(r));
  if (r.method != "POST" && !r.body.empty()) Fail("a body kept for a non-POST", Describe(r));
  if (r.body.size() > limits.max_body) Fail("a body over max_body_bytes", Describe(r));
}

// Feeds `chunk` to `parser` the way Connection::HandleHttp does, until it is used up, the
// parser needs more, or the stream is bad. Returns false after an error.
bool FeedChunk(HttpRequestParser& parser, std::string_view chunk, const Limits& limits,
               Outcome* out) {
  while (!chunk.empty()) {
    HttpRequestParser::FeedResult result = parser.Feed(chunk.data(), chunk.size());
    if (result.consumed > chunk.size()) Fail("consumed more than it was given", chunk);
    switch (result.state) {
      case HttpRequestParser::State::kNeedMore:
        if (result.consumed != chunk.size()) Fail("kNeedMore left bytes unconsumed", chunk);
        parser.TakeContinueRequest();
        return true;
      case HttpRequestParser::State::kRequest: {
        if (parser.in_request()) Fail("in_request() after a complete request", chunk);
        if (parser.TakeContinueRequest()) Fail("100-continue pending after the body", chunk);
        HttpRequest request = parser.TakeRequest();
        CheckRequest(request, limits);
        out->requests.push_back(std::move(request));
        chunk.remove_prefix(result.consumed);
        break;
      }
      case HttpRequestParser::State::kError: {
        int status = parser.error_status();
        if (status != 400 && status != 413 && status != 431) {
          Fail("an error status other than 400, 413, 431", parser.error_reason());
        }
        if (parser.error_reason().empty()) Fail("an error without a reason", chunk);
        HttpRequestParser::FeedResult again = parser.Feed(chunk.data(), chunk.size());
        if (again.state != HttpRequestParser::State::kError || again.consumed != 0 ||
            parser.error_status() != status) {
          Fail("the parser came back to life after an error", chunk);
        }
        out->error_status = status;
        out->error_reason = parser.error_reason();
        return false;
      }
    }
  }
  return true;
}

Outcome Parse(std::string_view stream, size_t split, const Limits& limits) {
  HttpRequestParser parser(limits.max_header, limits.max_body);
  Outcome out;
  if (FeedChunk(parser, stream.substr(0, split), limits, &out)) {
    FeedChunk(parser, stream.substr(split), limits, &out);
  }
  return out;
}

bool SameRequest(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.path == b.path && a.authorization == b.authorization &&
         a.body == b.body && a.keep_alive == b.keep_alive;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const Limits limits{64 + static_cast<size_t>(data[0]) * 16,
                      static_cast<size_t>(data[1]) * 16};
  std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);
  const size_t split = ((static_cast<size_t>(data[2]) << 8) | data[3]) % (stream.size() + 1);

  Outcome whole = Parse(stream, stream.size(), limits);
  Outcome pieces = Parse(stream, split, limits);
  if (whole.requests.size() != pieces.requests.size()) {
    Fail("split parsing found a different number of requests", stream);
  }
  for (size_t i = 0; i < whole.requests.size(); ++i) {
    if (!SameRequest(whole.requests[i], pieces.requests[i])) {
      Fail("split parsing changed a request", Describe(pieces.requests[i]));
    }
  }
  // One exception: headers both over max_header_bytes and malformed past the limit earn 431
  // or 400 depending on where a chunk ends, because libhttp-parser checks the header size
  // at the end of each run of header bytes it scans (corpus/http_framing/
  // oversized_and_malformed.bin). Either closes the connection; nothing else may differ.
  bool both_errors_oversized = (whole.error_status == 400 && pieces.error_status == 431) ||
                               (whole.error_status == 431 && pieces.error_status == 400);
  if (whole.error_status != pieces.error_status && !both_errors_oversized) {
    Fail("split parsing ended differently", whole.error_reason + " | " + pieces.error_reason);
  }
  return 0;
}
