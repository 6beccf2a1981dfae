// SPDX-License-Identifier: Apache-2.0
// The -32602 error built from a list of problems (see params.h).
#include "rpc/params.h"

#include <string>
#include <utility>

namespace testrund::rpc {
namespace {

constexpr size_t kMaxMessageProblems = 3;  // problems spelled out in `message`

}  // namespace

RpcError InvalidParams(const ops::Problems& problems, Allocator& a) {
  std::string message(DefaultMessage(ErrorCode::kInvalidParams));
  rapidjson::Value data(rapidjson::kArrayType);
  data.Reserve(static_cast<rapidjson::SizeType>(problems.size()), a);
  size_t i = 0;
  for (const ops::Problem& p : problems) {
    if (i < kMaxMessageProblems) {
      message += i == 0 ? ": " : "; ";
      std::string where = p.field;
      if (p.op_idx >= 0) {
        where = "operations[" + std::to_string(p.op_idx) + "]" + (where.empty() ? "" : ".") + where;
      }
      message += where.empty() ? p.problem : where + " " + p.problem;
    }
    ++i;
    rapidjson::Value entry(rapidjson::kObjectType);
    if (p.op_idx >= 0) entry.AddMember("op_idx", p.op_idx, a);
    entry.AddMember("field", rapidjson::Value(p.field, a), a);
    entry.AddMember("problem", rapidjson::Value(p.problem, a), a);
    data.PushBack(entry, a);
  }
  if (problems.size() > kMaxMessageProblems) {
    message += " (and " + std::to_string(problems.size() - kMaxMessageProblems) + " more)";
  }
  return RpcError(ErrorCode::kInvalidParams, std::move(message), std::move(data));
}

}  // namespace testrund::rpc
