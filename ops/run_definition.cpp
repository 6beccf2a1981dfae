// SPDX-License-Identifier: Apache-2.0
// ExecuteTest params -> RunDefinition (see run_definition.h).
#include "ops/run_definition.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "ops/lua/lua_json.h"

namespace testrund::ops {
namespace {

// A small table of the integer params: name, bounds (SPEC §3).
struct IntegerParam {
  std::string_view name;
  int64_t min;
  int64_t max;
};
constexpr IntegerParam kTraceLevel{"trace_level", 0, 3};
constexpr IntegerParam kTraceMessages{"trace_messages", 0, 1};
constexpr IntegerParam kTurbo{"turbo", 0, 1};
constexpr IntegerParam kMaxFailures{"max_failures", 0, INT64_MAX};
constexpr IntegerParam kSeed{"seed", INT64_MIN, INT64_MAX};

// Reads an optional integer param; a problem when present but ill-formed or out of range.
std::optional<int64_t> Integer(const rapidjson::Value& params, const IntegerParam& spec,
                               Problems* problems) {
  auto it = params.FindMember(rapidjson::StringRef(spec.name.data(), spec.name.size()));
  if (it == params.MemberEnd() || it->value.IsNull()) return std::nullopt;
  int64_t value = 0;
  // 0/1 flags also accept JSON booleans.
  if (it->value.IsBool() && spec.max == 1) return it->value.GetBool() ? 1 : 0;
  if (!ParseInteger(it->value, &value) || value < spec.min || value > spec.max) {
    std::string range = spec.max == INT64_MAX
                            ? (spec.min == INT64_MIN ? std::string("an integer")
                                                     : fmt::format("an integer >= {}", spec.min))
                            : fmt::format("an integer {} to {}", spec.min, spec.max);
    problems->push_back({-1, std::string(spec.name),
                         fmt::format("\"{}\" must be {}, got {}", spec.name, range,
                                     JsonText(it->value))});
    return std::nullopt;
  }
  return value;
}

const rapidjson::Value* Member(const rapidjson::Value& params, const char* name) {
  auto it = params.FindMember(name);
  if (it == params.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

}  // namespace

bool ParseInteger(const rapidjson::Value& value, int64_t* out) {
  if (value.IsInt64()) {
    *out = value.GetInt64();
    return true;
  }
  if (value.IsUint64()) return false;  // beyond int64
  if (value.IsDouble()) {
    // A number with an integral value (41.0), as the rpc layer's Params accepts.
    double d = value.GetDouble();
    if (d != std::floor(d) || d < -9.2e18 || d > 9.2e18) return false;
    *out = static_cast<int64_t>(d);
    return true;
  }
  if (!value.IsString()) return false;
  std::string text(value.GetString(), value.GetStringLength());
  size_t digits_from = (!text.empty() && text[0] == '-') ? 1 : 0;
  if (text.size() == digits_from || text.size() > 20) return false;
  for (size_t j = digits_from; j < text.size(); ++j) {
    if (text[j] < '0' || text[j] > '9') return false;
  }
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  *out = parsed;
  return true;
}

bool ValidRunId(std::string_view run_id) {
  if (run_id.empty() || run_id.size() > 64) return false;
  for (char c : run_id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<RunDefinition> ParseRunDefinition(const rapidjson::Value& params,
                                                const EngineLimits& limits,
                                                std::string_view assigned_run_id,
                                                Problems* problems) {
  size_t problems_before = problems->size();
  if (!params.IsObject()) {
    problems->push_back({-1, "params", fmt::format("must be an object, got {}", JsonText(params))});
    return std::nullopt;
  }
  RunDefinition def;
  if (const rapidjson::Value* run_id = Member(params, "run_id")) {
    if (!run_id->IsString() ||
        !ValidRunId(std::string_view(run_id->GetString(), run_id->GetStringLength()))) {
      problems->push_back({-1, "run_id",
                           fmt::format("\"run_id\" must be 1-64 characters of [A-Za-z0-9_.:-], "
                                       "got {}", JsonText(*run_id))});
    } else {
      def.run_id.assign(run_id->GetString(), run_id->GetStringLength());
    }
  } else {
    def.run_id = std::string(assigned_run_id);
  }

  def.distribution = ParseDistribution(Member(params, "distribution"), *problems);
  def.trace_level = static_cast<int>(Integer(params, kTraceLevel, problems).value_or(0));
  def.trace_messages = Integer(params, kTraceMessages, problems).value_or(1) != 0;
  def.turbo = Integer(params, kTurbo, problems).value_or(0) != 0;
  if (auto max_failures = Integer(params, kMaxFailures, problems)) {
    def.max_failures = static_cast<uint64_t>(*max_failures);
  }
  if (auto seed = Integer(params, kSeed, problems)) {
    def.seed = static_cast<uint64_t>(*seed);
  } else {
    std::random_device device;
    def.seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  if (const rapidjson::Value* tags = Member(params, "tags")) {
    bool ok = tags->IsArray();
    if (ok) {
      for (const auto& tag : tags->GetArray()) {
        if (!tag.IsString()) {
          ok = false;
          break;
        }
        def.tags.emplace_back(tag.GetString(), tag.GetStringLength());
      }
    }
    if (!ok) {
      problems->push_back({-1, "tags", fmt::format("\"tags\" must be an array of strings, got {}",
                                                   JsonText(*tags))});
    }
  }
  const rapidjson::Value* vars = Member(params, "vars");
  if (vars != nullptr && !vars->IsObject()) {
    problems->push_back(
        {-1, "vars", fmt::format("\"vars\" must be an object, got {}", JsonText(*vars))});
    vars = nullptr;
  }
  const rapidjson::Value* globals = Member(params, "globals");
  if (globals != nullptr && !globals->IsObject()) {
    problems->push_back(
        {-1, "globals", fmt::format("\"globals\" must be an object, got {}", JsonText(*globals))});
    globals = nullptr;
  }
  const rapidjson::Value* operations = Member(params, "operations");
  if (operations == nullptr) {
    problems->push_back({-1, "operations", "missing required parameter \"operations\""});
  }

  Result<std::unique_ptr<LuaSandbox>> lua = LuaSandbox::Create(limits.lua, def.run_id, def.seed);
  if (!lua.ok()) {
    problems->push_back({-1, "lua", lua.message()});
    return std::nullopt;
  }
  def.lua = std::move(lua.value());
  if (operations != nullptr && operations->IsArray() &&
      operations->Size() > limits.max_operations) {
    def.too_many_operations = operations->Size();
  } else if (operations != nullptr) {
    def.program = Program::Build(*operations, *def.lua, limits.max_operations, problems);
  }
  for (auto [value, field] : {std::pair{vars, "vars"}, std::pair{globals, "globals"}}) {
    if (value == nullptr) continue;
    if (PushJson(*def.lua, *value) != LuaFailure::kNone) {
      problems->push_back({-1, field, fmt::format("\"{}\" exceeds the Lua memory limit", field)});
      continue;
    }
    int ref = def.lua->Ref();
    if (ref == kNoLuaRef) {
      problems->push_back({-1, field, fmt::format("\"{}\" exceeds the Lua memory limit", field)});
      continue;
    }
    if (value == vars) {
      def.lua->SetVarsTemplate(ref);
    } else {
      def.lua->SetGlobals(ref);
    }
  }
  if (problems->size() != problems_before) return std::nullopt;
  if (def.program == nullptr && def.too_many_operations == 0) return std::nullopt;
  return def;
}

}  // namespace testrund::ops
