// SPDX-License-Identifier: Apache-2.0
// JSON <-> Lua conversion (docs/operations.md). Both directions run their Lua work inside lua_pcall
// so that the run's memory cap (or stack growth) reports a failure instead of unwinding into the
// engine. Conversion to JSON reads tables raw, so no script code runs during it.
#include "ops/lua/lua_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <lua.hpp>
#include <numeric>
#include <vector>

namespace testrund::ops {
namespace {

// Deeper JSON than this is refused when pushed (the rpc layer caps input at 64 already).
constexpr int kMaxPushDepth = 200;

void PushValue(lua_State* L, const rapidjson::Value& value, int depth) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      lua_pushnil(L);
      return;
    case rapidjson::kFalseType:
      lua_pushboolean(L, 0);
      return;
    case rapidjson::kTrueType:
      lua_pushboolean(L, 1);
      return;
    case rapidjson::kNumberType:
      // Written without fraction or exponent (and fitting in 64 signed bits): an integer.
      if (!value.IsDouble() && value.IsInt64()) {
        lua_pushinteger(L, static_cast<lua_Integer>(value.GetInt64()));
      } else {
        lua_pushnumber(L, value.GetDouble());
      }
      return;
    case rapidjson::kStringType:
      lua_pushlstring(L, value.GetString(), value.GetStringLength());
      return;
    case rapidjson::kArrayType: {
      if (depth >= kMaxPushDepth) luaL_error(L, "JSON nested too deeply");
      luaL_checkstack(L, 3, "JSON nested too deeply");
      lua_createtable(L, static_cast<int>(value.Size()), 0);
      lua_Integer i = 1;
      for (const rapidjson::Value& element : value.GetArray()) {
        PushValue(L, element, depth + 1);
        lua_rawseti(L, -2, i++);  // a null leaves a hole, as in Lua
      }
      return;
    }
    case rapidjson::kObjectType: {
      if (depth >= kMaxPushDepth) luaL_error(L, "JSON nested too deeply");
      luaL_checkstack(L, 3, "JSON nested too deeply");
      lua_createtable(L, 0, static_cast<int>(value.MemberCount()));
      for (const auto& member : value.GetObject()) {
        lua_pushlstring(L, member.name.GetString(), member.name.GetStringLength());
        PushValue(L, member.value, depth + 1);
        lua_rawset(L, -3);
      }
      return;
    }
  }
}

int PushProtected(lua_State* L) {
  const auto* value = static_cast<const rapidjson::Value*>(lua_touserdata(L, 1));
  PushValue(L, *value, 0);
  return 1;
}

// Lua's own float format: "%.14g", plus ".0" when that looks like an integer.
void FloatText(lua_Number n, std::string* out) {
  char buf[64];
  int len = std::snprintf(buf, sizeof(buf), LUA_NUMBER_FMT, static_cast<double>(n));
  if (len < 0) len = 0;
  out->assign(buf, static_cast<size_t>(len));
  if (out->find_first_not_of("-0123456789") == std::string::npos) out->append(".0");
}

bool IsSkipped(int type) {
  return type == LUA_TFUNCTION || type == LUA_TUSERDATA || type == LUA_TLIGHTUSERDATA ||
         type == LUA_TTHREAD || type == LUA_TNONE;
}

struct Converter {
  lua_State* L;
  rapidjson::Document::AllocatorType& alloc;
  int max_depth;
  std::vector<const void*> path;  // tables being converted, to cut cycles
  std::string key_text;

  void Convert(int idx, rapidjson::Value& out, int depth) {
    switch (lua_type(L, idx)) {
      case LUA_TBOOLEAN:
        out.SetBool(lua_toboolean(L, idx) != 0);
        return;
      case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
          out.SetInt64(static_cast<int64_t>(lua_tointeger(L, idx)));
        } else {
          double d = static_cast<double>(lua_tonumber(L, idx));
          if (std::isfinite(d)) {
            out.SetDouble(d);
          } else {
            out.SetNull();
          }
        }
        return;
      case LUA_TSTRING: {
        size_t len = 0;
        const char* s = lua_tolstring(L, idx, &len);
        out.SetString(s, static_cast<rapidjson::SizeType>(len), alloc);
        return;
      }
      case LUA_TTABLE:
        ConvertTable(idx, out, depth);
        return;
      default:
        out.SetNull();
        return;
    }
  }

  void ConvertTable(int idx, rapidjson::Value& out, int depth) {
    const void* self = lua_topointer(L, idx);
    if (depth >= max_depth || std::find(path.begin(), path.end(), self) != path.end()) {
      out.SetNull();
      return;
    }
    luaL_checkstack(L, 4, "Lua value nested too deeply");
    path.push_back(self);

    // An array when the keys are exactly the integers 1..n.
    size_t count = 0;
    lua_Integer max_key = 0;
    bool array = true;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      ++count;
      if (array) {
        if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
          max_key = std::max(max_key, lua_tointeger(L, -2));
        } else {
          array = false;
        }
      }
      lua_pop(L, 1);
    }

    if (count > 0 && array && static_cast<size_t>(max_key) == count) {
      out.SetArray();
      out.Reserve(static_cast<rapidjson::SizeType>(count), alloc);
      for (lua_Integer k = 1; k <= max_key; ++k) {
        lua_rawgeti(L, idx, k);
        rapidjson::Value element;
        Convert(lua_gettop(L), element, depth + 1);  // skipped types are null here
        out.PushBack(element, alloc);
        lua_pop(L, 1);
      }
      path.pop_back();
      return;
    }

    std::vector<rapidjson::Value> names;
    std::vector<rapidjson::Value> values;
    names.reserve(count);
    values.reserve(count);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      int key_type = lua_type(L, -2);
      bool keep = !IsSkipped(lua_type(L, -1));
      if (keep && key_type == LUA_TSTRING) {
        size_t len = 0;
        const char* s = lua_tolstring(L, -2, &len);  // a string key: no conversion
        names.emplace_back(s, static_cast<rapidjson::SizeType>(len), alloc);
      } else if (keep && key_type == LUA_TNUMBER) {
        // Never lua_tostring a key during lua_next: it would convert it in place.
        if (lua_isinteger(L, -2)) {
          key_text = fmt::format("{}", static_cast<int64_t>(lua_tointeger(L, -2)));
        } else {
          FloatText(lua_tonumber(L, -2), &key_text);
        }
        names.emplace_back(key_text.data(), static_cast<rapidjson::SizeType>(key_text.size()),
                           alloc);
      } else {
        keep = false;
      }
      if (keep) {
        values.emplace_back();
        Convert(lua_gettop(L), values.back(), depth + 1);
      }
      lua_pop(L, 1);
    }

    std::vector<size_t> order(names.size());
    std::iota(order.begin(), order.end(), size_t{0});
    auto less = [&names](size_t a, size_t b) {
      std::string_view x(names[a].GetString(), names[a].GetStringLength());
      std::string_view y(names[b].GetString(), names[b].GetStringLength());
      return x < y;
    };
    std::sort(order.begin(), order.end(), less);
    out.SetObject();
    std::string_view previous;
    bool first = true;
    for (size_t i : order) {
      std::string_view name(names[i].GetString(), names[i].GetStringLength());
      if (!first && name == previous) continue;  // [1] and ["1"]: keep one member
      first = false;
      previous = name;
      out.AddMember(names[i], values[i], alloc);
    }
    path.pop_back();
  }
};

struct ToJsonArgs {
  rapidjson::Value* out;
  rapidjson::Document::AllocatorType* alloc;
  int max_depth;
};

int ToJsonProtected(lua_State* L) {
  auto* args = static_cast<ToJsonArgs*>(lua_touserdata(L, 2));
  Converter converter{L, *args->alloc, args->max_depth, {}, {}};
  converter.Convert(1, *args->out, 0);
  return 0;
}

}  // namespace

void PushJsonUnprotected(lua_State* L, const rapidjson::Value& value) { PushValue(L, value, 0); }

LuaFailure PushJson(LuaSandbox& lua, const rapidjson::Value& value) {
  lua_State* L = lua.state();
  // Scalars other than strings need no allocation.
  switch (value.GetType()) {
    case rapidjson::kNullType:
      lua_pushnil(L);
      return LuaFailure::kNone;
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
    case rapidjson::kNumberType:
      PushValue(L, value, 0);
      return LuaFailure::kNone;
    default:
      break;
  }
  lua_pushcfunction(L, PushProtected);
  lua_pushlightuserdata(L, const_cast<rapidjson::Value*>(&value));
  int status = lua_pcall(L, 1, 1, 0);
  if (status == LUA_OK) return LuaFailure::kNone;
  lua_pop(L, 1);
  lua.CollectGarbage();
  return status == LUA_ERRMEM ? LuaFailure::kMemoryLimit : LuaFailure::kRuntimeError;
}

void ToJson(lua_State* L, int idx, rapidjson::Value& out,
            rapidjson::Document::AllocatorType& alloc, int max_depth) {
  if (lua_type(L, idx) != LUA_TTABLE) {
    // Scalars touch neither the Lua stack nor the Lua allocator.
    Converter converter{L, alloc, max_depth, {}, {}};
    converter.Convert(idx, out, 0);
    return;
  }
  idx = lua_absindex(L, idx);
  ToJsonArgs args{&out, &alloc, max_depth};
  lua_pushcfunction(L, ToJsonProtected);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, &args);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    lua_pop(L, 1);
    out.SetNull();
  }
}

bool LuaScalarText(lua_State* L, int idx, std::string* out) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      out->assign("nil");
      return true;
    case LUA_TBOOLEAN:
      out->assign(lua_toboolean(L, idx) ? "true" : "false");
      return true;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        *out = fmt::format("{}", static_cast<int64_t>(lua_tointeger(L, idx)));
      } else {
        FloatText(lua_tonumber(L, idx), out);
      }
      return true;
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, idx, &len);
      out->assign(s, len);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace testrund::ops
