// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: ExecuteTest validation of operation arrays, Lua expressions and `{...}`
// value templates (ops/run_definition, ops/program, ops/value_template, the LuaSandbox's
// compiler), and then the first loop turns of a valid run, so compiled expressions also
// execute. Structure-aware: the first byte picks where the rest of the input goes inside
// a fixed, otherwise valid ExecuteTest, so the fuzzer need not rediscover the envelope
// (seeds start with the digit '0'..'4'; any other byte maps to a mode too):
//   0: the rest is JSON text spliced in as the `operations` value (and may go on to add
//      more members after it: `[...], "distribution": {...}`)
//   1: the rest is an `eval` expression (Lua: expression or statements)
//   2: the rest is the inside of an `assert`'s `{...}` pass text (a Lua expression)
//   3: the rest is a `wait`'s arguments.seconds string (literal, or `{...}`)
//   4: the rest is a `branch` expression looping back to a label
// Oracle: no crash, leak, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <rapidjson/document.h>

#include "test/fakes/fake_clock.h"
#include "ops/base/json_writer.h"
#include "ops/protocol/protocol_ops.h"
#include "ops/run_registry.h"
#include "rpc/run_result.h"
#include "test/fuzz/fuzz_support.h"

namespace {

using namespace testrund;

constexpr int kLoopTurns = 16;
constexpr std::string_view kPrefix =
    R"({"run_id":"fz","seed":7,"vars":{"n":6,"s":"abc","t":[1,2,{"k":"v"}]},)"
    R"("globals":{"count":0},"operations":)";

rapidjson::Value Text(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

rapidjson::Value Op(std::string_view type, rapidjson::Document::AllocatorType& a) {
  rapidjson::Value op(rapidjson::kObjectType);
  op.AddMember("type", Text(type, a), a);
  return op;
}

// The params of modes 1-4: the fuzzed string placed in one attribute of a small program.
bool BuildParams(uint8_t mode, std::string_view text, rapidjson::Document* params) {
  std::string base(kPrefix);
  base += "[]}";
  params->Parse(base.data(), base.size());
  auto& a = params->GetAllocator();
  rapidjson::Value& ops = (*params)["operations"];
  switch (mode) {
    case 1: {
      rapidjson::Value op = Op("eval", a);
      op.AddMember("expression", Text(text, a), a);
      ops.PushBack(op, a);
      break;
    }
    case 2: {
      rapidjson::Value op = Op("assert", a);
      op.AddMember("expression", "v.n == 6", a);
      op.AddMember("pass", Text("{" + std::string(text) + "}", a), a);
      ops.PushBack(op, a);
      break;
    }
    case 3: {
      rapidjson::Value op = Op("wait", a);
      rapidjson::Value args(rapidjson::kObjectType);
      args.AddMember("seconds", Text(text, a), a);
      op.AddMember("arguments", args, a);
      ops.PushBack(op, a);
      break;
    }
    case 4: {
      rapidjson::Value top = Op("eval", a);
      top.AddMember("label", "top", a);
      top.AddMember("expression", "v.n = v.n + 1", a);
      ops.PushBack(top, a);
      rapidjson::Value branch = Op("branch", a);
      branch.AddMember("expression", Text(text, a), a);
      branch.AddMember("on_true", "top", a);
      ops.PushBack(branch, a);
      break;
    }
    default:
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = static_cast<uint8_t>(data[0] - '0') % 5;  // seeds start with '0'..'4'
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  rapidjson::Document params;
  if (mode == 0) {
    std::string text(kPrefix);
    text.append(rest);
    text += "}";
    params.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    if (params.HasParseError() || !params.IsObject()) return 0;
  } else if (!BuildParams(mode, rest, &params)) {
    return 0;
  }

  ops::FakeClock clock;
  // Every op type: protocol ops are validated, and abort at once without an IoContext.
  ops::RunRegistry runs(clock, fuzz::FuzzEngineLimits(), ops::AllOpTypes());
  ops::ExecuteResult result = runs.Execute(params);
  if (result.error != ops::EngineError::kNone) return 0;
  fuzz::RunLoopTurns(clock, kLoopTurns);
  // Query after the turns, as a client would (writes the whole status object).
  rapidjson::Document status;
  auto query = runs.Query(result.run_id, ops::kSnapshotQueryTest, status.GetAllocator());
  if (query.ok()) {
    rapidjson::Value result_object =
        rpc::QueryTestResult(std::move(query.value), status.GetAllocator());
    fuzz::CheckResponse(ops::JsonText(result_object));
  }
  return 0;
}
