// SPDX-License-Identifier: Apache-2.0
// What tcp.* and udp.* share (ops/op_tcp.cpp, ops/op_udp.cpp): the endpoint and payload
// attributes, the rules of `expect` on a received message, and what a received message
// leaves behind: i.<protocol> = {hex, text, length}, a trace entry and one check_log entry
// per expectation.
//
//   arguments.host (string), arguments.port (1-65535, an int or a decimal string)
//   arguments.hex (even number of hex digits) | arguments.text (exactly one of them)
//   expect: hex (the whole message, any case), text (the whole message), contains (a
//           substring), pattern (a Lua pattern, ops/lua_pattern.h)
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/protocol/op_protocol.h"

namespace testrund::ops {

// connect / receive timeout (seconds) when `timeout` is absent.
constexpr double kDefaultSocketTimeout = 5;
// The largest message a receive takes, and the largest `length` (bytes).
constexpr size_t kMaxMessageBytes = 16u << 20;

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  // "host:port" ("[::1]:port" for an IPv6 address).
  std::string Text() const;
};

// `host` and `port` of `args` (both required).
void ReadEndpoint(ArgCheck& check, const rapidjson::Value& args, Endpoint* out);
// `hex` or `text` (exactly one) as bytes.
void ReadPayload(ArgCheck& check, const rapidjson::Value& args, std::string* bytes);
// Every member of `object` (at `prefix`, "arguments" or "expect") is one of `known`.
void CheckKnownKeys(ArgCheck& check, const rapidjson::Value& object, std::string_view prefix,
                    std::initializer_list<std::string_view> known);
// `expect` of a receive.
void CheckMessageExpect(ArgCheck& check, const rapidjson::Value& expect);
// `mandatory` is a bool; `name` (e.g. "expect") is absent from an op that does not use it.
void CheckMandatory(ArgCheck& check, const rapidjson::Value& op_json);
void CheckUnused(ArgCheck& check, const rapidjson::Value& op_json, std::string_view name,
                 std::string_view op_type);

// The op's `arguments`, `expect` and `mandatory`, evaluated. False: the instance aborted.
bool EvaluateSocketOp(Run& run, Instance& instance, const Op& op, rapidjson::Document* args,
                      rapidjson::Document* expect, bool* mandatory);
// True when `check` found nothing; else aborts the instance with its first problem.
bool AbortOnProblem(Run& run, Instance& instance, const Op& op, const ArgCheck& check);

// A trace entry for `bytes` sent to / received from `endpoint`, with host, port, length.
void TraceSocketMessage(Run& run, Instance& instance, const Op& op, std::string_view protocol,
                        bool to_sut, const Endpoint& endpoint, std::string_view bytes);

// After a receive: the trace entry of `wire` (the bytes as they crossed the wire),
// i.<protocol> = {hex, text, length} of `message`, and the expectations. Runs inside
// PendingIo::Complete. False: the instance aborted.
bool RecordReceived(Run& run, Instance& instance, const Op& op, const char* protocol,
                    const Endpoint& endpoint, std::string_view message, std::string_view wire,
                    const rapidjson::Value& expect, bool mandatory);

}  // namespace testrund::ops
