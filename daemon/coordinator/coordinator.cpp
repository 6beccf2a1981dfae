// SPDX-License-Identifier: Apache-2.0
// Coordinator (see coordinator.h): the runs it started, its fan-outs, and the methods.
#include "daemon/coordinator/coordinator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <span>
#include <utility>

#include "daemon/log.h"
#include "ops/base/param_reader.h"
#include "ops/stats/run_snapshot.h"
#include "rpc/merged_result.h"
#include "rpc/params.h"
#include "rpc/server_methods.h"

namespace testrund::daemon {
namespace {

using Allocator = rapidjson::Document::AllocatorType;
using rpc::ErrorCode;
using rpc::RpcError;

// How long a discarded run_id stays in use, as on a daemon (ops/run_registry.h).
constexpr ops::MonoNs kDiscardedIdQuarantine = 600 * ops::kNsPerSecond;

ops::MonoNs Ns(double seconds) { return static_cast<ops::MonoNs>(seconds * ops::kNsPerSecond); }

RpcError UnknownRun(std::string_view run_id) {
  return RpcError(
      ErrorCode::kUnknownRun,
      fmt::format("unknown run_id \"{}\" (never existed, discarded, or cancelled)", run_id));
}

std::string_view View(const rapidjson::Value& s) {
  return std::string_view(s.GetString(), s.GetStringLength());
}

int64_t IntMember(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return 0;
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

// The error a client gets for a worker that did not do its part: the worker's own error
// (its code, its message after the worker's address, its data), or -32005 naming the
// worker and the failure (docs/scale-out.md#errors).
RpcError WorkerError(const WorkerAddress& worker, const WorkerAnswer& answer, Allocator& a,
                     std::string_view consequence = {}) {
  if (answer.error != nullptr) {
    const rapidjson::Value& e = *answer.error;
    RpcError error;
    error.code = e["code"].GetInt();
    auto message = e.FindMember("message");
    error.message = fmt::format(
        "worker {}: {}{}", worker.text,
        message != e.MemberEnd() && message->value.IsString() ? View(message->value) : "",
        consequence);
    auto data = e.FindMember("data");
    if (data != e.MemberEnd()) error.data = rapidjson::Value(data->value, a);
    return error;
  }
  return RpcError(ErrorCode::kServerLimit,
                  fmt::format("{}: worker {}: {}{}", rpc::DefaultMessage(ErrorCode::kServerLimit),
                              worker.text, answer.failure, consequence));
}

WorkerAnswer LostAnswer(double timeout) {
  WorkerAnswer lost;
  lost.failure = fmt::format("lost (no answer for {} s)", timeout);
  return lost;
}

rapidjson::Value RunIdParams(std::string_view run_id, Allocator& a, bool mergeable) {
  rapidjson::Value p(rapidjson::kObjectType);
  p.AddMember("run_id",
              rapidjson::Value(run_id.data(), static_cast<rapidjson::SizeType>(run_id.size()), a),
              a);
  if (mergeable) p.AddMember("mergeable", 1, a);
  return p;
}

// The run_id parameter, read as a daemon reads it.
std::optional<std::string_view> ReadRunId(const rapidjson::Value& params, rpc::Reply& reply) {
  ops::ParamReader p(params);
  std::string_view run_id = p.RequiredString("run_id");
  if (p.ok()) return run_id;
  reply.Send(rpc::InvalidParams(p.problems(), reply.allocator()));
  return std::nullopt;
}

}  // namespace

Coordinator::Coordinator(ops::IoContext& io, const CoordinatorOptions& options,
                         const ops::EngineLimits& limits, const ops::OpTable& op_types)
    : io_(io),
      options_(options),
      limits_(limits),
      op_types_(op_types),
      workers_(io, options),
      finished_(io.clock()) {}

Coordinator::~Coordinator() {
  // The fan-outs' callbacks hold replies: destroying them answers their clients.
  fan_outs_.clear();
  finished_.Flush();
}

void Coordinator::Start() { workers_.Start(); }

size_t Coordinator::live_runs() const {
  size_t n = 0;
  for (const auto& [id, run] : runs_) n += run.doomed ? 0 : 1;
  return n;
}

void Coordinator::Gather(std::vector<FanOut::Call> calls, std::function<void(Answers&)> on_done) {
  std::vector<std::string> addresses;
  for (const FanOut::Call& call : calls) addresses.push_back(call.worker.text);
  auto fan_out = std::make_unique<FanOut>(
      io_, std::move(calls), Ns(options_.worker_timeout),
      [this, addresses = std::move(addresses), on_done = std::move(on_done)](Answers& answers) {
        for (size_t i = 0; i < answers.size(); ++i) {
          if (answers[i].answered()) workers_.Heard(addresses[i]);
        }
        on_done(answers);
      },
      [this](FanOut& done) { OnFanOutFinished(done); });
  FanOut* key = fan_out.get();
  fan_outs_.emplace(key, std::move(fan_out));
  key->Start();
}

void Coordinator::OnFanOutFinished(FanOut& fan_out) {
  auto it = fan_outs_.find(&fan_out);
  if (it == fan_outs_.end()) return;
  finished_.Add(std::move(it->second));
  fan_outs_.erase(it);
}

CoordinatedRun* Coordinator::Find(std::string_view run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end() || it->second.doomed || it->second.starting) return nullptr;
  return &it->second;
}

CoordinatedRun* Coordinator::RunOf(const rapidjson::Value& params, rpc::Reply& reply) {
  Sweep();
  std::optional<std::string_view> id = ReadRunId(params, reply);
  if (!id) return nullptr;
  CoordinatedRun* run = Find(*id);
  if (run == nullptr) reply.Send(UnknownRun(*id));
  return run;
}

bool Coordinator::AllWorkersUp(const CoordinatedRun& run, rpc::Reply& reply,
                               std::string_view suffix) {
  for (const WorkerAddress& worker : run.shards) {
    if (workers_.IsLost(worker.text)) {
      reply.Send(WorkerError(worker, LostAnswer(options_.worker_timeout), reply.allocator(),
                             suffix));
      return false;
    }
  }
  return true;
}

void Coordinator::Discard(const std::string& run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  it->second.doomed = true;
  discarded_[run_id] = io_.clock().Now();
}

void Coordinator::Sweep() {
  ops::MonoNs now = io_.clock().Now();
  ops::MonoNs retention = Ns(limits_.completed_run_retention);
  for (auto it = runs_.begin(); it != runs_.end();) {
    CoordinatedRun& run = it->second;
    if (!run.doomed && run.returned_at && now - *run.returned_at >= retention) {
      run.doomed = true;
      discarded_[it->first] = now;
    }
    it = run.doomed ? runs_.erase(it) : std::next(it);
  }
  for (auto it = discarded_.begin(); it != discarded_.end();) {
    it = now - it->second >= kDiscardedIdQuarantine ? discarded_.erase(it) : std::next(it);
  }
}

std::string Coordinator::NextRunId() {
  while (true) {
    std::string id = fmt::format("tr_{}", next_run_number_++);
    if (runs_.find(id) == runs_.end() && discarded_.find(id) == discarded_.end()) return id;
  }
}

// The daemon's admission checks and texts (ops/run_registry.cpp), for the coordinator's runs.
std::optional<RpcError> Coordinator::CheckAdmission(const ops::RunDefinition& def) const {
  if (runs_.count(def.run_id) != 0) {
    return RpcError(ErrorCode::kRunIdInUse,
                    fmt::format("run_id \"{}\" is already in use by a live run", def.run_id));
  }
  if (discarded_.count(def.run_id) != 0) {
    return RpcError(ErrorCode::kRunIdInUse,
                    fmt::format("run_id \"{}\" belonged to a run discarded less than 10 "
                                "minutes ago",
                                def.run_id));
  }
  if (def.too_many_operations > 0) {
    return RpcError(ErrorCode::kServerLimit,
                    fmt::format("server limit reached: {} operations, more than {} per run "
                                "(max_operations)",
                                def.too_many_operations, limits_.max_operations));
  }
  if (runs_.size() >= limits_.max_runs) {
    return RpcError(ErrorCode::kServerLimit,
                    fmt::format("server limit reached: {} live runs (max_runs)", runs_.size()));
  }
  return std::nullopt;
}

void Coordinator::ExecuteTest(const rapidjson::Value& params, rpc::MethodContext&,
                              rpc::Reply reply) {
  Sweep();
  bool explicit_id = params.HasMember("run_id") && !params["run_id"].IsNull();
  std::string assigned = explicit_id ? std::string() : NextRunId();
  ops::Problems problems;
  std::optional<ops::RunDefinition> def = ops::ParseRunDefinition(
      params, limits_, op_types_, assigned, &problems, io_.clock().WallNow());
  if (def && def->repeat) {
    // Each worker would repeat on its own clock; merging per-repetition histories is not
    // built (docs/decisions.md).
    problems.push_back({-1, "repeat", "is not supported through a coordinator; run a "
                                      "repeating run on each daemon, or repeat from a client"});
    def.reset();
  }
  if (!def) {
    if (!explicit_id) --next_run_number_;  // as a daemon: no number burnt on a rejected call
    return reply.Send(rpc::InvalidParams(problems, reply.allocator()));
  }
  if (auto refused = CheckAdmission(*def)) return reply.Send(std::move(*refused));

  // Every worker must be up: a shard cannot move once started.
  std::vector<WorkerAddress> shards;
  for (const auto& worker : workers_.workers()) {
    if (worker->lost) {
      return reply.Send(WorkerError(worker->address, LostAnswer(options_.worker_timeout),
                                    reply.allocator(), "; nothing was started"));
    }
    shards.push_back(worker->address);
  }
  if (shards.empty()) {
    return reply.Send(
        RpcError(ErrorCode::kServerLimit, fmt::format("{}: no worker known yet (resolving {})",
                                                      rpc::DefaultMessage(ErrorCode::kServerLimit),
                                                      fmt::join(workers_.Resolving(), ", "))));
  }
  auto count = static_cast<uint32_t>(shards.size());
  double start_at =
      def->start_at.value_or(ops::ToSeconds(io_.clock().WallNow()) + options_.shard_lead);
  std::vector<FanOut::Call> calls;
  rapidjson::Document scratch;
  for (uint32_t i = 0; i < count; ++i) {
    rapidjson::Value p = ShardParams(params, *def, i, count, start_at, scratch.GetAllocator());
    calls.push_back({shards[i], WorkerRequest("ExecuteTest", p, options_.worker_token)});
  }

  CoordinatedRun run;
  run.run_id = def->run_id;
  run.shards = shards;
  run.finals.resize(count);
  auto globals = params.FindMember("globals");
  if (globals != params.MemberEnd() && globals->value.IsObject()) {
    run.globals.CopyFrom(globals->value, run.globals.GetAllocator());
  }
  std::string run_id = run.run_id;
  runs_.emplace(run_id, std::move(run));
  auto shared = std::make_shared<rpc::Reply>(std::move(reply));
  Gather(std::move(calls),
         [this, run_id, shared](Answers& answers) { FinishExecute(run_id, answers, *shared); });
}

void Coordinator::FinishExecute(const std::string& run_id, Answers& answers, rpc::Reply& reply) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return reply.Send(UnknownRun(run_id));
  CoordinatedRun& run = it->second;
  auto failed =
      std::find_if(answers.begin(), answers.end(), [](const WorkerAnswer& a) { return !a.ok(); });
  if (failed == answers.end()) {
    run.starting = false;
    rapidjson::Value result(rapidjson::kObjectType);
    result.AddMember("run_id", rapidjson::Value(run_id.c_str(), reply.allocator()),
                     reply.allocator());
    LogDebug("coordinator: run {} started on {} worker(s)", run_id, run.shards.size());
    return reply.Send(rpc::Outcome(std::move(result)));
  }
  // Leave no shard running: cancel those that started, and those whose answer did not come
  // (a worker that timed out may still have started its shard; one without it says -32001).
  rapidjson::Document scratch;
  std::string cancel = WorkerRequest(
      "CancelTest", RunIdParams(run_id, scratch.GetAllocator(), false), options_.worker_token);
  std::vector<FanOut::Call> cancels;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].error == nullptr) cancels.push_back({run.shards[i], cancel});
  }
  const WorkerAddress worker = run.shards[failed - answers.begin()];
  LogWarn("coordinator: run {} not started: worker {}: {}", run_id, worker.text,
          failed->error != nullptr ? "it refused the shard" : failed->failure);
  bool any_started =
      std::any_of(answers.begin(), answers.end(), [](const WorkerAnswer& a) { return a.ok(); });
  reply.Send(WorkerError(
      worker, *failed, reply.allocator(),
      any_started ? "; the shards that had started were cancelled" : "; nothing was started"));
  runs_.erase(it);
  if (!cancels.empty()) {
    Gather(std::move(cancels), [run_id](Answers& results) {
      for (const WorkerAnswer& a : results) {
        if (a.ok() || a.error != nullptr) continue;  // cancelled, or never started (-32001)
        LogWarn("coordinator: run {}: a shard's CancelTest got no answer", run_id);
      }
    });
  }
}

void Coordinator::AskShards(const CoordinatedRun& run, std::string_view method,
                            const rapidjson::Value& params,
                            std::function<void(std::vector<size_t>&, Answers&)> on_done) {
  std::string request = WorkerRequest(method, params, options_.worker_token);
  std::vector<FanOut::Call> calls;
  auto shards = std::make_shared<std::vector<size_t>>();
  for (size_t i = 0; i < run.shards.size(); ++i) {
    if (run.finals[i] || workers_.IsLost(run.shards[i].text)) continue;
    calls.push_back({run.shards[i], request});
    shards->push_back(i);
  }
  Gather(std::move(calls),
         [shards, on_done = std::move(on_done)](Answers& answers) { on_done(*shards, answers); });
}

rpc::Outcome Coordinator::Merge(CoordinatedRun& run, std::vector<const rapidjson::Value*>& fresh,
                                Allocator& alloc) {
  std::vector<rpc::ShardAnswer> shards(run.shards.size());
  std::vector<std::string> missing;
  for (size_t i = 0; i < run.shards.size(); ++i) {
    shards[i].index = static_cast<int>(i);
    shards[i].result = run.finals[i] ? run.finals[i].get() : fresh[i];
    if (shards[i].result == nullptr) {
      missing.push_back(fmt::format("shard {} (worker {})", i, run.shards[i].text));
    }
  }
  Result<rapidjson::Value> merged =
      rpc::MergedQueryTestResult(std::span<const rpc::ShardAnswer>(shards), run.globals, alloc);
  if (!merged.ok()) {
    LogError("coordinator: run {}: cannot merge the shards' results: {}", run.run_id,
             merged.message());
    return RpcError(
        ErrorCode::kInternalError,
        fmt::format("Internal error: the shards' results cannot be merged: {}", merged.message()));
  }
  rapidjson::Value result = std::move(merged).value();
  if (!missing.empty() && result.IsObject()) {
    // A run with a missing shard cannot be complete, nor any daemon status.
    std::string reason =
        fmt::format("Degraded: {} missing (lost or not answering); the other shards go on.",
                    fmt::join(missing, ", "));
    if (result.HasMember("completed")) result["completed"] = 0;
    if (result.HasMember("status")) {
      result["status"] = "degraded";
    } else {
      result.AddMember("status", "degraded", alloc);
    }
    rapidjson::Value text(reason.c_str(), alloc);
    if (result.HasMember("status_reason")) {
      result["status_reason"] = text;
    } else {
      result.AddMember("status_reason", text, alloc);
    }
  }
  return rpc::Outcome(std::move(result));
}

void Coordinator::QueryTest(const rapidjson::Value& params, rpc::MethodContext&, rpc::Reply reply) {
  CoordinatedRun* run = RunOf(params, reply);
  if (run == nullptr) return;
  rapidjson::Document scratch;
  std::string run_id = run->run_id;
  auto shared = std::make_shared<rpc::Reply>(std::move(reply));
  AskShards(
      *run, "QueryTest", RunIdParams(run_id, scratch.GetAllocator(), true),
      [this, run_id, shared](std::vector<size_t>& shards, Answers& answers) {
        CoordinatedRun* run = Find(run_id);
        if (run == nullptr) return shared->Send(UnknownRun(run_id));
        std::vector<const rapidjson::Value*> fresh(run->shards.size(), nullptr);
        for (size_t k = 0; k < shards.size(); ++k) {
          if (!answers[k].ok()) continue;
          const rapidjson::Value& result = *answers[k].result;
          if (IntMember(result, "completed") == 1) {
            // The worker discards the run now: keep its final result.
            auto final = std::make_unique<rapidjson::Document>();
            final->CopyFrom(result, final->GetAllocator());
            run->finals[shards[k]] = std::move(final);
          } else {
            fresh[shards[k]] = &result;
          }
        }
        rpc::Outcome outcome = Merge(*run, fresh, shared->allocator());
        if (outcome.ok() && IntMember(outcome.result(), "completed") == 1 && !run->returned_at) {
          run->returned_at = io_.clock().Now();
        }
        shared->Send(std::move(outcome));
      });
}

void Coordinator::CancelTest(const rapidjson::Value& params, rpc::MethodContext&,
                             rpc::Reply reply) {
  CoordinatedRun* run = RunOf(params, reply);
  if (run == nullptr) return;
  rapidjson::Document scratch;
  std::string run_id = run->run_id;
  auto shared = std::make_shared<rpc::Reply>(std::move(reply));
  AskShards(*run, "CancelTest", RunIdParams(run_id, scratch.GetAllocator(), true),
            [this, run_id, shared](std::vector<size_t>& shards, Answers& answers) {
              CoordinatedRun* run = Find(run_id);
              if (run == nullptr) return shared->Send(UnknownRun(run_id));
              std::vector<const rapidjson::Value*> fresh(run->shards.size(), nullptr);
              bool cancelled = false;
              for (size_t k = 0; k < shards.size(); ++k) {
                if (!answers[k].ok()) continue;
                fresh[shards[k]] = answers[k].result;
                cancelled = cancelled || IntMember(*answers[k].result, "cancelled") == 1;
              }
              rpc::Outcome outcome = Merge(*run, fresh, shared->allocator());
              // As a daemon's CancelTest: the run is gone afterwards.
              Discard(run_id);
              if (outcome.ok() && outcome.result().IsObject()) {
                rapidjson::Value& result = outcome.result();
                if (result.HasMember("cancelled")) result.RemoveMember("cancelled");
                result.AddMember("cancelled", cancelled ? 1 : 0, shared->allocator());
              }
              shared->Send(std::move(outcome));
            });
}

void Coordinator::RestartTest(const rapidjson::Value& params, rpc::MethodContext&,
                              rpc::Reply reply) {
  CoordinatedRun* run = RunOf(params, reply);
  if (run == nullptr) return;
  if (!AllWorkersUp(*run, reply, "; nothing was restarted")) return;
  // A shard whose worker returned it completed is gone from that worker: it cannot restart.
  for (size_t i = 0; i < run->finals.size(); ++i) {
    if (run->finals[i]) {
      return reply.Send(RpcError(
          ErrorCode::kInvalidRunState,
          fmt::format("{}: shard {} of run \"{}\" has completed and its worker discarded it; "
                      "start the run again with ExecuteTest",
                      rpc::DefaultMessage(ErrorCode::kInvalidRunState), i, run->run_id)));
    }
  }
  rapidjson::Document scratch;
  rapidjson::Value restart = RunIdParams(run->run_id, scratch.GetAllocator(), true);
  double start_at = ops::ToSeconds(io_.clock().WallNow()) + options_.shard_lead;
  restart.AddMember("start_at", start_at, scratch.GetAllocator());
  std::string run_id = run->run_id;
  auto shared = std::make_shared<rpc::Reply>(std::move(reply));
  AskShards(*run, "RestartTest", restart,
            [this, run_id, shared](std::vector<size_t>& shards, Answers& answers) {
              FinishRestart(run_id, shards, answers, *shared);
            });
}

void Coordinator::FinishRestart(const std::string& run_id, std::vector<size_t>& shards,
                                Answers& answers, rpc::Reply& reply) {
  CoordinatedRun* run = Find(run_id);
  if (run == nullptr) return reply.Send(UnknownRun(run_id));
  std::vector<const rapidjson::Value*> previous(run->shards.size(), nullptr);
  for (size_t k = 0; k < shards.size(); ++k) {
    if (!answers[k].ok() || !answers[k].result->IsObject() ||
        !answers[k].result->HasMember("previous")) {
      return reply.Send(WorkerError(run->shards[shards[k]], answers[k], reply.allocator(),
                                    "; the other shards were restarted"));
    }
    previous[shards[k]] = &(*answers[k].result)["previous"];
  }
  rpc::Outcome merged = Merge(*run, previous, reply.allocator());
  if (!merged.ok()) return reply.Send(std::move(merged));
  run->returned_at.reset();
  rapidjson::Value result(rapidjson::kObjectType);
  result.AddMember("run_id", rapidjson::Value(run_id.c_str(), reply.allocator()),
                   reply.allocator());
  result.AddMember("restarts", IntMember(*answers.front().result, "restarts"), reply.allocator());
  result.AddMember("previous", merged.result(), reply.allocator());
  reply.Send(rpc::Outcome(std::move(result)));
}

void Coordinator::ResumeInstance(const rapidjson::Value& params, rpc::MethodContext&,
                                 rpc::Reply reply) {
  Sweep();
  ops::ParamReader p(params);
  std::string_view run_id = p.RequiredString("run_id");
  int64_t instance_id = p.RequiredInt("instance_id");
  p.OptionalObject("vars");
  if (!p.ok()) return reply.Send(rpc::InvalidParams(p.problems(), reply.allocator()));
  CoordinatedRun* run = Find(run_id);
  if (run == nullptr) return reply.Send(UnknownRun(run_id));
  auto n = static_cast<int64_t>(run->shards.size());
  // Instance k runs on shard k mod n (docs/scale-out.md).
  WorkerAddress worker = run->shards[static_cast<size_t>(((instance_id % n) + n) % n)];
  if (workers_.IsLost(worker.text)) {
    return reply.Send(WorkerError(worker, LostAnswer(options_.worker_timeout), reply.allocator()));
  }
  auto shared = std::make_shared<rpc::Reply>(std::move(reply));
  Gather({{worker, WorkerRequest("ResumeInstance", params, options_.worker_token)}},
         [worker, shared](Answers& answers) {
           WorkerAnswer& a = answers[0];
           if (!a.ok()) {
             // The worker's own error is relayed as it is (its code and message).
             if (a.error != nullptr) {
               RpcError error;
               error.code = (*a.error)["code"].GetInt();
               auto m = a.error->FindMember("message");
               if (m != a.error->MemberEnd() && m->value.IsString()) {
                 error.message = std::string(View(m->value));
               }
               auto data = a.error->FindMember("data");
               if (data != a.error->MemberEnd()) {
                 error.data = rapidjson::Value(data->value, shared->allocator());
               }
               return shared->Send(std::move(error));
             }
             return shared->Send(WorkerError(worker, a, shared->allocator()));
           }
           shared->Send(rpc::Outcome(rapidjson::Value(*a.result, shared->allocator())));
         });
}

void Coordinator::ChangePause(const rapidjson::Value& params, rpc::Reply reply,
                              const char* method) {
  CoordinatedRun* run = RunOf(params, reply);
  if (run == nullptr) return;
  if (!AllWorkersUp(*run, reply, "")) return;
  if (run->complete()) return reply.Send(RpcError(ErrorCode::kInvalidRunState));
  rapidjson::Document scratch;
  std::string run_id = run->run_id;
  auto shared = std::make_shared<rpc::Reply>(std::move(reply));
  AskShards(
      *run, method, RunIdParams(run_id, scratch.GetAllocator(), false),
      [this, run_id, shared](std::vector<size_t>& shards, Answers& answers) {
        CoordinatedRun* run = Find(run_id);
        if (run == nullptr) return shared->Send(UnknownRun(run_id));
        for (size_t k = 0; k < shards.size(); ++k) {
          if (!answers[k].ok()) {
            return shared->Send(
                WorkerError(run->shards[shards[k]], answers[k], shared->allocator()));
          }
        }
        shared->Send(rpc::Outcome(rapidjson::Value(*answers.front().result, shared->allocator())));
      });
}

void Coordinator::PauseTest(const rapidjson::Value& params, rpc::MethodContext&, rpc::Reply reply) {
  ChangePause(params, std::move(reply), "PauseTest");
}

void Coordinator::UnpauseTest(const rapidjson::Value& params, rpc::MethodContext&,
                              rpc::Reply reply) {
  ChangePause(params, std::move(reply), "UnpauseTest");
}

void Coordinator::ListTests(const rapidjson::Value& params, rpc::MethodContext&, rpc::Reply reply) {
  Sweep();
  // The daemon's parameters and problem texts (rpc/run_methods.cpp); `degraded` is also
  // accepted.
  ops::ParamReader p(params);
  std::optional<std::string_view> status_name = p.OptionalString("status");
  std::optional<std::string_view> tag = p.OptionalString("tag");
  if (status_name && *status_name != "degraded" && !ops::RunStatusFromName(*status_name)) {
    p.WrongType("status",
                "one of scheduled, running, paused, completed, cancelled, failed, interrupted",
                *p.Get("status"));
  }
  if (!p.ok()) return reply.Send(rpc::InvalidParams(p.problems(), reply.allocator()));
  std::optional<std::string> status(status_name);
  std::optional<std::string> wanted_tag(tag);

  // Every worker that holds a shard of a listed run, asked once.
  std::vector<WorkerAddress> asked;
  for (const auto& [id, run] : runs_) {
    if (run.doomed || run.starting) continue;
    for (size_t i = 0; i < run.shards.size(); ++i) {
      const WorkerAddress& w = run.shards[i];
      if (run.finals[i] || workers_.IsLost(w.text)) continue;
      if (std::none_of(asked.begin(), asked.end(),
                       [&](const WorkerAddress& a) { return a.text == w.text; })) {
        asked.push_back(w);
      }
    }
  }
  rapidjson::Document scratch;
  std::string request =
      WorkerRequest("ListTests", rapidjson::Value(rapidjson::kObjectType), options_.worker_token);
  std::vector<FanOut::Call> calls;
  for (const WorkerAddress& w : asked) calls.push_back({w, request});
  auto shared = std::make_shared<rpc::Reply>(std::move(reply));
  Gather(std::move(calls), [this, asked, status, wanted_tag, shared](Answers& answers) {
    Allocator& a = shared->allocator();
    // The entry of `run_id` in the list of worker `address`, or nullptr.
    auto entry_of = [&](const std::string& address,
                        const std::string& run_id) -> const rapidjson::Value* {
      for (size_t w = 0; w < asked.size(); ++w) {
        if (asked[w].text != address || !answers[w].ok()) continue;
        auto runs = answers[w].result->FindMember("runs");
        if (runs == answers[w].result->MemberEnd() || !runs->value.IsArray()) return nullptr;
        for (const rapidjson::Value& e : runs->value.GetArray()) {
          if (e.IsObject() && e.HasMember("run_id") && e["run_id"].IsString() &&
              View(e["run_id"]) == run_id) {
            return &e;
          }
        }
      }
      return nullptr;
    };
    rapidjson::Value list(rapidjson::kArrayType);
    for (auto& [id, run] : runs_) {
      if (run.doomed || run.starting) continue;
      std::vector<const rapidjson::Value*> entries;
      std::vector<std::string> missing;
      for (size_t i = 0; i < run.shards.size(); ++i) {
        const rapidjson::Value* e =
            run.finals[i] ? run.finals[i].get() : entry_of(run.shards[i].text, id);
        if (e != nullptr) {
          entries.push_back(e);
        } else {
          missing.push_back(fmt::format("shard {} (worker {})", i, run.shards[i].text));
        }
      }
      rapidjson::Value entry(rapidjson::kObjectType);
      if (!entries.empty()) {
        entry = rpc::MergedListTestsEntry(
            std::span<const rapidjson::Value* const>(entries.data(), entries.size()), a);
      } else {
        entry.AddMember("run_id", rapidjson::Value(id.c_str(), a), a);
      }
      if (!missing.empty()) {
        std::string reason = fmt::format("Degraded: {} missing.", fmt::join(missing, ", "));
        entry.RemoveMember("status");
        entry.RemoveMember("status_reason");
        entry.AddMember("status", "degraded", a);
        entry.AddMember("status_reason", rapidjson::Value(reason.c_str(), a), a);
      }
      auto entry_status = entry.FindMember("status");
      if (status && (entry_status == entry.MemberEnd() || !entry_status->value.IsString() ||
                     View(entry_status->value) != *status)) {
        continue;
      }
      if (wanted_tag) {
        auto tags = entry.FindMember("tags");
        bool has = false;
        if (tags != entry.MemberEnd() && tags->value.IsArray()) {
          for (const auto& t : tags->value.GetArray()) {
            has = has || (t.IsString() && View(t) == *wanted_tag);
          }
        }
        if (!has) continue;
      }
      list.PushBack(entry, a);
    }
    rapidjson::Value result(rapidjson::kObjectType);
    result.AddMember("runs", list, a);
    shared->Send(rpc::Outcome(std::move(result)));
  });
}

void Coordinator::GetServerInfo(const rapidjson::Value& params, rpc::MethodContext& ctx,
                                rpc::Reply reply) {
  Sweep();
  rpc::Outcome own = rpc::GetServerInfo(params, ctx);
  rapidjson::Value& r = own.result();
  Allocator& a = reply.allocator();
  r["runs"].SetUint64(live_runs());
  r["instances_live"].SetUint64(workers_.instances_live());
  // `role` is the caller's; what this daemon is goes in `mode`.
  r.AddMember("mode", "coordinator", a);
  r.AddMember("workers", workers_.Describe(a), a);
  reply.Send(std::move(own));
}

}  // namespace testrund::daemon
