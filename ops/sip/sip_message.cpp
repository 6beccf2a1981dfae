// SPDX-License-Identifier: Apache-2.0
// The SIP message parser and writer (see sip_message.h).
#include "ops/sip/sip_message.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <optional>

#include "ops/sip/sip_headers.h"
#include "ops/sip/sip_writer.h"

namespace testrund::ops::sip {

const std::string* Message::Find(std::string_view name) const {
  for (const Header& header : headers) {
    if (SameName(header.name, name)) return &header.value;
  }
  return nullptr;
}

std::vector<std::string_view> Message::FindAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const Header& header : headers) {
    if (SameName(header.name, name)) out.push_back(header.value);
  }
  return out;
}

std::string ParseResult::ErrorText() const { return fmt::format("{} at byte {}", error, offset); }

namespace {

// RFC 3261 §25.1 token characters, as a table: the parser checks every byte of every
// header name (std::isalnum and a search per byte showed in its callgrind profile).
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("-.!%*_+`'~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

bool IsTokenChar(char c) { return kTokenChars[static_cast<unsigned char>(c)]; }

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Characters a start line or header value may hold: no control character but HTAB
// (UTF-8 bytes are fine).
bool IsTextChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}


// Reads a message head line by line. A line is the bytes up to CRLF (or a lone LF).
class HeadReader {
 public:
  HeadReader(std::string_view bytes, size_t limit) : bytes_(bytes), limit_(limit) {}

  // The next line without its end, or nullopt when no line end is within the input (or the
  // limit). *start is the offset of the line.
  std::optional<std::string_view> Line(size_t* start) {
    size_t end = bytes_.find('\n', at_);
    if (end == std::string_view::npos || end >= limit_) return std::nullopt;
    *start = at_;
    size_t content_end = end > at_ && bytes_[end - 1] == '\r' ? end - 1 : end;
    std::string_view line = bytes_.substr(at_, content_end - at_);
    at_ = end + 1;
    return line;
  }
  // Whether the next line starts with a space or tab (a folded continuation).
  bool NextIsContinuation() const {
    return at_ < bytes_.size() && (bytes_[at_] == ' ' || bytes_[at_] == '\t');
  }
  size_t at() const { return at_; }
  void Skip(size_t n) { at_ += n; }

 private:
  std::string_view bytes_;
  size_t limit_;
  size_t at_ = 0;
};

ParseResult Malformed(size_t offset, std::string error) {
  ParseResult out;
  out.kind = ParseResult::Kind::kMalformed;
  out.offset = offset;
  out.error = std::move(error);
  return out;
}

// The offset of the first character of `line` (at `start`) that is not text, or npos.
size_t BadCharAt(std::string_view line) {
  for (size_t k = 0; k < line.size(); ++k) {
    if (!IsTextChar(line[k])) return k;
  }
  return std::string_view::npos;
}

// Reads the start line into `message`; an error names its offset.
std::optional<ParseResult> ReadStartLine(std::string_view line, size_t start, Message* message) {
  if (size_t bad = BadCharAt(line); bad != std::string_view::npos) {
    return Malformed(start + bad, "a control character in the start line");
  }
  size_t first = line.find(' ');
  if (first == std::string_view::npos) {
    return Malformed(start, "the start line is neither a request line nor a status line");
  }
  if (line.substr(0, first) == kVersion) {
    message->is_request = false;
    std::string_view code = line.substr(first + 1, 3);
    size_t code_at = start + first + 1;
    if (code.size() != 3 || !std::isdigit(static_cast<unsigned char>(code[0])) ||
        !std::isdigit(static_cast<unsigned char>(code[1])) ||
        !std::isdigit(static_cast<unsigned char>(code[2]))) {
      return Malformed(code_at, "a status code must be 3 digits");
    }
    int status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if (status < 100 || status > 699) {
      return Malformed(code_at, fmt::format("status code {} is outside 100-699", status));
    }
    std::string_view rest = line.substr(first + 4);
    if (!rest.empty() && rest.front() != ' ') {
      return Malformed(code_at + 3, "a status code must be followed by a space");
    }
    message->status = status;
    message->reason = std::string(TrimWhitespace(rest));
    return std::nullopt;
  }
  message->is_request = true;
  std::string_view method = line.substr(0, first);
  if (!IsToken(method)) return Malformed(start, "a request method must be a token");
  size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos || second == first + 1) {
    return Malformed(start + first + 1, "a request line needs a Request-URI and SIP/2.0");
  }
  std::string_view version = line.substr(second + 1);
  if (version != kVersion) {
    return Malformed(start + second + 1, "the request line must end with SIP/2.0");
  }
  message->method = std::string(method);
  message->uri = std::string(line.substr(first + 1, second - first - 1));
  return std::nullopt;
}

std::optional<size_t> ParseLength(std::string_view value) {
  if (value.empty() || value.size() > 9) return std::nullopt;
  size_t n = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (error != std::errc() || end != value.data() + value.size()) return std::nullopt;
  return n;
}

}  // namespace

ParseResult Parse(std::string_view bytes, Framing framing) {
  const bool stream = framing == Framing::kStream;
  if (!stream && bytes.size() > kMaxMessageBytes) {
    return Malformed(kMaxMessageBytes,
                     fmt::format("a message of {} bytes is over the {}-byte limit", bytes.size(),
                                 kMaxMessageBytes));
  }
  size_t leading = 0;
  if (stream) {
    // RFC 3261 §7.5: empty lines before a start line on a stream are keep-alives.
    while (leading < bytes.size() && (bytes[leading] == '\r' || bytes[leading] == '\n')) ++leading;
  }
  std::string_view message_bytes = bytes.substr(leading);
  const size_t limit = std::min(message_bytes.size(), kMaxMessageBytes);
  HeadReader reader(message_bytes, limit);
  ParseResult out;
  Message& message = out.message;
  message.headers.reserve(16);  // a call's messages have 7-12 headers

  // A stream that has not yet brought a whole head waits, unless it already passed the
  // limit; a datagram without one is malformed.
  auto incomplete = [&](size_t at) -> ParseResult {
    if (stream && message_bytes.size() < kMaxMessageBytes) {
      ParseResult more;
      more.kind = ParseResult::Kind::kNeedMore;
      return more;
    }
    if (message_bytes.size() >= kMaxMessageBytes) {
      return Malformed(
          leading + kMaxMessageBytes,
          fmt::format("no end of the headers within the {}-byte limit", kMaxMessageBytes));
    }
    return Malformed(leading + at, "the message ends before the empty line after its headers");
  };

  size_t start = 0;
  size_t content_length_at = 0;  // where the first Content-Length header starts
  std::optional<std::string_view> line = reader.Line(&start);
  if (!line) return incomplete(message_bytes.size());
  if (line->empty()) return Malformed(leading, "an empty line where the start line should be");
  if (auto error = ReadStartLine(*line, leading + start, &message)) return *error;

  for (;;) {
    line = reader.Line(&start);
    if (!line) return incomplete(message_bytes.size());
    if (line->empty()) break;
    const size_t at = leading + start;
    if ((*line)[0] == ' ' || (*line)[0] == '\t') {
      return Malformed(at, "a continuation line before the first header");
    }
    // Folded lines continue this header (RFC 3261 §7.3.1); they are joined in a copy, an
    // unfolded header (nearly all) is read where it is.
    std::string folded;
    std::string_view joined = *line;
    while (reader.NextIsContinuation()) {
      size_t next_start = 0;
      std::optional<std::string_view> next = reader.Line(&next_start);
      if (!next) return incomplete(message_bytes.size());
      if (folded.empty()) folded = *line;
      folded += ' ';
      folded += TrimWhitespace(*next);
      joined = folded;
    }
    if (size_t bad = BadCharAt(joined); bad != std::string_view::npos && bad < line->size()) {
      return Malformed(at + bad, "a control character in a header");
    } else if (bad != std::string_view::npos) {
      return Malformed(at, "a control character in a folded header");
    }
    size_t colon = joined.find(':');
    if (colon == std::string_view::npos) return Malformed(at, "a header line without a colon");
    std::string_view name = TrimWhitespace(joined.substr(0, colon));
    if (!IsToken(name)) return Malformed(at, "a header name must be a token");
    if (content_length_at == 0 && SameName(name, "Content-Length")) content_length_at = at;
    if (message.headers.size() == kMaxHeaders) {
      return Malformed(at, fmt::format("more than {} headers", kMaxHeaders));
    }
    message.headers.push_back(
        {std::string(name), std::string(TrimWhitespace(joined.substr(colon + 1)))});
  }

  const size_t body_at = reader.at();
  std::string_view after = message_bytes.substr(body_at);
  std::optional<size_t> length;
  if (const std::string* value = message.Find("Content-Length")) {
    length = ParseLength(*value);
    if (!length) {
      return Malformed(
          content_length_at,
          fmt::format("Content-Length \"{}\" is not a number of bytes", value->substr(0, 40)));
    }
  }
  size_t body_length = length.value_or(stream ? 0 : after.size());
  if (body_at + body_length > kMaxMessageBytes) {
    return Malformed(leading + body_at,
                     fmt::format("a body of {} bytes makes the message longer than the {}-byte "
                                 "limit",
                                 body_length, kMaxMessageBytes));
  }
  if (body_length > after.size()) {
    if (stream) {
      ParseResult more;
      more.kind = ParseResult::Kind::kNeedMore;
      return more;
    }
    return Malformed(leading + body_at + after.size(),
                     fmt::format("Content-Length {} but only {} bytes follow the headers",
                                 body_length, after.size()));
  }
  message.body = std::string(after.substr(0, body_length));
  out.kind = ParseResult::Kind::kMessage;
  out.consumed = stream ? leading + body_at + body_length : bytes.size();
  return out;
}

std::string Serialize(const Message& message) {
  static const std::vector<Header> kNoUserFields;
  MessageWriter writer(kNoUserFields, message.body.size());
  if (message.is_request) {
    writer.RequestLine(message.method, message.uri);
  } else {
    writer.StatusLine(message.status, message.reason);
  }
  for (const Header& header : message.headers) writer.Field(header.name, header.value);
  return writer.Finish(message.body);
}

}  // namespace testrund::ops::sip
