// SPDX-License-Identifier: Apache-2.0
// What tcp.* and udp.* share (ops/protocol/op_tcp.cpp, op_udp.cpp): the endpoint and
// payload attributes, the rules of `expect` on a received message, and what a received
// message leaves behind: i.<protocol> = {hex, text, length}, a trace entry and one
// check_log entry per expectation (docs/protocol-ops.md).
//
//   arguments.host (string), arguments.port (1-65535, an int or a decimal string)
//   arguments.hex (even number of hex digits) | arguments.text (exactly one of them)
//   expect: hex (the whole message, any case), text (the whole message), contains (a
//           substring), pattern (a Lua pattern, ops/lua/lua_pattern.h)
#pragma once

#include <cstdint>
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
void ReadEndpoint(ParamReader& args, Endpoint* out);
// `hex` or `text` (exactly one) as bytes.
void ReadPayload(ParamReader& args, std::string* bytes);
// `expect` of a receive: hex, text, contains, pattern.
void CheckMessageExpect(ParamReader& expect);

// A trace entry for `bytes` sent to / received from `endpoint`, with host, port, length.
void TraceSocketMessage(OpContext& ctx, std::string_view protocol, bool to_sut,
                        const Endpoint& endpoint, std::string_view bytes);

// After a receive: the trace entry of `wire` (the bytes as they crossed the wire),
// i.<protocol> = {hex, text, length} of `message`, and the expectations. Runs inside
// PendingIo::Complete. False: the instance aborted.
bool RecordReceived(OpContext& ctx, const char* protocol, const Endpoint& endpoint,
                    std::string_view message, std::string_view wire,
                    const rapidjson::Value& expect, bool mandatory);

}  // namespace testrund::ops
