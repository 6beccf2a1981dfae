// SPDX-License-Identifier: Apache-2.0
// ParseJson: RapidJSON's iterative reader feeding the document through a handler that
// counts nesting and stops the parse past the limit (see json_parse.h).
#include "rpc/json_parse.h"

#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace testrund::rpc {
namespace {

constexpr unsigned kAsciiFlags = rapidjson::kParseIterativeFlag;
constexpr unsigned kUtf8Flags = kAsciiFlags | rapidjson::kParseValidateEncodingFlag;

// Most bodies are pure ASCII, which is valid UTF-8: they skip the per-character
// validation. Eight bytes at a time.
bool IsAscii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t any = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    any |= w;
  }
  for (; n > 0; ++p, --n) any |= static_cast<unsigned char>(*p);
  return (any & 0x8080808080808080ull) == 0;
}

// RapidJSON decodes a `\uDC00`..`\uDFFF` escape that follows no high surrogate into the
// UTF-8 form of a surrogate (0xED 0xB0..0xBF ...), which is not UTF-8 at all: every other
// surrogate mistake it rejects itself. Raw input bytes never get here in that form (they
// are validated), so finding one in a decoded string means a lone low surrogate escape.
bool HasEncodedSurrogate(const char* s, size_t n) {
  const char* end = s + n;
  for (const char* p = s; p < end; ++p) {
    p = static_cast<const char*>(std::memchr(p, 0xED, static_cast<size_t>(end - p)));
    if (p == nullptr) return false;
    if (end - p >= 2 && static_cast<unsigned char>(p[1]) >= 0xA0) return true;
  }
  return false;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The \uXXXX escape at `text[i]` (a backslash), or -1 when there is none.
long EscapedCodeUnit(std::string_view text, size_t i) {
  if (i + 6 > text.size() || text[i + 1] != 'u') return -1;
  long unit = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    int d = HexDigit(text[k]);
    if (d < 0) return -1;
    unit = unit * 16 + d;
  }
  return unit;
}

// Offset of the lone low surrogate escape in the string (or member name) that ends just
// before `end` (RapidJSON stops right after its closing quote), as RapidJSON reports its
// own surrogate errors: at the backslash. `end` itself when it cannot be found.
size_t LoneSurrogateOffset(std::string_view text, size_t end) {
  if (end < 2 || end > text.size()) return end;
  size_t close = end - 1;
  // The opening quote: the nearest earlier quote not escaped by an odd run of backslashes.
  size_t open = close;
  while (open-- > 0) {
    if (text[open] != '"') continue;
    size_t backslashes = 0;
    while (backslashes < open && text[open - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) break;
  }
  if (open >= close) return end;
  for (size_t i = open + 1; i < close; ++i) {
    if (text[i] != '\\') continue;
    long unit = EscapedCodeUnit(text, i);
    if (unit >= 0xDC00 && unit <= 0xDFFF) return i;
    if (unit >= 0xD800 && unit <= 0xDBFF) i += 6;  // its low half follows: skip it
    ++i;  // the escaped character
  }
  return end;
}

// Forwards every SAX event to the document, refusing to open a container past the limit
// and a string holding a lone surrogate.
class DepthLimitedHandler {
 public:
  DepthLimitedHandler(rapidjson::Document& doc, size_t max_depth)
      : doc_(doc), max_depth_(max_depth) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return CheckSurrogates(s, n) && doc_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return CheckSurrogates(s, n) && doc_.Key(s, n, copy);
  }
  bool StartObject() { return Enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return doc_.EndObject(members);
  }
  bool StartArray() { return Enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return doc_.EndArray(elements);
  }

  bool too_deep() const { return too_deep_; }
  bool lone_surrogate() const { return lone_surrogate_; }

 private:
  bool CheckSurrogates(const char* s, size_t n) {
    if (HasEncodedSurrogate(s, n)) lone_surrogate_ = true;
    return !lone_surrogate_;
  }
  bool Enter() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  rapidjson::Document& doc_;
  size_t max_depth_;
  size_t depth_ = 0;
  bool too_deep_ = false;
  bool lone_surrogate_ = false;
};

}  // namespace

std::string ParseJson(std::string_view text, size_t max_depth, rapidjson::Document& doc) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  rapidjson::Reader reader;
  DepthLimitedHandler handler(doc, max_depth);
  std::string error;
  bool ascii = IsAscii(text);
  // Populate hands the document to the generator as the SAX handler and keeps the root
  // only when the generator reports success.
  auto generate = [&](rapidjson::Document& d) {
    (void)d;
    rapidjson::ParseResult r = ascii ? reader.Parse<kAsciiFlags>(is, handler)
                                     : reader.Parse<kUtf8Flags>(is, handler);
    if (r) {
      // The reader treats a NUL byte as the end of input: what follows must not be lost.
      if (is.Tell() != text.size()) {
        error = fmt::format("Unexpected NUL byte at offset {}", is.Tell());
        return false;
      }
      return true;
    }
    if (handler.too_deep()) {
      error = fmt::format("JSON nesting deeper than {} levels at offset {}", max_depth,
                          r.Offset());
      return false;
    }
    rapidjson::ParseErrorCode code = r.Code();
    size_t offset = r.Offset();
    if (handler.lone_surrogate()) {
      // Worded as RapidJSON words the surrogate errors it catches itself.
      code = rapidjson::kParseErrorStringUnicodeSurrogateInvalid;
      offset = LoneSurrogateOffset(text, offset);
    }
    error = fmt::format("{} at offset {}", rapidjson::GetParseError_En(code), offset);
    // GetParseError_En's sentences end in '.', which reads badly before " at offset".
    if (size_t dot = error.find(". at offset"); dot != std::string::npos) error.erase(dot, 1);
    return false;
  };
  doc.Populate(generate);
  return error;
}

}  // namespace testrund::rpc
