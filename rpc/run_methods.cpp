// SPDX-License-Identifier: Apache-2.0
// The run methods: params in, one RunRegistry call, result or error out. The engine owns
// every rule (validation of definitions, error order, retention); this file only maps.
#include "rpc/run_methods.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ops/run_registry.h"
#include "rpc/run_result.h"
#include "rpc/params.h"

namespace testrund::rpc {
namespace {

RpcError EngineFailure(ops::EngineError error, std::string message) {
  return RpcError(static_cast<ErrorCode>(ops::EngineErrorCode(error)), std::move(message));
}

ops::RunRegistry& Runs(MethodContext& ctx) { return *ctx.server.runs; }

rapidjson::Value String(std::string_view s, Allocator& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// The run_id parameter every method but ExecuteTest and ListTests requires.
struct RunIdParam {
  std::string_view run_id;
  std::optional<RpcError> error;
};
RunIdParam ReadRunId(Params& p, Allocator& a) {
  RunIdParam r{p.RequiredString("run_id"), std::nullopt};
  if (!p.ok()) r.error = p.Error(a);
  return r;
}

// PauseTest and UnpauseTest differ only in the registry call and the status it leaves.
// The status is reported from the call's success, not by a Query: a Query has the side
// effect of returning (and so discarding) a completed run.
using PauseCall = ops::EngineError (ops::RunRegistry::*)(std::string_view, std::string*);
Outcome ChangePause(const rapidjson::Value& params, MethodContext& ctx, PauseCall call,
                    std::string_view status_after) {
  Params p(params);
  RunIdParam id = ReadRunId(p, ctx.allocator);
  if (id.error) return std::move(*id.error);
  std::string message;
  ops::EngineError error = (Runs(ctx).*call)(id.run_id, &message);
  if (error != ops::EngineError::kNone) return EngineFailure(error, std::move(message));
  rapidjson::Value r(rapidjson::kObjectType);
  r.AddMember("run_id", String(id.run_id, ctx.allocator), ctx.allocator);
  r.AddMember("status", rapidjson::StringRef(status_after.data(), status_after.size()),
              ctx.allocator);
  return Outcome(std::move(r));
}

constexpr std::string_view kStatusNames[] = {"running", "paused", "completed", "cancelled",
                                             "failed"};

}  // namespace

Outcome ExecuteTest(const rapidjson::Value& params, MethodContext& ctx) {
  ops::ExecuteResult r = Runs(ctx).Execute(params);
  if (r.error == ops::EngineError::kInvalidParams) {
    return InvalidParams(r.problems, ctx.allocator);
  }
  if (r.error != ops::EngineError::kNone) return EngineFailure(r.error, std::move(r.message));
  rapidjson::Value result(rapidjson::kObjectType);
  result.AddMember("run_id", String(r.run_id, ctx.allocator), ctx.allocator);
  return Outcome(std::move(result));
}

Outcome QueryTest(const rapidjson::Value& params, MethodContext& ctx) {
  Params p(params);
  RunIdParam id = ReadRunId(p, ctx.allocator);
  if (id.error) return std::move(*id.error);
  auto query = Runs(ctx).Query(id.run_id);
  if (!query.ok()) return EngineFailure(query.error, std::move(query.message));
  rapidjson::Value result(rapidjson::kObjectType);
  ops::WriteRunStatus(*query.value, result, ctx.allocator);
  return Outcome(std::move(result));
}

Outcome CancelTest(const rapidjson::Value& params, MethodContext& ctx) {
  Params p(params);
  RunIdParam id = ReadRunId(p, ctx.allocator);
  if (id.error) return std::move(*id.error);
  auto cancel = Runs(ctx).Cancel(id.run_id);
  if (!cancel.ok()) return EngineFailure(cancel.error, std::move(cancel.message));
  rapidjson::Value result(rapidjson::kObjectType);
  ops::WriteRunStatus(*cancel.value.first, result, ctx.allocator);
  result.AddMember("cancelled", cancel.value.second ? 1 : 0, ctx.allocator);
  return Outcome(std::move(result));
}

Outcome ResumeInstance(const rapidjson::Value& params, MethodContext& ctx) {
  Params p(params);
  std::string_view run_id = p.RequiredString("run_id");
  int64_t instance_id = p.RequiredInt("instance_id");
  const rapidjson::Value* vars = p.OptionalObject("vars");
  if (!p.ok()) return p.Error(ctx.allocator);
  std::string message;
  ops::EngineError error = Runs(ctx).Resume(run_id, instance_id, vars, &message);
  if (error != ops::EngineError::kNone) return EngineFailure(error, std::move(message));
  rapidjson::Value result(rapidjson::kObjectType);
  result.AddMember("resumed", 1, ctx.allocator);
  return Outcome(std::move(result));
}

Outcome PauseTest(const rapidjson::Value& params, MethodContext& ctx) {
  return ChangePause(params, ctx, &ops::RunRegistry::Pause, "paused");
}

Outcome UnpauseTest(const rapidjson::Value& params, MethodContext& ctx) {
  return ChangePause(params, ctx, &ops::RunRegistry::Unpause, "running");
}

Outcome ListTests(const rapidjson::Value& params, MethodContext& ctx) {
  Params p(params);
  std::optional<std::string_view> status = p.OptionalString("status");
  std::optional<std::string_view> tag = p.OptionalString("tag");
  if (status && std::find(std::begin(kStatusNames), std::end(kStatusNames), *status) ==
                    std::end(kStatusNames)) {
    p.AddProblem("status", "must be one of running, paused, completed, cancelled, failed, got " +
                               DescribeValue(params["status"]));
  }
  if (!p.ok()) return p.Error(ctx.allocator);
  rapidjson::Value runs(rapidjson::kArrayType);
  for (const ops::Run* run : Runs(ctx).Runs()) {
    if (status && ops::RunStatusName(run->status()) != *status) continue;
    if (tag && std::find(run->tags().begin(), run->tags().end(), *tag) == run->tags().end()) {
      continue;
    }
    rapidjson::Value entry(rapidjson::kObjectType);
    ops::WriteRunSummary(*run, entry, ctx.allocator);
    runs.PushBack(entry, ctx.allocator);
  }
  rapidjson::Value result(rapidjson::kObjectType);
  result.AddMember("runs", runs, ctx.allocator);
  return Outcome(std::move(result));
}

}  // namespace testrund::rpc
