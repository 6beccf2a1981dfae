// SPDX-License-Identifier: Apache-2.0
// Coordinator: `testrund --coordinator` (docs/scale-out.md). It runs no instance itself: an
// ExecuteTest is validated here as a daemon would, then started as one shard on every
// worker with a common start time; the other run methods ask the run's workers at once
// and merge their answers (rpc/merged_result.h) into what a single daemon would have
// answered. Every call to a worker is bounded by worker_timeout, so no client call waits
// longer on a dead worker. The methods answer through rpc::Reply (rpc/reply.h).
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/coordinator/coordinated_run.h"
#include "daemon/coordinator/coordinator_options.h"
#include "daemon/coordinator/fan_out.h"
#include "daemon/coordinator/worker_set.h"
#include "ops/base/deferred_free.h"
#include "ops/engine_limits.h"
#include "ops/net/io_context.h"
#include "ops/op_table.h"
#include "rpc/methods.h"
#include "rpc/reply.h"

namespace testrund::daemon {

class Coordinator {
 public:
  // Everything is borrowed and must outlive the coordinator; `limits` bound the definitions
  // it validates (and max_runs, completed_run_retention), `op_types` are the daemon's.
  Coordinator(ops::IoContext& io, const CoordinatorOptions& options,
              const ops::EngineLimits& limits, const ops::OpTable& op_types);
  // Drops every call in flight; their clients get -32603 (the daemon is stopping).
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Resolves the workers and starts the heartbeat.
  void Start();

  // The method table of a coordinator: the daemon's methods and roles, answered from the
  // workers. `state` is borrowed and must outlive the table.
  rpc::MethodTable Methods(rpc::ServerState& state);

  // Discards runs whose retention ended and forgets quarantined run ids.
  void Sweep();

  size_t live_runs() const;

  // The methods (docs/api.md#3-methods), each answering through `reply`.
  void ExecuteTest(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);
  void QueryTest(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);
  void CancelTest(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);
  // Every shard restarted at one new start_at (now + shard_lead); `previous` merged.
  void RestartTest(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);
  void ResumeInstance(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);
  void PauseTest(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);
  void UnpauseTest(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);
  void ListTests(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);
  void GetServerInfo(const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply);

 private:
  using SharedReply = std::shared_ptr<rpc::Reply>;  // a FanOut's callback must be copyable
  using Answers = std::vector<WorkerAnswer>;

  // Starts `calls`; `on_done` gets their answers (Heard is applied first).
  void Gather(std::vector<FanOut::Call> calls, std::function<void(Answers&)> on_done);
  void OnFanOutFinished(FanOut& fan_out);
  CoordinatedRun* Find(std::string_view run_id);
  std::string NextRunId();
  std::optional<rpc::RpcError> CheckAdmission(const ops::RunDefinition& def) const;
  void FinishExecute(const std::string& run_id, Answers& answers, rpc::Reply& reply);
  // The run `params` names, after a sweep; nullptr when `reply` was answered instead
  // (bad params, unknown run).
  CoordinatedRun* RunOf(const rapidjson::Value& params, rpc::Reply& reply);
  // False, with `reply` answered (the worker named, `suffix` after), when a worker holding a
  // shard of `run` is lost.
  bool AllWorkersUp(const CoordinatedRun& run, rpc::Reply& reply, std::string_view suffix);
  void FinishRestart(const std::string& run_id, std::vector<size_t>& shards, Answers& answers,
                     rpc::Reply& reply);
  // The same request to every shard of `run` that has no final result and whose worker is
  // not lost; `on_done` gets the shard index of each answer too.
  void AskShards(const CoordinatedRun& run, std::string_view method, const rapidjson::Value& params,
                 std::function<void(std::vector<size_t>& shards, Answers&)> on_done);
  // The merged QueryTest result of `run`'s cached finals and `fresh` answers (by shard),
  // with status `degraded` when some shard is missing.
  rpc::Outcome Merge(CoordinatedRun& run, std::vector<const rapidjson::Value*>& fresh,
                     rapidjson::Document::AllocatorType& alloc);
  void ChangePause(const rapidjson::Value& params, rpc::Reply reply, const char* method);
  void Discard(const std::string& run_id);

  ops::IoContext& io_;
  const CoordinatorOptions& options_;
  const ops::EngineLimits& limits_;
  const ops::OpTable& op_types_;
  WorkerSet workers_;
  std::map<std::string, CoordinatedRun, std::less<>> runs_;
  std::unordered_map<std::string, ops::MonoNs> discarded_;  // run_id -> when
  uint64_t next_run_number_ = 1;
  std::unordered_map<FanOut*, std::unique_ptr<FanOut>> fan_outs_;
  ops::DeferredFree<FanOut> finished_;
};

}  // namespace testrund::daemon
