// SPDX-License-Identifier: Apache-2.0
// A SIP message (RFC 3261 §7) as the sip.* ops see it: a request (method, Request-URI) or a
// response (status, reason), its header fields in the order they came, and its body — and
// the one parser and one writer of it. The parser faces the system under test, so it
// trusts nothing: every refusal names the byte offset where the message stopped being SIP
// (docs/protocol-ops.md#sip), and a message is at most kMaxMessageBytes.
//
// What the parser accepts: a start line and header lines ended by CRLF (a lone LF is taken
// as a line end too), header lines folded onto the next line (RFC 3261 §7.3.1: a line
// starting with a space or tab continues the previous one), compact header names (`i`,
// `v`, `l`, ... §7.3.3), empty lines before the start line on a stream (§7.5), and a body
// of Content-Length bytes. Over UDP a message without Content-Length has the rest of the
// datagram as its body; a datagram holding more than Content-Length bytes after the
// headers has the excess ignored (§18.3). Over TCP the Content-Length says where the next
// message begins; a message without one has no body.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace testrund::ops::sip {

// The protocol version of every start line.
constexpr std::string_view kVersion = "SIP/2.0";
// The largest message (start line, headers and body) taken or sent, in bytes.
constexpr size_t kMaxMessageBytes = 64 * 1024;
// The most header lines one message may have.
constexpr size_t kMaxHeaders = 256;

struct Header {
  std::string name;   // as written ("v", "VIA", "Call-ID")
  std::string value;  // without the surrounding whitespace; folded lines joined by a space
};

struct Message {
  bool is_request = true;
  std::string method;  // requests: INVITE, ACK, ... (case as given)
  std::string uri;     // requests: the Request-URI
  int status = 0;      // responses: 100-699
  std::string reason;  // responses: the Reason-Phrase (may be empty)
  std::vector<Header> headers;
  std::string body;

  // The value of the first header named `name` (any case, compact or full form), or
  // nullptr.
  const std::string* Find(std::string_view name) const;
  // Every value of the headers named `name`, in order.
  std::vector<std::string_view> FindAll(std::string_view name) const;
  // Whether a header named `name` is present.
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
};

// How a message is delimited: a whole UDP datagram, or the next message of a TCP stream.
enum class Framing { kDatagram, kStream };

struct ParseResult {
  enum class Kind {
    kMessage,    // `message` was read from the first `consumed` bytes
    kNeedMore,   // a stream holds only the start of a message so far (never for datagrams)
    kMalformed,  // not SIP: `error` says why, at byte `offset` of the input
  };
  Kind kind = Kind::kMalformed;
  Message message;
  size_t consumed = 0;
  size_t offset = 0;
  std::string error;
  // "<error> at byte <offset>", the text an abort or a count's reason shows.
  std::string ErrorText() const;
};

// Reads one message from the start of `bytes`. Never reads past `bytes`; refuses a message
// over kMaxMessageBytes (offset: where the limit was crossed).
ParseResult Parse(std::string_view bytes, Framing framing);

// The message as bytes: start line, the headers in order as given, an empty line, the
// body (through MessageWriter, sip_writer.h, with no user fields). Writes no header of its
// own, Content-Length included.
std::string Serialize(const Message& message);

}  // namespace testrund::ops::sip
