// SPDX-License-Identifier: Apache-2.0
// UTF-8 validation and repair (see utf8.h), driven by the table of well-formed byte
// sequences of Unicode §3.9 (Table 3-7).
#include "ops/base/utf8.h"

#include <cstdint>
#include <cstring>

namespace testrund::ops {
namespace {

// One row of Table 3-7: lead bytes [lead_min, lead_max] start a sequence of `length` bytes
// whose second byte lies in [second_min, second_max]; every later byte in [0x80, 0xBF].
// The narrowed second-byte ranges are what exclude overlong forms (E0, F0), surrogates
// (ED) and code points above U+10FFFF (F4).
struct SequenceForm {
  unsigned char lead_min;
  unsigned char lead_max;
  size_t length;
  unsigned char second_min;
  unsigned char second_max;
};

constexpr SequenceForm kForms[] = {
    {0xC2, 0xDF, 2, 0x80, 0xBF},  // U+0080..U+07FF
    {0xE0, 0xE0, 3, 0xA0, 0xBF},  // U+0800..U+0FFF
    {0xE1, 0xEC, 3, 0x80, 0xBF},  // U+1000..U+CFFF
    {0xED, 0xED, 3, 0x80, 0x9F},  // U+D000..U+D7FF
    {0xEE, 0xEF, 3, 0x80, 0xBF},  // U+E000..U+FFFF
    {0xF0, 0xF0, 4, 0x90, 0xBF},  // U+10000..U+3FFFF
    {0xF1, 0xF3, 4, 0x80, 0xBF},  // U+40000..U+FFFFF
    {0xF4, 0xF4, 4, 0x80, 0x8F},  // U+100000..U+10FFFF
};

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

const SequenceForm* FormOf(unsigned char lead) {
  for (const SequenceForm& form : kForms) {
    if (lead >= form.lead_min && lead <= form.lead_max) return &form;
  }
  return nullptr;  // 80..C1 and F5..FF never start a sequence
}

// The number of bytes from p[0] (a byte >= 0x80, n >= 1) that form one well-formed
// sequence (*complete true) or, failing that, the maximal subpart of an ill-formed one: the
// longest prefix of some well-formed sequence, at least one byte (*complete false).
size_t ScanSequence(const unsigned char* p, size_t n, bool* complete) {
  const SequenceForm* form = FormOf(p[0]);
  if (form == nullptr) {
    *complete = false;
    return 1;
  }
  size_t i = 1;
  if (i < n && p[i] >= form->second_min && p[i] <= form->second_max) {
    ++i;
    while (i < form->length && i < n && (p[i] & 0xC0) == 0x80) ++i;
  }
  *complete = i == form->length;
  return i;
}

// The length of the ASCII run at the start of p[0, n).
size_t AsciiRun(const unsigned char* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    if ((word & 0x8080808080808080ULL) != 0) break;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

}  // namespace

size_t ValidUtf8Prefix(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (true) {
    i += AsciiRun(p + i, n - i);
    if (i == n) return n;
    bool complete = false;
    size_t length = ScanSequence(p + i, n - i, &complete);
    if (!complete) return i;
    i += length;
  }
}

std::string RepairUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  std::string out;
  // Each ill-formed byte becomes at most three: reserve for the common case of a few.
  out.reserve(n + 8);
  size_t i = 0;
  while (i < n) {
    size_t valid = ValidUtf8Prefix(text.substr(i));
    out.append(text.data() + i, valid);
    i += valid;
    if (i == n) break;
    bool complete = false;
    i += ScanSequence(p + i, n - i, &complete);
    out.append(kReplacement, 3);
  }
  return out;
}

}  // namespace testrund::ops
