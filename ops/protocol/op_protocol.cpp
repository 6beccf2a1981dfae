// SPDX-License-Identifier: Apache-2.0
// The shared part of protocol ops (see op_protocol.h).
#include "ops/protocol/op_protocol.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/base/json_numbers.h"
#include "ops/base/json_writer.h"
#include "ops/lua/lua_json.h"

namespace testrund::ops {

ProtocolIo::~ProtocolIo() {
  // The in-flight op first: it may refer to the streams.
  pending.reset();
}

ProtocolIo& IoOf(Instance& instance) {
  if (!instance.io) instance.io = std::make_unique<ProtocolIo>();
  return static_cast<ProtocolIo&>(*instance.io);
}

ProtocolIo* FindIo(Instance& instance) {
  return static_cast<ProtocolIo*>(instance.io.get());
}

// --- PendingIo ---------------------------------------------------------------------------

PendingIo::~PendingIo() = default;

void PendingIo::Park(MonoNs timeout, std::string timeout_text) {
  timeout_text_ = std::move(timeout_text);
  parked_at_ = ctx_.clock().Now();
  timer_ = ctx_.clock().NewTimer([this] { OnTimer(); });
  timer_->ArmAt(parked_at_ + timeout);
  ctx_.ParkIo();
}

double PendingIo::Elapsed() const {
  return static_cast<double>(ctx_.clock().Now() - parked_at_) / kNsPerSecond;
}

void PendingIo::Complete(const std::function<bool()>& complete) {
  if (finished_) return;
  finished_ = true;
  if (timer_) timer_->Cancel();
  ctx_.FinishIo(complete);
}

void PendingIo::OnTimer() {
  if (finished_) return;
  OnTimeout();
  Complete([this] {
    ctx_.Abort(timeout_text_);
    return false;
  });
}

// --- Parts ---------------------------------------------------------------------------------

namespace {

// Template `slot` of the op into `doc` (null when absent): the constant, or evaluated.
bool PartOf(OpContext& ctx, Slot slot, rapidjson::Document* doc, bool* constant) {
  const ValueTemplate& part = ctx.op().Template(slot);
  doc->SetNull();
  if (part.empty()) return true;
  if (part.is_constant()) {
    doc->CopyFrom(part.constant(), doc->GetAllocator());
    return true;
  }
  *constant = false;
  return ctx.EvaluateValue(slot, *doc, doc->GetAllocator());
}

}  // namespace

bool EvaluateParts(OpContext& ctx, OpParts* out, bool* constant) {
  *constant = true;
  rapidjson::Document mandatory;
  if (!PartOf(ctx, Slot::kArguments, &out->arguments, constant) ||
      !PartOf(ctx, Slot::kExpect, &out->expect, constant) ||
      !PartOf(ctx, Slot::kMandatory, &mandatory, constant)) {
    return false;
  }
  if (out->arguments.IsNull()) out->arguments.SetObject();
  if (!mandatory.IsNull() && !mandatory.IsBool()) {
    ctx.Abort("mandatory must be true or false, got " + QuoteValue(mandatory));
    return false;
  }
  out->mandatory = mandatory.IsBool() && mandatory.GetBool();
  return true;
}

void ReadParts(const OpParts& parts, int op_idx, Problems* problems,
               const std::function<void(ParamReader&, ParamReader&)>& read) {
  if (!parts.arguments.IsObject()) {
    problems->push_back(
        {op_idx, "arguments", "must be an object, got " + QuoteValue(parts.arguments)});
  }
  if (!parts.expect.IsNull() && !parts.expect.IsObject()) {
    problems->push_back({op_idx, "expect", "must be an object, got " + QuoteValue(parts.expect)});
  }
  ParamReader arguments(parts.arguments, problems, {.op_idx = op_idx, .prefix = "arguments."});
  ParamReader expect(parts.expect, problems, {.op_idx = op_idx, .prefix = "expect."});
  read(arguments, expect);
}

// --- Readers -------------------------------------------------------------------------------

void ReadTimeout(ParamReader& args, double default_seconds, MonoNs* out, std::string* text) {
  double seconds = default_seconds;
  if (args.Get("timeout") != nullptr) {
    std::optional<double> given = args.OptionalNumber(
        "timeout", {.min = 0, .max = kMaxTimeout, .min_exclusive = true}, "a number of seconds");
    if (!given) return;
    seconds = *given;
  }
  *out = std::max<MonoNs>(1, static_cast<MonoNs>(std::llround(seconds * kNsPerSecond)));
  *text = NumberText(seconds);
}

void ReadTls(ParamReader& args, bool* enabled, TlsOptions* out) {
  const rapidjson::Value* value = args.Get("tls");
  if (value == nullptr || args.Deferred(*value)) return;
  if (value->IsBool()) {
    *enabled = value->GetBool();
    return;
  }
  if (!value->IsObject()) {
    args.WrongType("tls", R"(true, false or an object {"verify", "ca_file", "server_name"})",
                   *value);
    return;
  }
  *enabled = true;
  ParamReader tls(*value, args, "tls");
  tls.UnknownMembers({"verify", "ca_file", "server_name"});
  if (auto verify = tls.OptionalBool("verify")) out->verify = *verify;
  if (auto ca_file = ReadLiteral(tls, "ca_file")) out->ca_file = *ca_file;
  if (auto server_name = ReadLiteral(tls, "server_name")) out->server_name = *server_name;
}

std::optional<std::string> ReadLiteral(ParamReader& p, std::string_view name) {
  std::optional<std::string_view> s = p.OptionalString(name);
  if (!s) return std::nullopt;
  // Validation reads the definition as given, where a literal `\{` is still escaped; an
  // executing op reads evaluated values, where a leading `\{` is the value's own text.
  if (p.defers_expressions() && s->size() >= 2 && (*s)[0] == '\\' && (*s)[1] == '{') {
    s->remove_prefix(1);
  }
  return std::string(*s);
}

// --- Execution helpers ---------------------------------------------------------------------

bool Expectation(OpContext& ctx, bool mandatory, bool passed, std::string_view text) {
  if (passed) {
    ctx.Check(CheckStatus::kPass, text);
    return true;
  }
  if (mandatory) {
    ctx.Abort(text);
    return false;
  }
  ctx.Check(CheckStatus::kFail, text);
  return true;
}

namespace {

struct InboundArgs {
  int* i_ref;  // the instance's `i`, created here when it has none
  const rapidjson::Value* value;
  const char* name;
};

// i[name] = value, in one protected call (creating `i` and its registry reference first
// when the instance has none).
int SetInboundProtected(lua_State* L) {
  auto* args = static_cast<InboundArgs*>(lua_touserdata(L, 1));
  if (*args->i_ref == kNoLuaRef) {
    lua_newtable(L);
    *args->i_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, *args->i_ref);
  lua_pushstring(L, args->name);
  PushJsonUnprotected(L, *args->value);
  lua_rawset(L, -3);
  return 0;
}

}  // namespace

bool SetInbound(OpContext& ctx, const char* name, const rapidjson::Value& value) {
  LuaSandbox& lua = ctx.lua();
  if (!lua.may_read_inbound()) return true;  // no code of this run can see it
  lua_State* L = lua.state();
  InboundArgs args{&ctx.instance().i_ref, &value, name};
  lua_pushcfunction(L, SetInboundProtected);
  lua_pushlightuserdata(L, &args);
  if (lua_pcall(L, 1, 0, 0) == LUA_OK) return true;
  lua_pop(L, 1);
  lua.CollectGarbage();
  const Op& op = ctx.op();
  ctx.Abort(fmt::format("Lua memory limit ({} bytes) exceeded storing i.{} in op {} ({})",
                        lua.limits().memory_limit, name, op.idx, op.type->name));
  return false;
}

TraceLog::EntryRef TraceMessage(OpContext& ctx, std::string_view protocol, bool to_sut,
                                std::string_view bytes) {
  TraceLog* log = ctx.MessageLog();
  if (log == nullptr) return TraceLog::EntryRef();
  // "<protocol>.tester_to_sut" on the stack: a heap string per message showed in profiles.
  char path[64];
  std::string_view suffix = to_sut ? ".tester_to_sut" : ".sut_to_tester";
  size_t length = std::min(protocol.size(), sizeof(path) - suffix.size());
  std::memcpy(path, protocol.data(), length);
  std::memcpy(path + length, suffix.data(), suffix.size());
  TraceLog::EntryRef entry = log->Add(ctx.wall_now(), ctx.instance().step, ctx.op().idx,
                                      std::string_view(path, length + suffix.size()));
  entry.SetString("protocol", protocol);
  entry.SetHex(bytes.substr(0, kMaxTracedMessageBytes));
  entry.SetUint("length", bytes.size());
  if (bytes.size() > kMaxTracedMessageBytes) entry.SetBool("truncated", true);
  return entry;
}

const rapidjson::Value* AtPath(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* current = &root;
  size_t start = 0;
  while (current != nullptr) {
    size_t dot = path.find('.', start);
    std::string_view part =
        path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (current->IsObject()) {
      current = MemberOrNull(*current, part);
    } else if (current->IsArray()) {
      size_t index = 0;
      bool numeric = !part.empty();
      for (char c : part) {
        if (c < '0' || c > '9') numeric = false;
        else index = index * 10 + static_cast<size_t>(c - '0');
      }
      current = numeric && index < current->Size() ? &(*current)[static_cast<rapidjson::SizeType>(
                                                         index)]
                                                   : nullptr;
    } else {
      current = nullptr;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return current;
}

const rapidjson::Value* MemberOrNull(const rapidjson::Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

}  // namespace testrund::ops
