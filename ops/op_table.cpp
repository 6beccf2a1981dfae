// SPDX-License-Identifier: Apache-2.0
// The operation type table (see op_table.h). SPEC §4 "Logic and control ops" row by row.
#include "ops/op_table.h"

#include <array>

namespace testrund::ops {
namespace {

constexpr double kMaxHaltSeconds = 600;
constexpr double kDefaultHaltSeconds = 60;

constexpr AttributeSpec kEvalAttributes[] = {
    {"expression", AttrKind::kLua, true, Slot::kExpression},
};
constexpr AttributeSpec kAssertAttributes[] = {
    {"expression", AttrKind::kLua, true, Slot::kExpression},
    {"pass", AttrKind::kTemplate, false, Slot::kPass},
    {"fail", AttrKind::kTemplate, false, Slot::kFail},
    {"abort", AttrKind::kTemplate, false, Slot::kAbort},
};
constexpr AttributeSpec kBranchAttributes[] = {
    {"expression", AttrKind::kLua, true, Slot::kExpression},
    {"on_true", AttrKind::kLabel, false, Slot::kOnTrue},
    {"on_false", AttrKind::kLabel, false, Slot::kOnFalse},
};
constexpr AttributeSpec kHaltAttributes[] = {
    {"arguments.seconds", AttrKind::kSeconds, false, Slot::kSeconds, kMaxHaltSeconds,
     kDefaultHaltSeconds},
    {"arguments.comment", AttrKind::kTemplate, false, Slot::kComment},
};
constexpr AttributeSpec kWaitAttributes[] = {
    {"arguments.seconds", AttrKind::kSeconds, true, Slot::kSeconds},
};
constexpr AttributeSpec kCommentAttributes[] = {
    {"text", AttrKind::kTemplate, false, Slot::kText},
};
// Protocol ops: the attributes are templates; their inner rules are the op's validator's.
constexpr AttributeSpec kProtocolAttributes[] = {
    {"arguments", AttrKind::kTemplate, false, Slot::kArguments},
    {"expect", AttrKind::kTemplate, false, Slot::kExpect},
    {"mandatory", AttrKind::kTemplate, false, Slot::kMandatory},
};

constexpr OpTypeSpec kOpTypes[] = {
    {"eval", kEvalAttributes, &ExecuteEval, false},
    {"assert", kAssertAttributes, &ExecuteAssert, false},
    {"branch", kBranchAttributes, &ExecuteBranch, false},
    {"halt", kHaltAttributes, &ExecuteHalt, true},
    {"wait", kWaitAttributes, &ExecuteWait, true},
    {"comment", kCommentAttributes, &ExecuteComment, false},
    {"http", kProtocolAttributes, &ExecuteHttp, true, &ValidateHttp},
    {"jsonrpc", kProtocolAttributes, &ExecuteJsonRpc, true, &ValidateJsonRpc},
    {"tcp.connect", kProtocolAttributes, &ExecuteTcpConnect, true, &ValidateTcpConnect},
    {"tcp.send", kProtocolAttributes, &ExecuteTcpSend, true, &ValidateTcpSend},
    {"tcp.receive", kProtocolAttributes, &ExecuteTcpReceive, true, &ValidateTcpReceive},
    {"tcp.close", kProtocolAttributes, &ExecuteTcpClose, false, &ValidateTcpClose},
    {"udp.send", kProtocolAttributes, &ExecuteUdpSend, true, &ValidateUdpSend},
    {"udp.receive", kProtocolAttributes, &ExecuteUdpReceive, true, &ValidateUdpReceive},
};

}  // namespace

const OpTypeSpec* FindOpType(std::string_view name) {
  for (const OpTypeSpec& spec : kOpTypes) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::span<const OpTypeSpec> OpTypes() { return kOpTypes; }

}  // namespace testrund::ops
