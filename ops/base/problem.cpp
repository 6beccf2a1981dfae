// SPDX-License-Identifier: Apache-2.0
// Problem texts and the quoting of values in them (see problem.h).
#include "ops/base/problem.h"

#include "ops/base/json_writer.h"

namespace testrund::ops {
namespace {

constexpr size_t kMaxQuotedBytes = 60;  // longer strings are cut in problem texts

}  // namespace

std::string Problem::Text() const {
  if (field.empty()) return problem;
  return field + " " + problem;
}

std::string QuoteValue(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kObjectType:
      return value.ObjectEmpty() ? "an empty object" : "an object";
    case rapidjson::kArrayType:
      return value.Empty() ? "an empty array" : "an array";
    case rapidjson::kStringType:
      return QuoteText(std::string_view(value.GetString(), value.GetStringLength()));
    default:
      return JsonText(value);  // null, true, false, numbers as written
  }
}

std::string QuoteText(std::string_view text) {
  bool cut = text.size() > kMaxQuotedBytes;
  if (cut) {
    size_t n = kMaxQuotedBytes;
    // Do not split a UTF-8 sequence: back up over continuation bytes.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    text = text.substr(0, n);
  }
  std::string out = JsonText(rapidjson::Value(
      rapidjson::StringRef(text.data(), static_cast<rapidjson::SizeType>(text.size()))));
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

}  // namespace testrund::ops
