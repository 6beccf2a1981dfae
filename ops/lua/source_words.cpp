// SPDX-License-Identifier: Apache-2.0
// Word-level reading of Lua source text (see source_words.h).
#include "ops/lua/source_words.h"

#include <algorithm>
#include <cctype>

namespace testrund::ops {
namespace {

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

size_t SkipSpaces(std::string_view code, size_t at) {
  while (at < code.size() && std::isspace(static_cast<unsigned char>(code[at]))) ++at;
  return at;
}

size_t WordEnd(std::string_view code, size_t at) {
  while (at < code.size() && IsWordChar(code[at])) ++at;
  return at;
}

// The field name of `v.<name> =` when the word `v` ends at `at`; empty otherwise.
std::string_view AssignedFieldAfter(std::string_view code, size_t at) {
  at = SkipSpaces(code, at);
  if (at >= code.size() || code[at] != '.') return {};
  size_t name_start = SkipSpaces(code, at + 1);
  if (name_start >= code.size() || std::isdigit(static_cast<unsigned char>(code[name_start]))) {
    return {};
  }
  size_t name_end = WordEnd(code, name_start);
  size_t eq = SkipSpaces(code, name_end);
  if (name_end == name_start || eq >= code.size() || code[eq] != '=') return {};
  if (eq + 1 < code.size() && code[eq + 1] == '=') return {};
  return code.substr(name_start, name_end - name_start);
}

// Calls visit(start, end) for every maximal run of identifier characters in `code`, in
// order, until it returns true; whether one did.
template <typename Visit>
bool AnyWord(std::string_view code, Visit visit) {
  size_t at = 0;
  while (at < code.size()) {
    if (!IsWordChar(code[at])) {
      ++at;
      continue;
    }
    size_t end = WordEnd(code, at);
    if (visit(at, end)) return true;
    at = end;
  }
  return false;
}

}  // namespace

bool MentionsInbound(std::string_view code) {
  return AnyWord(code, [code](size_t start, size_t end) {
    std::string_view word = code.substr(start, end - start);
    return word == "i" || word == "_G" || word == "_ENV" || word == "load";
  });
}

std::vector<std::string> AssignedVarsFields(std::string_view code) {
  std::vector<std::string> fields;
  AnyWord(code, [code, &fields](size_t start, size_t end) {
    bool field_of_another = start > 0 && code[start - 1] == '.';
    if (end - start != 1 || code[start] != 'v' || field_of_another) return false;
    std::string_view name = AssignedFieldAfter(code, end);
    if (!name.empty() && std::find(fields.begin(), fields.end(), name) == fields.end()) {
      fields.emplace_back(name);
    }
    return false;
  });
  return fields;
}

}  // namespace testrund::ops
