// SPDX-License-Identifier: Apache-2.0
// ExecuteTest params -> RunDefinition (see run_definition.h).
#include "ops/run_definition.h"

#include <random>
#include <utility>

#include <fmt/format.h>

#include "ops/base/param_reader.h"
#include "ops/lua/lua_json.h"

namespace testrund::ops {
namespace {

constexpr std::string_view kRunIdRule = "1-64 characters of [A-Za-z0-9_.:-]";

// `tags`: an array of strings, each problem naming its element ("tags[1]").
std::vector<std::string> ReadTags(ParamReader& p) {
  std::vector<std::string> tags;
  const rapidjson::Value* array = p.OptionalArray("tags");
  if (array == nullptr) return tags;
  for (rapidjson::SizeType i = 0; i < array->Size(); ++i) {
    const rapidjson::Value& tag = (*array)[i];
    if (!tag.IsString()) {
      p.WrongType(fmt::format("tags[{}]", i), "a string", tag);
      continue;
    }
    tags.emplace_back(tag.GetString(), tag.GetStringLength());
  }
  return tags;
}

// Puts `vars` and `globals` into the sandbox. A problem when the Lua memory limit refuses.
void LoadJsonTables(ParamReader& p, const rapidjson::Value* vars,
                    const rapidjson::Value* globals, LuaSandbox& lua) {
  for (auto [value, field] : {std::pair{vars, "vars"}, std::pair{globals, "globals"}}) {
    if (value == nullptr) continue;
    int ref = PushJson(lua, *value) == LuaFailure::kNone ? lua.Ref() : kNoLuaRef;
    if (ref == kNoLuaRef) {
      p.AddProblem(field, "exceeds the Lua memory limit");
      continue;
    }
    if (value == vars) {
      lua.SetVarsTemplate(ref);
    } else {
      lua.SetGlobals(ref);
    }
  }
}

// For each operation, whether it records a latency (a threshold's op_idx must name one). When
// the operations did not compile, every index is taken as one: they have their own problems.
std::vector<bool> LatencyOps(const rapidjson::Value* operations, const Program* program) {
  if (program == nullptr) {
    bool array = operations != nullptr && operations->IsArray();
    return std::vector<bool>(array ? operations->Size() : 0, true);
  }
  std::vector<bool> latency(program->size());
  for (size_t idx = 0; idx < program->size(); ++idx) {
    latency[idx] = program->op(idx).type->records_latency;
  }
  return latency;
}

// `start_at`: Unix seconds (a number or numeric string), within kStartAtPast before `now`
// and kStartAtAhead after it.
std::optional<double> ReadStartAt(ParamReader& p, std::optional<WallTime> now) {
  std::optional<double> start_at =
      p.OptionalNumber("start_at", {.min = 0}, "a Unix time in seconds");
  if (!start_at || !now) return start_at;
  double ahead = *start_at - ToSeconds(*now);
  if (ahead < -kStartAtPast) {
    p.AddProblem("start_at", fmt::format("is {:.1f} s in the past; at most {:.0f} s back is "
                                         "allowed (the run then starts at once)",
                                         -ahead, kStartAtPast));
    return std::nullopt;
  }
  if (ahead > kStartAtAhead) {
    p.AddProblem("start_at", fmt::format("is more than {:.0f} days ahead", kStartAtAhead / 86400));
    return std::nullopt;
  }
  return start_at;
}

// `shard`: {index, count} with 0 <= index < count <= kMaxShards.
Shard ReadShard(ParamReader& p) {
  const rapidjson::Value* object = p.OptionalObject("shard");
  if (object == nullptr) return Shard{};
  ParamReader s(*object, p, "shard");
  std::optional<int64_t> count = s.OptionalInt("count", {.min = 1, .max = kMaxShards});
  std::optional<int64_t> index = s.OptionalInt("index", {.min = 0, .max = kMaxShards - 1});
  if (s.Get("count") == nullptr) s.Missing("count");
  if (s.Get("index") == nullptr) s.Missing("index");
  s.UnknownMembers({"index", "count"});
  if (!index || !count) return Shard{};
  if (*index >= *count) {
    s.AddProblem("index", fmt::format("must be less than shard.count ({}), got {}", *count, *index));
    return Shard{};
  }
  return Shard{static_cast<uint32_t>(*index), static_cast<uint32_t>(*count)};
}

// `sip`: {"local": "udp://IP:PORT"} (docs/protocol-ops.md#sip).
std::optional<sip::TransportAddress> ReadSipLocal(ParamReader& p) {
  const rapidjson::Value* sip = p.OptionalObject("sip");
  if (sip == nullptr) return std::nullopt;
  ParamReader s(*sip, p, "sip");
  s.UnknownMembers({"local"});
  const rapidjson::Value* local = s.Get("local");
  std::optional<std::string_view> text = s.OptionalString("local");
  if (!text) return std::nullopt;
  std::optional<sip::TransportAddress> address = sip::ParseTransportAddress(*text, true);
  if (!address) {
    s.WrongType("local",
                "an address \"udp://IP:PORT\" or \"tcp://IP:PORT\" (port 0: an ephemeral one)",
                *local);
    return std::nullopt;
  }
  return address;
}

}  // namespace

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
                                                const OpTable& op_types,
                                                std::string_view assigned_run_id,
                                                Problems* problems,
                                                std::optional<WallTime> now,
                                                const RunExtension* extension) {
  size_t problems_before = problems->size();
  if (!params.IsObject()) {
    problems->push_back({-1, "params", "must be an object, got " + QuoteValue(params)});
    return std::nullopt;
  }
  ParamReader p(params, problems, {});
  RunDefinition def;
  def.run_id = std::string(assigned_run_id);
  if (const rapidjson::Value* run_id = p.Get("run_id")) {
    std::optional<std::string_view> id = p.OptionalString("run_id");
    if (id && ValidRunId(*id)) {
      def.run_id = std::string(*id);
    } else if (id) {
      p.WrongType("run_id", kRunIdRule, *run_id);
    }
  }
  const rapidjson::Value* distribution = p.Get("distribution");
  def.distribution = ParseDistribution(distribution, *problems);
  def.trace_level = static_cast<int>(p.OptionalInt("trace_level", {.min = 0, .max = 3}).value_or(0));
  def.trace_messages = p.OptionalFlag("trace_messages").value_or(true);
  def.turbo = p.OptionalFlag("turbo").value_or(false);
  def.start_at = ReadStartAt(p, now);
  def.repeat = ReadRepeatPlan(p);
  def.shard = ReadShard(p);
  def.sip_local = ReadSipLocal(p);
  if (auto max_failures = p.OptionalInt("max_failures", {.min = 0})) {
    def.max_failures = static_cast<uint64_t>(*max_failures);
  }
  if (auto seed = p.OptionalInt("seed")) {
    def.seed = static_cast<uint64_t>(*seed);
  } else {
    std::random_device device;
    def.seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  def.tags = ReadTags(p);
  def.data = ReadRunData(p, limits, def.seed, &def.distribution);
  const rapidjson::Value* vars = p.OptionalObject("vars");
  const rapidjson::Value* globals = p.OptionalObject("globals");
  const rapidjson::Value* operations = p.Get("operations");
  if (operations == nullptr) p.Missing("operations");

  Result<std::unique_ptr<LuaSandbox>> lua = LuaSandbox::Create(limits.lua, def.run_id, def.seed);
  if (!lua.ok()) {
    p.AddProblem("lua", lua.message());
    return std::nullopt;
  }
  def.lua = std::move(lua.value());
  if (def.data != nullptr) {
    if (Status status = def.lua->SetRowSource(def.data.get()); !status.ok()) {
      p.AddProblem("data", status.message());
      return std::nullopt;
    }
  }
  if (operations != nullptr && operations->IsArray() &&
      operations->Size() > limits.max_operations) {
    def.too_many_operations = operations->Size();
  } else if (operations != nullptr) {
    def.program =
        Program::Build(*operations, *def.lua, op_types, limits.max_operations, problems);
  }
  def.thresholds = ReadThresholds(p, LatencyOps(operations, def.program.get()));
  if (extension != nullptr) {
    extension->CheckParams(p);
  } else if (p.Get("reporters") != nullptr) {
    p.AddProblem("reporters", "is not available here: this server sends no reports");
  }
  LoadJsonTables(p, vars, globals, *def.lua);
  if (problems->size() != problems_before) return std::nullopt;
  if (def.program == nullptr && def.too_many_operations == 0) return std::nullopt;
  return def;
}

}  // namespace testrund::ops
