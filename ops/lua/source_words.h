// SPDX-License-Identifier: Apache-2.0
// What a chunk's source text says about it before it runs: whether it names a way to `i`,
// and which fields of `v` it assigns. Both are read from the text alone, so both may be
// wrong either way for contrived code (a name inside a string, `local t = v; t.x = 1`); each
// caller uses the answer only where a wrong one costs speed or memory, or errs on the safe
// side (see LuaSandbox::Compile).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace testrund::ops {

// True when `code` holds one of the names through which Lua code reaches `i` (`i`, `_G`,
// `_ENV`, `load`) as a whole word: every maximal run of identifier characters is compared.
bool MentionsInbound(std::string_view code);

// The names assigned as `v.<name> = ...` (spaces allowed around the dot and before `=`;
// `v.<name> == ...` is a comparison, `x.v.<name> = ...` another table's), each once, in order
// of first appearance. Fields set as `v["name"]` or through another variable are not seen.
std::vector<std::string> AssignedVarsFields(std::string_view code);

}  // namespace testrund::ops
