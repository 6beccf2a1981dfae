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

}  // namespace

bool MentionsInbound(std::string_view code) {
  size_t at = 0;
  while (at < code.size()) {
    if (!IsWordChar(code[at])) {
      ++at;
      continue;
    }
    size_t end = WordEnd(code, at);
    std::string_view word = code.substr(at, end - at);
    if (word == "i" || word == "_G" || word == "_ENV" || word == "load") return true;
    at = end;
  }
  return false;
}

std::vector<std::string> AssignedVarsFields(std::string_view code) {
  std::vector<std::string> fields;
  size_t at = 0;
  while (at < code.size()) {
    if (!IsWordChar(code[at])) {
      ++at;
      continue;
    }
    size_t end = WordEnd(code, at);
    bool field_of_another = at > 0 && code[at - 1] == '.';
    if (end - at == 1 && code[at] == 'v' && !field_of_another) {
      std::string_view name = AssignedFieldAfter(code, end);
      if (!name.empty() && std::find(fields.begin(), fields.end(), name) == fields.end()) {
        fields.emplace_back(name);
      }
    }
    at = end;
  }
  return fields;
}

}  // namespace testrund::ops
