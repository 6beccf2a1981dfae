// SPDX-License-Identifier: Apache-2.0
// ParseJson: untrusted bytes to a RapidJSON document, safely. Validates UTF-8, limits the
// nesting depth, and parses iteratively (no recursion), so a nesting bomb can neither
// overflow the stack nor build a deep tree.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace testrund::rpc {

// Parses `text` (not NUL-terminated; a NUL byte anywhere is an error) into `doc`, whose
// allocator keeps every string. Arrays and objects may nest at most `max_depth` deep
// (`[]` is depth 1). Returns an empty string on success, else a sentence saying what is
// wrong and where, e.g. "Invalid encoding in string at offset 12"; `doc` is then unusable.
std::string ParseJson(std::string_view text, size_t max_depth, rapidjson::Document& doc);

}  // namespace testrund::rpc
