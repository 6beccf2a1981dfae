// SPDX-License-Identifier: Apache-2.0
// The shared part of protocol ops (see op_protocol.h).
#include "ops/protocol/op_protocol.h"

#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/base/json_writer.h"
#include "ops/lua/lua_json.h"
#include "ops/run.h"
#include "ops/stats/trace_log.h"

namespace testrund::ops {

void InstanceIoDeleter::operator()(InstanceIo* io) const { delete io; }

InstanceIo::~InstanceIo() {
  // The in-flight op first: it may refer to the streams.
  pending.reset();
}

InstanceIo& IoOf(Instance& instance) {
  if (!instance.io) instance.io.reset(new InstanceIo());
  return *instance.io;
}

// --- PendingIo ---------------------------------------------------------------------------

PendingIo::PendingIo(Run& run, Instance& instance, const Op& op)
    : run_(run), instance_(instance), op_(op) {}

PendingIo::~PendingIo() = default;

void PendingIo::Park(MonoNs timeout, std::string timeout_text) {
  timeout_text_ = std::move(timeout_text);
  parked_at_ = run_.clock().Now();
  timer_ = run_.clock().NewTimer([this] { OnTimer(); });
  timer_->ArmAt(parked_at_ + timeout);
  run_.ParkIo(instance_);
}

double PendingIo::Elapsed() const {
  return static_cast<double>(run_.clock().Now() - parked_at_) / kNsPerSecond;
}

void PendingIo::Complete(const std::function<bool()>& complete) {
  if (finished_) return;
  finished_ = true;
  if (timer_) timer_->Cancel();
  run_.FinishIo(instance_, complete);
}

void PendingIo::OnTimer() {
  if (finished_) return;
  OnTimeout();
  Complete([this] {
    run_.Abort(instance_, op_, timeout_text_);
    return false;
  });
}

// --- Arguments -----------------------------------------------------------------------------

bool ArgCheck::Deferred(const rapidjson::Value& value) const {
  if (problems_ == nullptr || !value.IsString()) return false;
  std::string_view s(value.GetString(), value.GetStringLength());
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

void ArgCheck::Add(std::string_view field, std::string problem) {
  if (first_.empty()) first_ = problem;
  if (problems_ != nullptr) {
    problems_->push_back(Problem{op_idx_, std::string(field), std::move(problem)});
  }
}

std::string Quoted(const rapidjson::Value& value) { return JsonText(value); }

std::string QuotedString(std::string_view text) {
  return Quoted(rapidjson::Value(rapidjson::StringRef(text.data(), text.size())));
}

const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

bool ReadString(ArgCheck& check, const rapidjson::Value& object, std::string_view name,
                std::string_view field, std::string* out) {
  const rapidjson::Value* value = Member(object, name);
  if (value == nullptr || check.Deferred(*value)) return false;
  if (!value->IsString()) {
    check.Add(field, fmt::format("\"{}\" must be a string, got {}", field, Quoted(*value)));
    return false;
  }
  std::string_view s(value->GetString(), value->GetStringLength());
  // At validation a literal `\{` is still escaped.
  if (s.size() >= 2 && s[0] == '\\' && s[1] == '{') s.remove_prefix(1);
  out->assign(s);
  return true;
}

void ReadTimeout(ArgCheck& check, const rapidjson::Value& object, std::string_view field,
                 double default_seconds, MonoNs* out, std::string* text) {
  double seconds = default_seconds;
  if (const rapidjson::Value* value = Member(object, "timeout")) {
    if (check.Deferred(*value)) return;
    if (!ParseSeconds(*value, &seconds) || !(seconds > 0) || seconds > kMaxTimeout) {
      check.Add(field, fmt::format("\"timeout\" must be > 0 and <= {} seconds, got {}",
                                   SecondsText(kMaxTimeout), Quoted(*value)));
      return;
    }
  }
  *out = std::max<MonoNs>(1, static_cast<MonoNs>(std::llround(seconds * kNsPerSecond)));
  *text = SecondsText(seconds);
}

void ReadTls(ArgCheck& check, const rapidjson::Value& object, std::string_view field,
             bool* enabled, TlsOptions* out) {
  const rapidjson::Value* value = Member(object, "tls");
  if (value == nullptr || check.Deferred(*value)) return;
  if (value->IsBool()) {
    *enabled = value->GetBool();
    return;
  }
  if (!value->IsObject()) {
    check.Add(field, fmt::format("\"tls\" must be true, false or an object {{\"verify\", "
                                 "\"ca_file\", \"server_name\"}}, got {}",
                                 Quoted(*value)));
    return;
  }
  *enabled = true;
  if (const rapidjson::Value* verify = Member(*value, "verify"); verify && !check.Deferred(*verify)) {
    if (!verify->IsBool()) {
      check.Add(fmt::format("{}.verify", field),
                fmt::format("\"tls.verify\" must be true or false, got {}", Quoted(*verify)));
    } else {
      out->verify = verify->GetBool();
    }
  }
  ReadString(check, *value, "ca_file", fmt::format("{}.ca_file", field), &out->ca_file);
  ReadString(check, *value, "server_name", fmt::format("{}.server_name", field),
             &out->server_name);
}

const rapidjson::Value* ObjectAttribute(ArgCheck& check, const rapidjson::Value& op_json,
                                        std::string_view name, bool required) {
  const rapidjson::Value* value = Member(op_json, name);
  if (value == nullptr) {
    if (required) check.Add(name, fmt::format("missing required attribute \"{}\"", name));
    return nullptr;
  }
  if (check.Deferred(*value)) return nullptr;
  if (!value->IsObject()) {
    check.Add(name, fmt::format("\"{}\" must be an object, got {}", name, Quoted(*value)));
    return nullptr;
  }
  return value;
}

// --- Execution helpers ---------------------------------------------------------------------

bool EvaluateSlot(Run& run, Instance& instance, const Op& op, Slot slot,
                  rapidjson::Document* doc) {
  doc->SetNull();
  if (op.Template(slot).empty()) return true;
  return run.EvaluateValue(instance, op, slot, *doc, doc->GetAllocator());
}

bool EvaluateMandatory(Run& run, Instance& instance, const Op& op, bool* mandatory) {
  *mandatory = false;
  if (op.Template(Slot::kMandatory).empty()) return true;
  rapidjson::Document doc;
  if (!EvaluateSlot(run, instance, op, Slot::kMandatory, &doc)) return false;
  if (!doc.IsBool() && !doc.IsNull()) {
    run.Abort(instance, op,
              fmt::format("\"mandatory\" must be true or false, got {}", Quoted(doc)));
    return false;
  }
  *mandatory = doc.IsBool() && doc.GetBool();
  return true;
}

void ValidateMandatory(ArgCheck& check, const rapidjson::Value& op_json) {
  const rapidjson::Value* mandatory = Member(op_json, "mandatory");
  if (mandatory != nullptr && !check.Deferred(*mandatory) && !mandatory->IsBool()) {
    check.Add("mandatory",
              fmt::format("\"mandatory\" must be true or false, got {}", Quoted(*mandatory)));
  }
}

bool Expectation(Run& run, Instance& instance, const Op& op, bool mandatory, bool passed,
                 std::string_view text) {
  if (passed) {
    run.Check(instance, op, CheckStatus::kPass, text);
    return true;
  }
  if (mandatory) {
    run.Abort(instance, op, text);
    return false;
  }
  run.Check(instance, op, CheckStatus::kFail, text);
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

bool SetInbound(Run& run, Instance& instance, const Op& op, const char* name,
                const rapidjson::Value& value) {
  LuaSandbox& lua = run.lua();
  if (!lua.may_read_inbound()) return true;  // no code of this run can see it
  lua_State* L = lua.state();
  InboundArgs args{&instance.i_ref, &value, name};
  lua_pushcfunction(L, SetInboundProtected);
  lua_pushlightuserdata(L, &args);
  if (lua_pcall(L, 1, 0, 0) == LUA_OK) return true;
  lua_pop(L, 1);
  lua.CollectGarbage();
  run.Abort(instance, op,
            fmt::format("Lua memory limit ({} bytes) exceeded storing i.{} in op {} ({})",
                        lua.limits().memory_limit, name, op.idx, op.type->name));
  return false;
}

TraceLog::EntryRef TraceMessage(Run& run, Instance& instance, const Op& op,
                                std::string_view protocol, bool to_sut, std::string_view bytes) {
  TraceLog* log = run.MessageLog(instance);
  if (log == nullptr) return TraceLog::EntryRef();
  std::string path(protocol);
  path += to_sut ? ".tester_to_sut" : ".sut_to_tester";
  TraceLog::EntryRef entry = log->Add(run.clock().WallNow(), instance.step, op.idx, path);
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
      auto it = current->FindMember(rapidjson::Value(rapidjson::StringRef(part.data(),
                                                                          part.size())));
      current = it == current->MemberEnd() ? nullptr : &it->value;
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

}  // namespace testrund::ops
