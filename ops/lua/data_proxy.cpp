// SPDX-License-Identifier: Apache-2.0
// `d` and `d_row`: the run's data rows as the sandbox shows them (LuaSandbox::SetRowSource,
// docs/operations.md#data-rows).
//
// `d` is one userdata shared by every instance, not a table per instance: reading d.x asks
// the RowSource for the evaluating instance's cell, so rows are never copied into Lua and
// an instance that reads no data costs nothing. Its metatable holds the column names as a
// table name -> index (an interned-string look-up), and refuses every write: the row is
// the run's, not the instance's. `d_row` is answered by an __index on the hidden base
// table, which only names absent from the base reach.
#include <string_view>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/lua/lua_sandbox.h"
#include "ops/lua/sandbox_environment.h"

namespace testrund::ops {
namespace {

const LuaSandbox& SandboxOf(lua_State* L) {
  return *static_cast<const LuaSandbox*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// __index(d, key); upvalue 1 the sandbox, upvalue 2 the table column name -> index.
int DataIndex(lua_State* L) {
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNUMBER) {
    if (lua_type(L, 2) != LUA_TSTRING) {
      return luaL_error(L, "d has no column %s (columns are named by strings)",
                        luaL_typename(L, 2));
    }
    return luaL_error(L, "d has no column \"%s\"", lua_tostring(L, 2));
  }
  const LuaSandbox& sandbox = SandboxOf(L);
  size_t column = static_cast<size_t>(lua_tointeger(L, -1));
  sandbox.row_source()->PushCell(L, sandbox.current_instance(), column);
  return 1;
}

int DataNewIndex(lua_State* L) {
  return luaL_error(L, "d is read-only: it is the run's data row (copy a value into v to "
                       "change it)");
}

// The iterator of pairs(d): upvalue 1 the sandbox, upvalue 2 the next column.
int DataNext(lua_State* L) {
  const LuaSandbox& sandbox = SandboxOf(L);
  const RowSource& rows = *sandbox.row_source();
  size_t column = static_cast<size_t>(lua_tointeger(L, lua_upvalueindex(2)));
  if (column >= rows.column_count()) return 0;
  lua_pushinteger(L, static_cast<lua_Integer>(column + 1));
  lua_replace(L, lua_upvalueindex(2));
  std::string_view name = rows.column_name(column);
  lua_pushlstring(L, name.data(), name.size());
  rows.PushCell(L, sandbox.current_instance(), column);
  return 2;
}

// __pairs(d): the columns in order, with the instance's values.
int DataPairs(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, DataNext, 2);
  return 1;
}

// __index of the base table: `d_row`, nil for every other absent name.
int BaseIndex(lua_State* L) {
  size_t length = 0;
  const char* key = lua_tolstring(L, 2, &length);
  if (key != nullptr && std::string_view(key, length) == "d_row") {
    const LuaSandbox& sandbox = SandboxOf(L);
    uint64_t row = sandbox.row_source()->RowNumber(sandbox.current_instance());
    lua_pushinteger(L, static_cast<lua_Integer>(row));
    return 1;
  }
  lua_pushnil(L);
  return 1;
}

// Pushes a closure of `fn` over the sandbox (upvalue 1) and the value at `extra` (upvalue 2,
// when not 0).
void PushClosure(lua_State* L, lua_CFunction fn, LuaSandbox* sandbox, int extra = 0) {
  lua_pushlightuserdata(L, sandbox);
  if (extra != 0) lua_pushvalue(L, extra);
  lua_pushcclosure(L, fn, extra != 0 ? 2 : 1);
}

struct InstallArgs {
  LuaSandbox* sandbox;
  int base_ref;
};

int InstallProtected(lua_State* L) {
  auto* args = static_cast<InstallArgs*>(lua_touserdata(L, 1));
  LuaSandbox* sandbox = args->sandbox;
  const RowSource& rows = *sandbox->row_source();
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, args->base_ref);  // 1: base
  lua_createtable(L, 0, static_cast<int>(rows.column_count()));  // 2: name -> index
  for (size_t column = 0; column < rows.column_count(); ++column) {
    std::string_view name = rows.column_name(column);
    lua_pushlstring(L, name.data(), name.size());
    lua_pushinteger(L, static_cast<lua_Integer>(column));
    lua_rawset(L, 2);
  }
  lua_newuserdatauv(L, 0, 0);  // 3: d
  lua_createtable(L, 0, 5);
  PushClosure(L, DataIndex, sandbox, 2);
  lua_setfield(L, -2, "__index");
  PushClosure(L, DataNewIndex, sandbox);
  lua_setfield(L, -2, "__newindex");
  PushClosure(L, DataPairs, sandbox);
  lua_setfield(L, -2, "__pairs");
  sandbox::ProtectMetatable(L);
  lua_setmetatable(L, 3);
  lua_setfield(L, 1, "d");
  lua_createtable(L, 0, 3);  // the base's own metatable, for d_row
  PushClosure(L, BaseIndex, sandbox);
  lua_setfield(L, -2, "__index");
  sandbox::ProtectMetatable(L);
  lua_setmetatable(L, 1);
  return 0;
}

}  // namespace

Status LuaSandbox::SetRowSource(const RowSource* rows) {
  row_source_ = rows;
  InstallArgs args{this, base_ref_};
  return RunProtected(InstallProtected, &args);
}

}  // namespace testrund::ops
