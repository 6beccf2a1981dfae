// SPDX-License-Identifier: Apache-2.0
// Endpoints, payloads and message expectations of tcp.* and udp.* (see socket_message.h).
#include "ops/protocol/socket_message.h"

#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "ops/base/hex.h"
#include "ops/base/json_writer.h"
#include "ops/base/param_reader.h"
#include "ops/lua/lua_pattern.h"

namespace testrund::ops {
namespace {

// How many bytes of a received message a check text shows.
constexpr size_t kShownBytes = 64;

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
  if (Printable(head)) return JsonString(head) + more;
  return "hex " + JsonString(HexEncode(head)) + more;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void ReadHex(ParamReader& p, std::string_view name, std::string* bytes) {
  std::optional<std::string_view> hex = p.OptionalString(name);
  if (hex && !HexDecode(*hex, bytes)) {
    p.WrongType(name, "an even number of hex digits", *p.Get(name));
  }
}

}  // namespace

std::string Endpoint::Text() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

void ReadEndpoint(ParamReader& args, Endpoint* out) {
  if (auto host = args.OptionalString("host")) {
    // "[::1]", as an IPv6 address is written in a URL, is the address ::1.
    if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
      host = host->substr(1, host->size() - 2);
    }
    if (host->empty()) args.AddProblem("host", "must not be empty");
    out->host = std::string(*host);
  } else if (args.Get("host") == nullptr) {
    args.Missing("host");
  }
  if (auto port = args.OptionalInt("port", {.min = 1, .max = 65535})) {
    out->port = static_cast<uint16_t>(*port);
  } else if (args.Get("port") == nullptr) {
    args.Missing("port");
  }
}

void ReadPayload(ParamReader& args, std::string* bytes) {
  bool has_hex = args.Get("hex") != nullptr;
  bool has_text = args.Get("text") != nullptr;
  if (has_hex && has_text) {
    args.AddProblem("", R"(must not have both "hex" and "text")");
  } else if (!has_hex && !has_text) {
    args.AddProblem("", R"(needs "hex" or "text")");
  } else if (has_hex) {
    ReadHex(args, "hex", bytes);
  } else if (auto text = ReadLiteral(args, "text")) {
    *bytes = *text;
  }
}

void CheckMessageExpect(ParamReader& expect) {
  expect.UnknownMembers({"hex", "text", "contains", "pattern"});
  std::string ignored;
  ReadHex(expect, "hex", &ignored);
  (void)expect.OptionalString("text");
  (void)expect.OptionalString("contains");
  if (auto pattern = ReadLiteral(expect, "pattern")) {
    std::string problem = PatternProblem(*pattern);
    if (!problem.empty()) {
      expect.AddProblem("pattern", fmt::format("is not a valid Lua pattern: {}, got {}", problem,
                                               QuoteText(*pattern)));
    }
  }
}

void TraceSocketMessage(OpContext& ctx, std::string_view protocol, bool to_sut,
                        const Endpoint& endpoint, std::string_view bytes) {
  TraceMessage(ctx, protocol, to_sut, bytes)
      .SetString("host", endpoint.host)
      .SetUint("port", endpoint.port);
}

namespace {

bool PatternExpectation(OpContext& ctx, bool mandatory, std::string_view message,
                        std::string_view pattern) {
  std::string error;
  PatternResult result = MatchPattern(ctx.lua(), message, pattern, &error);
  std::string quoted = JsonString(pattern);
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
                         static_cast<uint64_t>(ctx.lua().pattern_step_budget()));
      break;
    case PatternResult::kError:
      text = fmt::format("pattern {} failed: {}", quoted, error);
      break;
  }
  return Expectation(ctx, mandatory, result == PatternResult::kMatch, text);
}

bool MessageExpectations(OpContext& ctx, std::string_view message,
                         const rapidjson::Value& expect, bool mandatory) {
  if (!expect.IsObject()) return true;
  ParamReader e(expect);
  if (const rapidjson::Value* hex = e.Get("hex")) {
    std::string want = Lower(std::string_view(hex->GetString(), hex->GetStringLength()));
    std::string got = HexEncode(message);
    bool passed = got == want;
    std::string shown = JsonString(got.substr(0, 2 * kShownBytes)) +
                        (message.size() > kShownBytes
                             ? fmt::format("... ({} bytes)", message.size())
                             : "");
    std::string text = passed ? fmt::format("hex is {}", shown)
                              : fmt::format("hex is {}, expected {}", shown, JsonString(want));
    if (!Expectation(ctx, mandatory, passed, text)) return false;
  }
  if (const rapidjson::Value* want = e.Get("text")) {
    std::string_view wanted(want->GetString(), want->GetStringLength());
    bool passed = message == wanted;
    std::string text = passed ? fmt::format("text is {}", Shown(message))
                              : fmt::format("text is {}, expected {}", Shown(message),
                                            JsonString(wanted));
    if (!Expectation(ctx, mandatory, passed, text)) return false;
  }
  if (const rapidjson::Value* contains = e.Get("contains")) {
    std::string_view needle(contains->GetString(), contains->GetStringLength());
    bool passed = message.find(needle) != std::string_view::npos;
    std::string text = fmt::format("message {} {}", passed ? "contains" : "does not contain",
                                   JsonString(needle));
    if (!Expectation(ctx, mandatory, passed, text)) return false;
  }
  if (const rapidjson::Value* pattern = e.Get("pattern")) {
    std::string_view p(pattern->GetString(), pattern->GetStringLength());
    if (!PatternExpectation(ctx, mandatory, message, p)) return false;
  }
  return true;
}

// i.<protocol> = {hex, text, length} of `message`.
rapidjson::Document Inbound(std::string_view message) {
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
  return inbound;
}

}  // namespace

bool RecordReceived(OpContext& ctx, const char* protocol, const Endpoint& endpoint,
                    std::string_view message, std::string_view wire,
                    const rapidjson::Value& expect, bool mandatory) {
  TraceSocketMessage(ctx, protocol, false, endpoint, wire);
  if (ctx.lua().may_read_inbound() && !SetInbound(ctx, protocol, Inbound(message))) return false;
  return MessageExpectations(ctx, message, expect, mandatory);
}

}  // namespace testrund::ops
