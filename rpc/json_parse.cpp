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

// Forwards every SAX event to the document, refusing to open a container past the limit.
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
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
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

 private:
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
    } else {
      error = fmt::format("{} at offset {}", rapidjson::GetParseError_En(r.Code()), r.Offset());
      // GetParseError_En's sentences end in '.', which reads badly before " at offset".
      if (size_t dot = error.find(". at offset"); dot != std::string::npos) error.erase(dot, 1);
    }
    return false;
  };
  doc.Populate(generate);
  return error;
}

}  // namespace testrund::rpc
