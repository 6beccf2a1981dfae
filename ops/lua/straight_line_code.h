// SPDX-License-Identifier: Apache-2.0
// Static checks of a compiled Lua 5.4 chunk: whether its code can run for long, and whether
// it can write a global (ReadsGlobalsOnly, below). A chunk whose main function has no
// backward jump, no loop, no call, no closure and no to-be-closed variable executes each of
// its instructions at most once, so it ends within as many instructions as its code holds.
// The sandbox runs such a chunk without the instruction-count hook when its code is shorter
// than the budget (ops/lua/lua_sandbox.h, docs/performance.md): the hook could not have
// fired, and with a hook set Lua 5.4 sends every instruction through its tracing path.
//
// What the check cannot see, the sandbox rules out otherwise: an instruction that indexes,
// compares or does arithmetic may call a metamethod, and a metamethod written in Lua could
// loop. The sandbox's own metamethods are C functions that end; a script's own come only
// through `setmetatable`, and once a run has called it every chunk of the run takes the
// counted path (LuaSandbox::Call).
//
// Lua's opcodes are not public API (lopcodes.h is not installed), so the check reads the
// code array of lua_dump's output, whose format is stable within 5.4 (lundump.h): a header
// naming the version, then the main function's fields, its code among the first.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace testrund::ops {

// The number of instructions of the main function in `dump` (lua_dump output of a Lua
// 5.4 function, stripped or not) when that code cannot loop, call, close or make a closure;
// nullopt when it can, or when `dump` is not what this parser knows (another Lua version,
// another instruction size, truncated): the caller then keeps the counted path.
std::optional<size_t> StraightLineLength(std::string_view dump);

// Whether the function in `dump` (lua_dump of a main chunk or of any function) uses its
// environment only to read globals: it assigns no global (`x = 1`, `_ENV.x = 1`), never
// takes _ENV itself as a value (`local e = _ENV`, `_ENV = t`) and makes no closure. Such code
// cannot tell an environment whose reads fall through to a table from that table itself, so
// the sandbox binds it to the table (LuaSandbox::Compile): a global read is then one look-up
// instead of a miss and a metamethod. False when `dump` is not what this parser knows.
bool ReadsGlobalsOnly(std::string_view dump);

}  // namespace testrund::ops
