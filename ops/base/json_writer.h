// SPDX-License-Identifier: Apache-2.0
// JsonWriter: the rapidjson Writer every JSON output of testrund goes through. It writes a
// double in its shortest round-trip form (std::to_chars; RapidJSON's Grisu2 is not always
// shortest: 0.1 + 0.2 came out as 0.30000000000000007 vs. the shortest 0.30000000000000004),
// keeps ".0" on integral doubles so that a Lua float stays a float (docs/operations.md), and writes
// NaN and infinities, which JSON cannot carry, as null. Strings and keys that are not
// well-formed UTF-8 (Lua strings, peer bytes, error texts) are written with each ill-formed
// part replaced by U+FFFD (ops/base/utf8.h), so that every JSON output is UTF-8.
#pragma once

#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "ops/base/utf8.h"

namespace testrund::ops {

template <typename OutputStream, unsigned kFlags = rapidjson::kWriteDefaultFlags>
class BasicJsonWriter
    : public rapidjson::Writer<OutputStream, rapidjson::UTF8<>, rapidjson::UTF8<>,
                               rapidjson::CrtAllocator, kFlags> {
  using Base = rapidjson::Writer<OutputStream, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                 rapidjson::CrtAllocator, kFlags>;

 public:
  explicit BasicJsonWriter(OutputStream& os) : Base(os) {}

  // Hides Writer::Double: Value::Accept and every caller holding this type call this one.
  bool Double(double d) {
    if (!std::isfinite(d)) return Base::Null();
    char buf[40];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf) - 2, d);
    if (ec != std::errc()) return Base::Null();  // cannot happen with 38 bytes
    size_t n = static_cast<size_t>(end - buf);
    if (std::memchr(buf, '.', n) == nullptr && std::memchr(buf, 'e', n) == nullptr) {
      buf[n++] = '.';
      buf[n++] = '0';
    }
    return Base::RawValue(buf, n, rapidjson::kNumberType);
  }

  // Hide Writer::String and Writer::Key (all their overloads) the same way. Well-formed
  // text, the usual case, is written as it is after one scan.
  using Ch = typename Base::Ch;
  bool String(const Ch* str, rapidjson::SizeType length, bool copy = false) {
    std::string_view text(str, length);
    if (ValidUtf8Prefix(text) == length) return Base::String(str, length, copy);
    std::string repaired = RepairUtf8(text);
    return Base::String(repaired.data(), static_cast<rapidjson::SizeType>(repaired.size()));
  }
  bool String(const Ch* str) {
    return String(str, static_cast<rapidjson::SizeType>(std::strlen(str)));
  }
  bool String(const std::string& str) {
    return String(str.data(), static_cast<rapidjson::SizeType>(str.size()));
  }
  bool Key(const Ch* str, rapidjson::SizeType length, bool copy = false) {
    std::string_view text(str, length);
    if (ValidUtf8Prefix(text) == length) return Base::Key(str, length, copy);
    std::string repaired = RepairUtf8(text);
    return Base::Key(repaired.data(), static_cast<rapidjson::SizeType>(repaired.size()));
  }
  bool Key(const Ch* str) {
    return Key(str, static_cast<rapidjson::SizeType>(std::strlen(str)));
  }
  bool Key(const std::string& str) {
    return Key(str.data(), static_cast<rapidjson::SizeType>(str.size()));
  }
};

using JsonWriter = BasicJsonWriter<rapidjson::StringBuffer>;

// `value` as compact JSON text.
inline std::string JsonText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// `text` as a JSON string literal, whole (check texts quote what was compared; problem
// texts quote with QuoteValue, ops/base/problem.h).
inline std::string JsonString(std::string_view text) {
  return JsonText(rapidjson::Value(
      rapidjson::StringRef(text.data(), static_cast<rapidjson::SizeType>(text.size()))));
}

}  // namespace testrund::ops
