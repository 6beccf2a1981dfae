// SPDX-License-Identifier: Apache-2.0
// ValidUtf8Prefix and RepairUtf8: well-formed text at every boundary of Unicode Table 3-7
// passes unchanged; each class of ill-formed sequence becomes U+FFFD per maximal subpart.
#include <catch2/catch.hpp>

#include <string>

#include "ops/base/utf8.h"

using testrund::ops::RepairUtf8;
using testrund::ops::ValidUtf8Prefix;

namespace {
const std::string kFffd = "\xEF\xBF\xBD";

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}
}  // namespace

TEST_CASE("well-formed UTF-8 is valid and left unchanged", "[unit]") {
  SECTION("empty") {
    CHECK(ValidUtf8Prefix("") == 0);
    CHECK(RepairUtf8("") == "");
  }
  SECTION("ASCII, shorter and longer than one eight-byte word") {
    for (std::string s : {"a", "abcdefg", "abcdefgh", "abcdefghijklmnopqrstuvwxyz0123456789"}) {
      CHECK(ValidUtf8Prefix(s) == s.size());
      CHECK(RepairUtf8(s) == s);
    }
  }
  SECTION("embedded NUL") {
    std::string s("a\0b\0\0c", 6);
    CHECK(ValidUtf8Prefix(s) == 6);
    CHECK(RepairUtf8(s) == s);
  }
  SECTION("multi-byte characters at each boundary of Table 3-7") {
    const std::string cases[] = {
        Bytes({0x7F}),                    // U+007F
        Bytes({0xC2, 0x80}),              // U+0080
        Bytes({0xDF, 0xBF}),              // U+07FF
        Bytes({0xE0, 0xA0, 0x80}),        // U+0800
        Bytes({0xE1, 0x80, 0x80}),        // U+1000
        Bytes({0xED, 0x9F, 0xBF}),        // U+D7FF, just below the surrogates
        Bytes({0xEE, 0x80, 0x80}),        // U+E000, just above them
        Bytes({0xEF, 0xBF, 0xBD}),        // U+FFFD
        Bytes({0xEF, 0xBF, 0xBF}),        // U+FFFF
        Bytes({0xF0, 0x90, 0x80, 0x80}),  // U+10000
        Bytes({0xF1, 0x80, 0x80, 0x80}),  // U+40000
        Bytes({0xF3, 0xBF, 0xBF, 0xBF}),  // U+FFFFF
        Bytes({0xF4, 0x8F, 0xBF, 0xBF}),  // U+10FFFF, the last code point
    };
    for (const std::string& c : cases) {
      std::string s = "abcdefghij" + c + "z";
      CHECK(ValidUtf8Prefix(s) == s.size());
      CHECK(RepairUtf8(s) == s);
    }
  }
  SECTION("mixed text") {
    std::string s = "gr\xC3\xBC\xC3\x9F dich \xE2\x82\xAC \xF0\x9D\x84\x9E";
    CHECK(ValidUtf8Prefix(s) == s.size());
    CHECK(RepairUtf8(s) == s);
  }
}

TEST_CASE("the valid prefix ends at the first ill-formed byte", "[unit]") {
  CHECK(ValidUtf8Prefix("abc\xFF") == 3);
  CHECK(ValidUtf8Prefix("abcdefghi\xFF") == 9);  // past the first eight-byte word
  CHECK(ValidUtf8Prefix("\xC3\xA9\xE2\x82") == 2);
  CHECK(ValidUtf8Prefix("\x80") == 0);
}

TEST_CASE("each maximal subpart of an ill-formed sequence becomes one U+FFFD", "[unit]") {
  SECTION("bytes that never start a sequence") {
    CHECK(RepairUtf8("a\x80" "b") == "a" + kFffd + "b");        // lone continuation
    CHECK(RepairUtf8("\xBF") == kFffd);
    CHECK(RepairUtf8("\xC0\xAF") == kFffd + kFffd);             // overlong '/'
    CHECK(RepairUtf8("\xC1\xBF") == kFffd + kFffd);             // overlong U+007F
    CHECK(RepairUtf8("\xF5\x80\x80\x80") == kFffd + kFffd + kFffd + kFffd);
    CHECK(RepairUtf8("\xFF\xFE") == kFffd + kFffd);
    CHECK(RepairUtf8("a\xFF" "b") == "a" + kFffd + "b");
  }
  SECTION("truncated sequences") {
    CHECK(RepairUtf8("\xC3") == kFffd);
    CHECK(RepairUtf8("\xE2\x82") == kFffd);                     // a euro sign cut short
    CHECK(RepairUtf8("\xF0\x9D\x84") == kFffd);
    CHECK(RepairUtf8("\xE2\x82" "A") == kFffd + "A");
    CHECK(RepairUtf8("\xF0\x9D\x84\xC3\xA9") == kFffd + "\xC3\xA9");
  }
  SECTION("overlong three- and four-byte forms") {
    CHECK(RepairUtf8("\xE0\x80\x80") == kFffd + kFffd + kFffd);
    CHECK(RepairUtf8("\xE0\x9F\xBF") == kFffd + kFffd + kFffd);
    CHECK(RepairUtf8("\xF0\x8F\xBF\xBF") == kFffd + kFffd + kFffd + kFffd);
  }
  SECTION("surrogate code points") {
    CHECK(RepairUtf8("\xED\xA0\x80") == kFffd + kFffd + kFffd);  // U+D800
    CHECK(RepairUtf8("\xED\xBF\xBF") == kFffd + kFffd + kFffd);  // U+DFFF
  }
  SECTION("above U+10FFFF") {
    CHECK(RepairUtf8("\xF4\x90\x80\x80") == kFffd + kFffd + kFffd + kFffd);
  }
  SECTION("the example of Unicode Table 3-8") {
    std::string in = Bytes({0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80,
                            0xBF, 0x64});
    CHECK(RepairUtf8(in) == "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d");
  }
  SECTION("NUL next to an ill-formed byte") {
    CHECK(RepairUtf8(std::string("\0\xFF\0", 3)) == std::string("\0", 1) + kFffd +
                                                        std::string("\0", 1));
  }
}
