// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the SIP message parser (ops/sip/sip_message), which reads what the
// system under test sends. The first byte picks the framing (even: a UDP datagram, odd: a
// TCP stream read message by message as the sip ops read it); the rest is the bytes. Each
// message read is written back (Serialize) and read again, and its header fields are read
// as the ops read them (Call-ID, CSeq, the top Via's branch, the tags, Contact's URI and
// its host and port).
// Oracles: no crash, leak or sanitizer report; a datagram is never "need more"; a stream
// advances (consumed > 0) and never past its bytes; a malformed result has an error and an
// offset within the input (or at the 64 KiB limit); a message is at most 64 KiB; its own
// serialization reads back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ops/sip/sip_headers.h"
#include "ops/sip/sip_message.h"

namespace {

using namespace testrund::ops::sip;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz oracle: %s\n", what);
  std::abort();
}

// Reads the fields the ops read; the values are only touched so the sanitizers see them.
size_t ReadFields(const Message& m) {
  size_t touched = 0;
  if (const std::string* v = m.Find("Call-ID")) touched += v->size();
  if (const std::string* v = m.Find("CSeq")) {
    if (auto cseq = ParseCSeq(*v)) touched += cseq->method.size();
  }
  if (const std::string* v = m.Find("Via")) {
    if (auto branch = Param(TopVia(*v), "branch")) touched += branch->size();
  }
  for (const char* name : {"From", "To"}) {
    if (const std::string* v = m.Find(name)) {
      if (auto tag = Param(*v, "tag")) touched += tag->size();
    }
  }
  if (const std::string* v = m.Find("Contact")) {
    if (auto hp = UriHostPort(AddressUri(*v))) touched += hp->host.size() + hp->port;
  }
  if (m.is_request) {
    if (auto hp = UriHostPort(m.uri)) touched += hp->host.size();
  }
  return touched;
}

void CheckMessage(const ParseResult& r) {
  if (r.consumed == 0) Fail("a message that consumed nothing");
  std::string bytes = Serialize(r.message);
  ParseResult again = Parse(bytes, Framing::kDatagram);
  // A message written back may exceed the limit only by what the writer normalizes
  // ("Name: value" for "Name:value", CRLF for LF, a dropped keep-alive): not re-read then.
  if (bytes.size() > kMaxMessageBytes) return;
  if (again.kind != ParseResult::Kind::kMessage) Fail("a message's own bytes are refused");
  if (Serialize(again.message) != bytes) Fail("a message reads back differently");
  ReadFields(r.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool stream = (data[0] & 1) != 0;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!stream) {
    ParseResult r = Parse(bytes, Framing::kDatagram);
    if (r.kind == ParseResult::Kind::kNeedMore) Fail("a datagram needs more");
    if (r.kind == ParseResult::Kind::kMalformed) {
      if (r.error.empty()) Fail("a refusal without an error");
      if (r.offset > bytes.size() && r.offset != kMaxMessageBytes) Fail("an offset past the input");
      return 0;
    }
    if (r.consumed != bytes.size()) Fail("a datagram not consumed whole");
    CheckMessage(r);
    return 0;
  }
  while (!bytes.empty()) {
    ParseResult r = Parse(bytes, Framing::kStream);
    if (r.kind == ParseResult::Kind::kNeedMore) return 0;
    if (r.kind == ParseResult::Kind::kMalformed) {
      if (r.error.empty()) Fail("a refusal without an error");
      if (r.offset > bytes.size()) Fail("an offset past the input");
      return 0;
    }
    if (r.consumed > bytes.size()) Fail("consumed past the input");
    CheckMessage(r);
    bytes.remove_prefix(r.consumed);
  }
  return 0;
}
