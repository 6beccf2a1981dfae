// SPDX-License-Identifier: Apache-2.0
// JSON <-> Lua values (docs/operations.md#expressions): a JSON number without fraction or exponent
// is a Lua integer, any other a float; objects are string-keyed tables, arrays are tables
// indexed from 1, null is nil. Back to JSON: integers stay integers, floats in shortest
// round-trip form, a table whose keys are exactly 1..n is an array, an empty table is {},
// functions and other Lua values are skipped.
//
// Every function here runs its Lua work in protected mode, so the run's memory cap can
// never unwind through the caller: it reports failure instead.
#pragma once

#include <rapidjson/document.h>

#include <string>

#include "ops/lua/lua_sandbox.h"

namespace testrund::ops {

// Pushes `value` onto the sandbox's stack. On kMemoryLimit nothing is pushed.
LuaFailure PushJson(LuaSandbox& lua, const rapidjson::Value& value);
// PushJson's work without its protected call, for a C function that already runs inside
// one: a memory error is raised as a Lua error.
void PushJsonUnprotected(lua_State* L, const rapidjson::Value& value);

// Converts the Lua value at stack index `idx` to JSON into `out` (allocated with `alloc`).
// Tables nested deeper than `max_depth` (and cycles) are cut off as null. Object members
// come out sorted by name (Lua tables have no order; this keeps output deterministic);
// integer and float keys of an object become strings, other keys are skipped; members whose
// value is a function, userdata or thread are skipped (inside an array they become null);
// NaN and infinities become null. Reads raw: no metamethod runs. The Lua stack is left as
// it was. If the memory limit is hit (stack growth), `out` is null.
void ToJson(lua_State* L, int idx, rapidjson::Value& out,
            rapidjson::Document::AllocatorType& alloc, int max_depth = 64);

// Writes the nil, boolean, number or string at `idx` as Lua's tostring would ("nil", "true",
// "6", "6.0", "0.1"), without metamethods and without allocating in Lua (a number on the
// stack is not converted in place). Returns false, leaving `out` alone, for other types.
bool LuaScalarText(lua_State* L, int idx, std::string* out);

}  // namespace testrund::ops
