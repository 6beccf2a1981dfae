// SPDX-License-Identifier: Apache-2.0
// The run methods: params in, one RunRegistry call, result or error out. The engine owns
// every rule (validation of definitions, error order, retention); this file maps its
// answers to JSON-RPC (docs/api.md).
#include "rpc/run_methods.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ops/base/param_reader.h"
#include "ops/run_registry.h"
#include "rpc/params.h"
#include "rpc/run_result.h"

namespace testrund::rpc {
namespace {

// The JSON-RPC error of each kind of engine failure.
ErrorCode CodeOf(ops::EngineError error) {
  switch (error) {
    case ops::EngineError::kInvalidParams: return ErrorCode::kInvalidParams;
    case ops::EngineError::kUnknownRun: return ErrorCode::kUnknownRun;
    case ops::EngineError::kRunIdInUse: return ErrorCode::kRunIdInUse;
    case ops::EngineError::kNoSuchInstance: return ErrorCode::kNoSuchInstance;
    case ops::EngineError::kNotHalted: return ErrorCode::kInstanceNotHalted;
    case ops::EngineError::kLimit: return ErrorCode::kServerLimit;
    case ops::EngineError::kBadState: return ErrorCode::kInvalidRunState;
    case ops::EngineError::kNone: break;
  }
  return ErrorCode::kInternalError;
}

RpcError EngineFailure(ops::EngineStatus status) {
  return RpcError(CodeOf(status.error), std::move(status.message));
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
RunIdParam ReadRunId(const rapidjson::Value& params, Allocator& a) {
  ops::ParamReader p(params);
  RunIdParam r{p.RequiredString("run_id"), std::nullopt};
  if (!p.ok()) r.error = InvalidParams(p.problems(), a);
  return r;
}

// The params of the methods that answer the status object (QueryTest, CancelTest):
// run_id, and mergeable (1 adds what an exact merge of shards needs,
// docs/api.md#mergeable-results; a coordinator's CancelTest merges the cancelled shards).
struct StatusParams {
  std::string_view run_id;
  bool mergeable = false;
  std::optional<RpcError> error;
  unsigned parts() const {
    return ops::kSnapshotQueryTest | (mergeable ? ops::kSnapshotHistograms : 0u);
  }
  ResultDetail detail() const {
    return mergeable ? ResultDetail::kMergeable : ResultDetail::kStandard;
  }
};
StatusParams ReadStatusParams(const rapidjson::Value& params, Allocator& a) {
  ops::ParamReader p(params);
  StatusParams r{p.RequiredString("run_id"), p.OptionalFlag("mergeable").value_or(false),
                 std::nullopt};
  if (!p.ok()) r.error = InvalidParams(p.problems(), a);
  return r;
}

// PauseTest and UnpauseTest differ only in the registry call and the status it leaves.
// The status is read by a Peek, not a Query: a Query has the side effect of returning (and
// so discarding) a completed run. Unpausing a run paused before its start leaves it
// `scheduled` while its start is still ahead.
using PauseCall = ops::EngineStatus (ops::RunRegistry::*)(std::string_view);
Outcome ChangePause(const rapidjson::Value& params, MethodContext& ctx, PauseCall call,
                    ops::RunStatus status_after) {
  RunIdParam id = ReadRunId(params, ctx.allocator);
  if (id.error) return std::move(*id.error);
  ops::EngineStatus status = (Runs(ctx).*call)(id.run_id);
  if (!status.ok()) return EngineFailure(std::move(status));
  rapidjson::Document scratch;
  std::optional<ops::RunSnapshot> now = Runs(ctx).Peek(id.run_id, 0, scratch.GetAllocator());
  std::string_view name = ops::RunStatusName(now ? now->status : status_after);
  rapidjson::Value r(rapidjson::kObjectType);
  r.AddMember("run_id", String(id.run_id, ctx.allocator), ctx.allocator);
  r.AddMember("status", rapidjson::StringRef(name.data(), name.size()), ctx.allocator);
  return Outcome(std::move(r));
}

}  // namespace

Outcome ExecuteTest(const rapidjson::Value& params, MethodContext& ctx) {
  ops::ExecuteResult r = Runs(ctx).Execute(params);
  if (r.error == ops::EngineError::kInvalidParams) {
    return InvalidParams(r.problems, ctx.allocator);
  }
  if (!r.ok()) return EngineFailure(std::move(r));
  rapidjson::Value result(rapidjson::kObjectType);
  result.AddMember("run_id", String(r.run_id, ctx.allocator), ctx.allocator);
  return Outcome(std::move(result));
}

Outcome QueryTest(const rapidjson::Value& params, MethodContext& ctx) {
  StatusParams status = ReadStatusParams(params, ctx.allocator);
  if (status.error) return std::move(*status.error);
  auto query = Runs(ctx).Query(status.run_id, status.parts(), ctx.allocator);
  if (!query.ok()) return EngineFailure(std::move(query));
  return Outcome(QueryTestResult(std::move(query.value), ctx.allocator, status.detail()));
}

Outcome CancelTest(const rapidjson::Value& params, MethodContext& ctx) {
  StatusParams status = ReadStatusParams(params, ctx.allocator);
  if (status.error) return std::move(*status.error);
  auto cancel = Runs(ctx).Cancel(status.run_id, status.parts(), ctx.allocator);
  if (!cancel.ok()) return EngineFailure(std::move(cancel));
  rapidjson::Value result =
      QueryTestResult(std::move(cancel.value.snapshot), ctx.allocator, status.detail());
  result.AddMember("cancelled", cancel.value.was_running ? 1 : 0, ctx.allocator);
  return Outcome(std::move(result));
}

Outcome RestartTest(const rapidjson::Value& params, MethodContext& ctx) {
  StatusParams status = ReadStatusParams(params, ctx.allocator);
  if (status.error) return std::move(*status.error);
  // start_at: when the new run starts (a coordinator restarts its shards together).
  ops::ParamReader p(params);
  std::optional<double> start_at =
      p.OptionalNumber("start_at", {.min = 0}, "a Unix time in seconds");
  if (!p.ok()) return InvalidParams(p.problems(), ctx.allocator);
  auto restart = Runs(ctx).Restart(status.run_id, status.parts(), ctx.allocator, start_at);
  if (!restart.ok()) return EngineFailure(std::move(restart));
  rapidjson::Value result(rapidjson::kObjectType);
  result.AddMember("run_id", String(status.run_id, ctx.allocator), ctx.allocator);
  result.AddMember("restarts", restart.value.restarts, ctx.allocator);
  result.AddMember("previous",
                   QueryTestResult(std::move(restart.value.snapshot), ctx.allocator,
                                   status.detail()),
                   ctx.allocator);
  return Outcome(std::move(result));
}

Outcome ResumeInstance(const rapidjson::Value& params, MethodContext& ctx) {
  ops::ParamReader p(params);
  std::string_view run_id = p.RequiredString("run_id");
  int64_t instance_id = p.RequiredInt("instance_id");
  const rapidjson::Value* vars = p.OptionalObject("vars");
  if (!p.ok()) return InvalidParams(p.problems(), ctx.allocator);
  ops::EngineStatus status = Runs(ctx).Resume(run_id, instance_id, vars);
  if (!status.ok()) return EngineFailure(std::move(status));
  rapidjson::Value result(rapidjson::kObjectType);
  result.AddMember("resumed", 1, ctx.allocator);
  return Outcome(std::move(result));
}

Outcome PauseTest(const rapidjson::Value& params, MethodContext& ctx) {
  return ChangePause(params, ctx, &ops::RunRegistry::Pause, ops::RunStatus::kPaused);
}

Outcome UnpauseTest(const rapidjson::Value& params, MethodContext& ctx) {
  return ChangePause(params, ctx, &ops::RunRegistry::Unpause, ops::RunStatus::kRunning);
}

Outcome ListTests(const rapidjson::Value& params, MethodContext& ctx) {
  ops::ParamReader p(params);
  std::optional<std::string_view> status_name = p.OptionalString("status");
  std::optional<std::string_view> tag = p.OptionalString("tag");
  std::optional<ops::RunStatus> status;
  if (status_name) {
    status = ops::RunStatusFromName(*status_name);
    if (!status) {
      p.WrongType("status",
                  "one of scheduled, running, paused, completed, cancelled, failed, interrupted",
                  *p.Get("status"));
    }
  }
  if (!p.ok()) return InvalidParams(p.problems(), ctx.allocator);
  rapidjson::Value runs(rapidjson::kArrayType);
  for (const ops::RunSnapshot& run : Runs(ctx).Runs(0, ctx.allocator)) {
    if (status && run.status != *status) continue;
    if (tag && std::find(run.tags.begin(), run.tags.end(), *tag) == run.tags.end()) continue;
    runs.PushBack(ListTestsEntry(run, ctx.allocator), ctx.allocator);
  }
  rapidjson::Value result(rapidjson::kObjectType);
  result.AddMember("runs", runs, ctx.allocator);
  return Outcome(std::move(result));
}

}  // namespace testrund::rpc
