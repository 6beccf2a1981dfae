// SPDX-License-Identifier: Apache-2.0
// Endpoints, payloads and message expectations of tcp.* and udp.* (see socket_message.h).
#include "ops/protocol/socket_message.h"

#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "ops/lua/lua_pattern.h"
#include "ops/run.h"

namespace testrund::ops {
namespace {

// How many bytes of a received message a check text shows.
constexpr size_t kShownBytes = 64;

bool ParsePort(const rapidjson::Value& value, uint16_t* out) {
  int64_t n = -1;
  if (value.IsInt64()) {
    n = value.GetInt64();
  } else if (value.IsDouble() && std::floor(value.GetDouble()) == value.GetDouble() &&
             std::fabs(value.GetDouble()) < 1e6) {
    n = static_cast<int64_t>(value.GetDouble());
  } else if (value.IsString() && value.GetStringLength() >= 1 && value.GetStringLength() <= 5) {
    n = 0;
    for (const char* c = value.GetString(); *c != '\0'; ++c) {
      if (*c < '0' || *c > '9') return false;
      n = n * 10 + (*c - '0');
    }
  }
  if (n < 1 || n > 65535) return false;
  *out = static_cast<uint16_t>(n);
  return true;
}

bool Printable(std::string_view bytes) {
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u >= 0x7f) return false;
  }
  return true;
}

// A received message in a check text: quoted when it is printable ASCII, else as hex; cut
// after kShownBytes bytes.
std::string Shown(std::string_view bytes) {
  std::string_view head = bytes.substr(0, kShownBytes);
  std::string more = bytes.size() > kShownBytes ? fmt::format("... ({} bytes)", bytes.size()) : "";
  if (Printable(head)) return QuotedString(head) + more;
  return "hex " + QuotedString(HexEncode(head)) + more;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void ReadHex(ArgCheck& check, const rapidjson::Value& object, std::string_view name,
             std::string_view field, std::string* bytes) {
  std::string hex;
  if (!ReadString(check, object, name, field, &hex)) return;
  if (!HexDecode(hex, bytes)) {
    check.Add(field, fmt::format("\"{}\" must be an even number of hex digits, got {}", field,
                                 QuotedString(hex)));
  }
}

}  // namespace

std::string Endpoint::Text() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

void ReadEndpoint(ArgCheck& check, const rapidjson::Value& args, Endpoint* out) {
  if (Member(args, "host") == nullptr) {
    check.Add("arguments.host", "missing required attribute \"arguments.host\"");
  } else if (ReadString(check, args, "host", "arguments.host", &out->host) && out->host.empty()) {
    check.Add("arguments.host", "\"arguments.host\" must not be empty");
  }
  const rapidjson::Value* port = Member(args, "port");
  if (port == nullptr) {
    check.Add("arguments.port", "missing required attribute \"arguments.port\"");
  } else if (!check.Deferred(*port) && !ParsePort(*port, &out->port)) {
    check.Add("arguments.port",
              fmt::format("\"arguments.port\" must be a port number (1-65535), got {}",
                          Quoted(*port)));
  }
}

void ReadPayload(ArgCheck& check, const rapidjson::Value& args, std::string* bytes) {
  bool has_hex = Member(args, "hex") != nullptr;
  bool has_text = Member(args, "text") != nullptr;
  if (has_hex && has_text) {
    check.Add("arguments", "\"arguments\" must not have both \"hex\" and \"text\"");
  } else if (!has_hex && !has_text) {
    check.Add("arguments", "\"arguments\" needs \"hex\" or \"text\"");
  } else if (has_hex) {
    ReadHex(check, args, "hex", "arguments.hex", bytes);
  } else {
    ReadString(check, args, "text", "arguments.text", bytes);
  }
}

void CheckKnownKeys(ArgCheck& check, const rapidjson::Value& object, std::string_view prefix,
                    std::initializer_list<std::string_view> known) {
  if (!object.IsObject()) return;
  for (const auto& member : object.GetObject()) {
    std::string_view name(member.name.GetString(), member.name.GetStringLength());
    bool found = false;
    for (std::string_view k : known) found = found || k == name;
    if (!found) {
      std::string field = fmt::format("{}.{}", prefix, name);
      check.Add(field, fmt::format("unknown attribute {}", QuotedString(field)));
    }
  }
}

void CheckMessageExpect(ArgCheck& check, const rapidjson::Value& expect) {
  CheckKnownKeys(check, expect, "expect", {"hex", "text", "contains", "pattern"});
  std::string ignored;
  ReadHex(check, expect, "hex", "expect.hex", &ignored);
  ReadString(check, expect, "text", "expect.text", &ignored);
  ReadString(check, expect, "contains", "expect.contains", &ignored);
  std::string pattern;
  if (ReadString(check, expect, "pattern", "expect.pattern", &pattern)) {
    std::string problem = PatternProblem(pattern);
    if (!problem.empty()) {
      check.Add("expect.pattern",
                fmt::format("\"expect.pattern\" is not a valid Lua pattern: {}, got {}", problem,
                            QuotedString(pattern)));
    }
  }
}

void CheckMandatory(ArgCheck& check, const rapidjson::Value& op_json) {
  const rapidjson::Value* mandatory = Member(op_json, "mandatory");
  if (mandatory != nullptr && !check.Deferred(*mandatory) && !mandatory->IsBool()) {
    check.Add("mandatory",
              fmt::format("\"mandatory\" must be true or false, got {}", Quoted(*mandatory)));
  }
}

void CheckUnused(ArgCheck& check, const rapidjson::Value& op_json, std::string_view name,
                 std::string_view op_type) {
  if (Member(op_json, name) != nullptr) {
    check.Add(name, fmt::format("\"{}\" is not used by {}", name, op_type));
  }
}

bool EvaluateSocketOp(Run& run, Instance& instance, const Op& op, rapidjson::Document* args,
                      rapidjson::Document* expect, bool* mandatory) {
  if (run.io() == nullptr) {
    run.Abort(instance, op, "protocol ops need an event loop (this engine has no IoContext)");
    return false;
  }
  if (!EvaluateSlot(run, instance, op, Slot::kArguments, args) ||
      !EvaluateSlot(run, instance, op, Slot::kExpect, expect) ||
      !EvaluateMandatory(run, instance, op, mandatory)) {
    return false;
  }
  ArgCheck check;
  if (args->IsNull()) args->SetObject();
  if (!args->IsObject()) {
    check.Add("arguments", fmt::format("\"arguments\" must be an object, got {}", Quoted(*args)));
  }
  if (!expect->IsNull() && !expect->IsObject()) {
    check.Add("expect", fmt::format("\"expect\" must be an object, got {}", Quoted(*expect)));
  }
  return AbortOnProblem(run, instance, op, check);
}

bool AbortOnProblem(Run& run, Instance& instance, const Op& op, const ArgCheck& check) {
  if (check.ok()) return true;
  run.Abort(instance, op, check.first());
  return false;
}

void TraceSocketMessage(Run& run, Instance& instance, const Op& op, std::string_view protocol,
                        bool to_sut, const Endpoint& endpoint, std::string_view bytes) {
  TraceMessage(run, instance, op, protocol, to_sut, bytes)
      .SetString("host", endpoint.host)
      .SetUint("port", endpoint.port);
}

namespace {

bool PatternExpectation(Run& run, Instance& instance, const Op& op, bool mandatory,
                        std::string_view message, std::string_view pattern) {
  std::string error;
  PatternResult result = MatchPattern(run.lua(), message, pattern, &error);
  std::string quoted = QuotedString(pattern);
  std::string text;
  switch (result) {
    case PatternResult::kMatch: text = fmt::format("message matches pattern {}", quoted); break;
    case PatternResult::kNoMatch:
      text = fmt::format("message does not match pattern {}", quoted);
      break;
    case PatternResult::kTooCostly:
      text = fmt::format("pattern {} not tried: a {}-byte message is too long for it (the "
                         "worst case exceeds {} steps)",
                         quoted, message.size(),
                         static_cast<uint64_t>(run.lua().pattern_step_budget()));
      break;
    case PatternResult::kError:
      text = fmt::format("pattern {} failed: {}", quoted, error);
      break;
  }
  return Expectation(run, instance, op, mandatory, result == PatternResult::kMatch, text);
}

bool MessageExpectations(Run& run, Instance& instance, const Op& op, std::string_view message,
                         const rapidjson::Value& expect, bool mandatory) {
  if (!expect.IsObject()) return true;
  if (const rapidjson::Value* hex = Member(expect, "hex")) {
    std::string want = Lower(std::string_view(hex->GetString(), hex->GetStringLength()));
    std::string got = HexEncode(message);
    bool passed = got == want;
    std::string shown = QuotedString(got.substr(0, 2 * kShownBytes)) +
                        (message.size() > kShownBytes
                             ? fmt::format("... ({} bytes)", message.size())
                             : "");
    std::string text = passed ? fmt::format("hex is {}", shown)
                              : fmt::format("hex is {}, expected {}", shown, QuotedString(want));
    if (!Expectation(run, instance, op, mandatory, passed, text)) return false;
  }
  if (const rapidjson::Value* want = Member(expect, "text")) {
    std::string_view wanted(want->GetString(), want->GetStringLength());
    bool passed = message == wanted;
    std::string text = passed ? fmt::format("text is {}", Shown(message))
                              : fmt::format("text is {}, expected {}", Shown(message),
                                            QuotedString(wanted));
    if (!Expectation(run, instance, op, mandatory, passed, text)) return false;
  }
  if (const rapidjson::Value* contains = Member(expect, "contains")) {
    std::string_view needle(contains->GetString(), contains->GetStringLength());
    bool passed = message.find(needle) != std::string_view::npos;
    std::string text = fmt::format("message {} {}", passed ? "contains" : "does not contain",
                                   QuotedString(needle));
    if (!Expectation(run, instance, op, mandatory, passed, text)) return false;
  }
  if (const rapidjson::Value* pattern = Member(expect, "pattern")) {
    std::string_view p(pattern->GetString(), pattern->GetStringLength());
    if (!PatternExpectation(run, instance, op, mandatory, message, p)) return false;
  }
  return true;
}

}  // namespace

bool RecordReceived(Run& run, Instance& instance, const Op& op, const char* protocol,
                    const Endpoint& endpoint, std::string_view message, std::string_view wire,
                    const rapidjson::Value& expect, bool mandatory) {
  TraceSocketMessage(run, instance, op, protocol, false, endpoint, wire);
  rapidjson::Document inbound(rapidjson::kObjectType);
  auto& alloc = inbound.GetAllocator();
  std::string hex = HexEncode(message);
  inbound.AddMember("hex",
                    rapidjson::Value(hex.data(), static_cast<rapidjson::SizeType>(hex.size()),
                                     alloc),
                    alloc);
  inbound.AddMember("text",
                    rapidjson::Value(message.data(),
                                     static_cast<rapidjson::SizeType>(message.size()), alloc),
                    alloc);
  inbound.AddMember("length", static_cast<uint64_t>(message.size()), alloc);
  if (!SetInbound(run, instance, op, protocol, inbound)) return false;
  return MessageExpectations(run, instance, op, message, expect, mandatory);
}

}  // namespace testrund::ops
