// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: one request body through the JSON-RPC envelope and dispatcher with the
// daemon's real method table over an in-process RunRegistry on a FakeClock. The runs an
// ExecuteTest creates get a few loop turns, then the same body is handled again (a
// QueryTest now sees progress, an ExecuteTest meets its own run_id). A body that mentions
// "auth" is dispatched as on a framed connection with tokens configured ("op" is an
// operator, "obs" an observer), so the token and role checks are reached too.
// Oracles: no crash, leak or sanitizer report; every response is JSON of the right shape;
// what ParseJson accepts holds only valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "test/fakes/fake_clock.h"
#include "ops/protocol/protocol_ops.h"
#include "ops/run_registry.h"
#include "rpc/dispatcher.h"
#include "rpc/json_parse.h"
#include "rpc/methods.h"
#include "test/fuzz/fuzz_support.h"

namespace {

using namespace testrund;

constexpr size_t kMaxJsonDepth = 64;
constexpr int kLoopTurns = 8;

std::optional<rpc::Role> LookupToken(std::string_view token) {
  if (token == "op") return rpc::Role::kOperator;
  if (token == "obs") return rpc::Role::kObserver;
  return std::nullopt;
}

void HandleAndCheck(rpc::Dispatcher& dispatcher, std::string_view body,
                    const rpc::Caller& caller) {
  std::optional<std::string> response = dispatcher.Handle(body, caller);
  if (response) fuzz::CheckResponse(*response);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  rapidjson::Document parsed;
  if (rpc::ParseJson(body, kMaxJsonDepth, parsed).empty()) fuzz::CheckUtf8Tree(parsed);

  ops::FakeClock clock;
  ops::RunRegistry runs(clock, fuzz::FuzzEngineLimits(), ops::AllOpTypes());
  rpc::ServerState state{.runs = &runs, .time_start = ops::WallTime{1'700'000'000, 0}};
  rpc::MethodTable table = rpc::BuildDefaultMethods(state);
  rpc::Dispatcher dispatcher(table, rpc::DispatchLimits{.max_json_depth = kMaxJsonDepth},
                             &LookupToken);
  rpc::Caller caller{.auth_required = body.find("\"auth\"") != std::string_view::npos,
                     .role = std::nullopt};

  HandleAndCheck(dispatcher, body, caller);
  fuzz::RunLoopTurns(clock, kLoopTurns);
  HandleAndCheck(dispatcher, body, caller);
  fuzz::RunLoopTurns(clock, kLoopTurns);
  return 0;
}
