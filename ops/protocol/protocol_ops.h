// SPDX-License-Identifier: Apache-2.0
// The protocol op families' rows of the op table (docs/protocol-ops.md), and the table of
// every op type the daemon runs: the logic ops and these.
#pragma once

#include <span>

#include "ops/op_table.h"

namespace testrund::ops {

std::span<const OpTypeSpec> HttpOpTypes();     // http (ops/protocol/op_http.cpp)
std::span<const OpTypeSpec> JsonRpcOpTypes();  // jsonrpc (ops/protocol/op_jsonrpc.cpp)
std::span<const OpTypeSpec> TcpOpTypes();      // tcp.* (ops/protocol/op_tcp.cpp)
std::span<const OpTypeSpec> UdpOpTypes();      // udp.* (ops/protocol/op_udp.cpp)
std::span<const OpTypeSpec> SipOpTypes();      // sip.* (ops/protocol/op_sip.cpp)

// Every op type: logic, http, jsonrpc, tcp, udp, sip.
const OpTable& AllOpTypes();

}  // namespace testrund::ops
