// SPDX-License-Identifier: Apache-2.0
// RunRegistry: run_id -> Run, limits, retention (see run_registry.h).
#include "ops/run_registry.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "ops/run_definition.h"
#include "ops/stats/saved_result.h"

namespace testrund::ops {
namespace {

std::string UnknownRun(std::string_view run_id) {
  return fmt::format("unknown run_id \"{}\" (never existed, discarded, or cancelled)", run_id);
}

EngineStatus Failure(EngineError error, std::string message) {
  return EngineStatus{error, std::move(message)};
}

// Sets (or adds) `run_id` in the params object `params`.
void SetRunId(rapidjson::Document& params, const std::string& run_id) {
  rapidjson::Value id(run_id.c_str(), static_cast<rapidjson::SizeType>(run_id.size()),
                      params.GetAllocator());
  auto it = params.FindMember("run_id");
  if (it != params.MemberEnd()) {
    it->value = id;
  } else {
    params.AddMember("run_id", id, params.GetAllocator());
  }
}

}  // namespace

RunRegistry::RunRegistry(Clock& clock, EngineLimits limits, const OpTable& op_types,
                         IoContext* io)
    : clock_(clock), op_types_(op_types), io_(io), limits_(std::move(limits)) {}

RunRegistry::~RunRegistry() {
  // Runs hold pointers to instances_live_ and limits_: free them first.
  runs_.clear();
}

RunRegistry::Entry* RunRegistry::Find(std::string_view run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end() || it->second.doomed) return nullptr;
  return &it->second;
}

RunRegistry::Entry* RunRegistry::FindOr(std::string_view run_id, EngineStatus* status) {
  Sweep();
  Entry* entry = Find(run_id);
  if (entry == nullptr) *status = Failure(EngineError::kUnknownRun, UnknownRun(run_id));
  return entry;
}

void RunRegistry::Discard(const std::string& run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  it->second.doomed = true;
  discarded_[run_id] = clock_.Now();
}

void RunRegistry::Sweep() {
  MonoNs now = clock_.Now();
  for (auto it = runs_.begin(); it != runs_.end();) {
    Entry& entry = it->second;
    if (!entry.doomed && RetentionEnded(it->first, entry, now)) {
      entry.doomed = true;
      discarded_[it->first] = now;
    }
    if (entry.doomed) ReportDiscarded(entry);
    it = entry.doomed ? runs_.erase(it) : std::next(it);
  }
  for (auto it = discarded_.begin(); it != discarded_.end();) {
    it = now - it->second >= kDiscardedIdQuarantine ? discarded_.erase(it) : std::next(it);
  }
}

bool RunRegistry::RetentionEnded(const std::string& run_id, Entry& entry, MonoNs now) const {
  if (!entry.returned_at) return false;
  // Held (a report pending): retention starts again once the hold ends, so a client sees
  // how its reports went.
  if (extension_ != nullptr && extension_->Holds(run_id)) {
    entry.returned_at = now;
    return false;
  }
  auto retention = static_cast<MonoNs>(limits_.completed_run_retention * kNsPerSecond);
  return now - *entry.returned_at >= retention;
}

RunSnapshot RunRegistry::SnapshotOf(const Entry& entry, unsigned parts, Allocator& alloc) const {
  RunSnapshot snapshot = entry.run->Snapshot(parts, alloc);
  if (extension_ != nullptr) extension_->AddTo(snapshot);
  return snapshot;
}

std::string RunRegistry::NextRunId() {
  while (true) {
    std::string id = fmt::format("tr_{}", next_run_number_++);
    if (runs_.find(id) == runs_.end() && discarded_.find(id) == discarded_.end()) return id;
  }
}

EngineStatus RunRegistry::CheckAdmission(const RunDefinition& def) const {
  if (runs_.count(def.run_id) != 0) {
    return Failure(EngineError::kRunIdInUse,
                   fmt::format("run_id \"{}\" is already in use by a live run", def.run_id));
  }
  if (discarded_.count(def.run_id) != 0) {
    return Failure(EngineError::kRunIdInUse,
                   fmt::format("run_id \"{}\" belonged to a run discarded less than 10 "
                               "minutes ago",
                               def.run_id));
  }
  if (def.too_many_operations > 0) {
    return Failure(EngineError::kLimit,
                   fmt::format("server limit reached: {} operations, more than {} per run "
                               "(max_operations)",
                               def.too_many_operations, limits_.max_operations));
  }
  if (runs_.size() >= limits_.max_runs) {
    return Failure(EngineError::kLimit,
                   fmt::format("server limit reached: {} live runs (max_runs)", runs_.size()));
  }
  if (instances_live_ >= limits_.max_instances) {
    return Failure(EngineError::kLimit, fmt::format("server limit reached: {} instances in "
                                                    "progress (max_instances)",
                                                    instances_live_));
  }
  return EngineStatus{};
}

ExecuteResult RunRegistry::Execute(const rapidjson::Value& params) {
  Sweep();
  ExecuteResult result;
  bool explicit_id = params.IsObject() && params.HasMember("run_id") &&
                     !params["run_id"].IsNull();
  std::string assigned = explicit_id ? std::string() : NextRunId();
  std::optional<RunDefinition> def =
      ParseRunDefinition(params, limits_, op_types_, assigned, &result.problems,
                         clock_.WallNow(), extension_);
  if (!def) {
    result.error = EngineError::kInvalidParams;
    result.message = "Invalid params";
    if (!explicit_id) --next_run_number_;  // do not burn a number on a rejected call
    return result;
  }
  if (EngineStatus admission = CheckAdmission(*def); !admission.ok()) {
    static_cast<EngineStatus&>(result) = std::move(admission);
    return result;
  }
  result.run_id = def->run_id;
  auto stored = std::make_shared<rapidjson::Document>();
  stored->CopyFrom(params, stored->GetAllocator());
  SetRunId(*stored, result.run_id);
  Entry entry;
  entry.params = std::move(stored);
  entry.run = NewSeries(std::move(*def), entry.params, 0);
  RunSeries& started = *entry.run;
  runs_.emplace(result.run_id, std::move(entry));
  started.Start();
  Changed(result.run_id);
  return result;
}

RunEnvironment RunRegistry::Environment() {
  RunEnvironment env;
  env.clock = &clock_;
  env.io = io_;
  env.limits = &limits_;
  env.instances_live = &instances_live_;
  return env;
}

std::unique_ptr<RunSeries> RunRegistry::NewSeries(
    RunDefinition def, std::shared_ptr<const rapidjson::Document> params, uint32_t restarts) {
  std::string run_id = def.run_id;
  auto next = [this, params, run_id](double start_at,
                                     std::string* problem) -> std::optional<RunDefinition> {
    Problems problems;
    std::optional<RunDefinition> later = Reparse(*params, start_at, run_id, &problems);
    if (!later) *problem = problems.empty() ? std::string("invalid") : problems[0].Text();
    return later;
  };
  // A restart ends the series it replaces: neither ending is the run's to report.
  RunSeries::Hooks hooks;
  hooks.on_repetition = [this](const Run& run) {
    if (restarting_) return;
    for (const auto& hook : on_repetition_) hook(run);
  };
  hooks.on_ended = [this](const RunSeries& series) {
    if (restarting_) return;
    for (const auto& hook : on_completed_) hook(series);
  };
  return std::make_unique<RunSeries>(std::move(def), Environment(), std::move(next),
                                     std::move(hooks), restarts);
}

std::optional<RunDefinition> RunRegistry::Reparse(const rapidjson::Document& params,
                                                  std::optional<double> start_at,
                                                  const std::string& run_id,
                                                  Problems* problems) {
  rapidjson::Document copy;
  copy.CopyFrom(params, copy.GetAllocator());
  copy.RemoveMember("start_at");
  if (start_at) copy.AddMember("start_at", *start_at, copy.GetAllocator());
  return ParseRunDefinition(copy, limits_, op_types_, run_id, problems, clock_.WallNow(),
                            extension_);
}

EngineResult<RestartResult> RunRegistry::Restart(std::string_view run_id, unsigned parts,
                                                 Allocator& alloc,
                                                 std::optional<double> start_at) {
  EngineResult<RestartResult> result;
  Entry* entry = FindOr(run_id, &result);
  if (entry == nullptr) return result;
  // Validated again before anything ends: a data file may have changed since. The
  // definition's start_at is dropped: the restart is now (or at the one given), and one long
  // past would be refused.
  Problems problems;
  std::optional<RunDefinition> def =
      Reparse(*entry->params, start_at, entry->run->run_id(), &problems);
  if (!def) {
    std::string first = problems.empty() ? std::string("invalid") : problems[0].Text();
    return {Failure(EngineError::kInvalidParams,
                    fmt::format("Invalid params: run \"{}\" cannot restart, its definition no "
                                "longer validates: {}",
                                run_id, first))};
  }
  restarting_ = true;
  entry->run->Cancel("Restarted by RestartTest.");
  restarting_ = false;
  result.value.restarts = ++entry->restarts;
  for (const auto& hook : on_restarted_) hook(*entry->run, entry->restarts);
  result.value.snapshot = SnapshotOf(*entry, parts, alloc);
  // The old series (its runs, timers, Lua states) is freed here, outside its callbacks.
  entry->run = NewSeries(std::move(*def), entry->params, entry->restarts);
  entry->returned_at.reset();
  entry->run->Start();
  Changed(entry->run->run_id());
  return result;
}

std::unique_ptr<RunSeries> RunRegistry::Archive(const RestoredRun& saved, RunStatus status,
                                               std::string reason) {
  ArchivedRun archived;
  archived.run_id = saved.run_id;
  archived.status = status;
  archived.status_reason = std::move(reason);
  archived.result = saved.result;
  archived.state = saved.series;
  return std::make_unique<RunSeries>(std::move(archived), clock_);
}

namespace {

// The summary of the repetition the daemon's stop interrupted, from its saved result.
RepetitionSummary Interrupted(const RestoredRun& saved) {
  RepetitionSummary summary;
  summary.repetition = saved.series.repetition;
  summary.status = RepetitionStatus::kInterrupted;
  summary.status_reason = "The daemon stopped while it ran.";
  summary.start = WallInResult(*saved.result, "time_start");
  summary.end = saved.saved_at;
  summary.counts = CountsInResult(*saved.result);
  return summary;
}

}  // namespace

std::unique_ptr<RunSeries> RunRegistry::Continue(
    RestoredRun& saved, const std::shared_ptr<const rapidjson::Document>& params,
    std::string* failure) {
  SeriesState& state = saved.series;
  double now = ToSeconds(clock_.WallNow());
  Problems problems;
  std::optional<RunDefinition> def = Reparse(*params, now, saved.run_id, &problems);
  if (!def) {
    *failure = problems.empty() ? std::string("invalid") : problems[0].Text();
    return nullptr;
  }
  std::optional<RepeatPlan> plan = def->repeat;
  double start = std::max(state.start.value_or(now), now);
  if (state.began) {
    if (!plan) return nullptr;  // a one-shot run that was running: interrupted
    RepetitionHistory history = RepetitionHistory::FromState(state.history, state.history_older);
    history.Add(Interrupted(saved));
    uint64_t n = state.next_number;
    if (plan->from == RepeatPlan::From::kEnd) {
      start = now + plan->interval;
    } else {
      for (; plan->Planned(n) && plan->CadenceStart(state.anchor, n) <= now; ++n) {
        RepetitionSummary skipped;
        skipped.repetition = n;
        skipped.status = RepetitionStatus::kSkipped;
        skipped.status_reason = "The daemon was stopped at its start.";
        skipped.start = skipped.end = WallFromSeconds(plan->CadenceStart(state.anchor, n));
        history.Add(std::move(skipped));
      }
      start = plan->CadenceStart(state.anchor, n);
    }
    state.history.assign(history.kept().begin(), history.kept().end());
    state.history_older = history.older();
    if (!plan->Planned(n)) return nullptr;  // that was the last: the run ends interrupted
    state.repetition = n;
    state.next_number = n + 1;
    state.paused = false;
  }
  def = Reparse(*params, start, saved.run_id, &problems);
  if (!def) {
    *failure = problems.empty() ? std::string("invalid") : problems[0].Text();
    return nullptr;
  }
  std::unique_ptr<RunSeries> series = NewSeries(std::move(*def), params, saved.restarts);
  series->ContinueFrom(state);
  return series;
}

EngineResult<RunStatus> RunRegistry::Restore(RestoredRun saved) {
  EngineResult<RunStatus> out;
  if (runs_.count(saved.run_id) != 0) {
    return {Failure(EngineError::kRunIdInUse,
                    fmt::format("run_id \"{}\" is already in use by a live run", saved.run_id))};
  }
  auto params = std::make_shared<rapidjson::Document>(std::move(saved.params));
  Entry entry;
  entry.params = params;
  entry.restarts = saved.restarts;
  bool paused = saved.series.paused && !saved.series.began;
  if (saved.series.ended) {
    std::optional<RunStatus> status =
        RunStatusFromName(saved.result->HasMember("status") && (*saved.result)["status"].IsString()
                              ? (*saved.result)["status"].GetString()
                              : "");
    entry.run = Archive(saved, status.value_or(RunStatus::kCompleted), "");
  } else {
    std::string failure;
    entry.run = Continue(saved, params, &failure);
    if (!entry.run && !failure.empty()) {
      entry.run = Archive(saved, RunStatus::kFailed,
                          fmt::format("It could not start again after the daemon restarted: "
                                      "its definition no longer validates: {}",
                                      failure));
    } else if (!entry.run) {
      entry.run = Archive(saved, RunStatus::kInterrupted,
                          fmt::format("The daemon stopped while the run was running; these are "
                                      "its results as of [{}, {}].",
                                      saved.saved_at.sec, saved.saved_at.usec));
    }
  }
  RunSeries& series = *entry.run;
  out.value = series.status();
  runs_.emplace(saved.run_id, std::move(entry));
  if (!series.completed()) {
    series.Start();
    if (paused) (void)series.Pause();
    out.value = series.status();
  } else if (!saved.series.ended) {
    // It ends by coming back (interrupted, or failed): an end like any other to the hooks
    // (its results file, its `final` report).
    for (const auto& hook : on_completed_) hook(series);
  }
  return out;
}

EngineResult<RunSnapshot> RunRegistry::Query(std::string_view run_id, unsigned parts,
                                             Allocator& alloc) {
  EngineResult<RunSnapshot> result;
  Entry* entry = FindOr(run_id, &result);
  if (entry == nullptr) return result;
  if (entry->run->completed() && !entry->returned_at) entry->returned_at = clock_.Now();
  result.value = SnapshotOf(*entry, parts, alloc);
  return result;
}

std::optional<RunSnapshot> RunRegistry::Peek(std::string_view run_id, unsigned parts,
                                             Allocator& alloc) {
  Entry* entry = Find(run_id);
  if (entry == nullptr) return std::nullopt;
  return SnapshotOf(*entry, parts, alloc);
}

EngineResult<CancelResult> RunRegistry::Cancel(std::string_view run_id, unsigned parts,
                                               Allocator& alloc) {
  EngineResult<CancelResult> result;
  Entry* entry = FindOr(run_id, &result);
  if (entry == nullptr) return result;
  result.value.was_running = entry->run->Cancel();
  result.value.snapshot = SnapshotOf(*entry, parts, alloc);
  Changed(entry->run->run_id());
  Discard(entry->run->run_id());
  return result;
}

EngineStatus RunRegistry::Resume(std::string_view run_id, int64_t instance_id,
                                 const rapidjson::Value* vars) {
  EngineStatus status;
  Entry* entry = FindOr(run_id, &status);
  if (entry == nullptr) return status;
  switch (entry->run->Resume(instance_id, vars)) {
    case ResumeError::kNone:
      return status;
    case ResumeError::kNoSuchInstance:
      return Failure(EngineError::kNoSuchInstance,
                     fmt::format("run \"{}\" has no instance {} and never will", run_id,
                                 instance_id));
    case ResumeError::kNotHalted:
      return Failure(EngineError::kNotHalted,
                     fmt::format("instance {} of run \"{}\" is not halted", instance_id, run_id));
  }
  return status;
}

EngineStatus RunRegistry::Pause(std::string_view run_id) {
  EngineStatus status;
  Entry* entry = FindOr(run_id, &status);
  if (entry == nullptr) return status;
  Status paused = entry->run->Pause();
  if (!paused.ok()) return Failure(EngineError::kBadState, paused.message());
  Changed(entry->run->run_id());
  return status;
}

EngineStatus RunRegistry::Unpause(std::string_view run_id) {
  EngineStatus status;
  Entry* entry = FindOr(run_id, &status);
  if (entry == nullptr) return status;
  Status unpaused = entry->run->Unpause();
  if (!unpaused.ok()) return Failure(EngineError::kBadState, unpaused.message());
  Changed(entry->run->run_id());
  return status;
}

std::vector<RunSnapshot> RunRegistry::Runs(unsigned parts,
                                           rapidjson::Document::AllocatorType& alloc) {
  Sweep();
  std::vector<RunSnapshot> out;
  out.reserve(runs_.size());
  for (const auto& [id, entry] : runs_) {
    if (!entry.doomed) out.push_back(SnapshotOf(entry, parts, alloc));
  }
  return out;
}

void RunRegistry::CancelAll(std::string_view reason) {
  for (auto& [id, entry] : runs_) {
    bool completed_before = !entry.run->Cancel(reason);
    if (completed_before) ReportDiscarded(entry);
  }
}

void RunRegistry::ReportDiscarded(Entry& entry) {
  if (entry.discard_reported) return;
  entry.discard_reported = true;
  for (const auto& hook : on_discarded_) hook(*entry.run);
}

std::optional<RunRecord> RunRegistry::Record(std::string_view run_id, unsigned parts,
                                             Allocator& alloc) {
  Entry* entry = Find(run_id);
  if (entry == nullptr) return std::nullopt;
  RunRecord record;
  record.params = entry->params.get();
  record.restarts = entry->restarts;
  record.series = entry->run->State();
  record.snapshot = entry->run->Snapshot(parts, alloc);
  return record;
}

std::vector<std::string> RunRegistry::RunIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, entry] : runs_) {
    if (!entry.doomed) ids.push_back(id);
  }
  return ids;
}

const rapidjson::Value* RunRegistry::Params(std::string_view run_id) const {
  auto it = runs_.find(run_id);
  if (it == runs_.end() || it->second.doomed) return nullptr;
  return it->second.params.get();
}

size_t RunRegistry::live_runs() const {
  size_t n = 0;
  for (const auto& [id, entry] : runs_) n += entry.doomed ? 0 : 1;
  return n;
}

size_t RunRegistry::lua_memory_bytes() const {
  size_t bytes = 0;
  for (const auto& [id, entry] : runs_) bytes += entry.run->lua_memory_bytes();
  return bytes;
}

}  // namespace testrund::ops
