// SPDX-License-Identifier: Apache-2.0
// RunRegistry: run_id -> Run, limits, retention, results_dir (see run_registry.h).
#include "ops/run_registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "ops/base/json_writer.h"
#include "ops/run_definition.h"
#include "rpc/run_result.h"

namespace testrund::ops {

int EngineErrorCode(EngineError error) {
  switch (error) {
    case EngineError::kNone: return 0;
    case EngineError::kInvalidParams: return -32602;
    case EngineError::kUnknownRun: return -32001;
    case EngineError::kRunIdInUse: return -32002;
    case EngineError::kNoSuchInstance: return -32003;
    case EngineError::kNotHalted: return -32004;
    case EngineError::kLimit: return -32005;
    case EngineError::kBadState: return -32006;
  }
  return -32603;
}

namespace {
std::string UnknownRun(std::string_view run_id) {
  return fmt::format("unknown run_id \"{}\" (never existed, discarded, or cancelled)", run_id);
}
}  // namespace

RunRegistry::RunRegistry(Clock& clock, EngineLimits limits, IoContext* io)
    : clock_(clock), io_(io), limits_(std::move(limits)) {}

RunRegistry::~RunRegistry() {
  // Runs hold pointers to instances_live_ and limits_: free them first.
  runs_.clear();
}

RunRegistry::Entry* RunRegistry::Find(std::string_view run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end() || it->second.doomed) return nullptr;
  return &it->second;
}

void RunRegistry::Discard(const std::string& run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  it->second.doomed = true;
  discarded_[run_id] = clock_.Now();
}

void RunRegistry::Sweep() {
  MonoNs now = clock_.Now();
  auto retention = static_cast<MonoNs>(limits_.completed_run_retention * kNsPerSecond);
  for (auto it = runs_.begin(); it != runs_.end();) {
    Entry& entry = it->second;
    if (!entry.doomed && entry.run->returned_at && now - *entry.run->returned_at >= retention) {
      entry.doomed = true;
      discarded_[it->first] = now;
    }
    // A run whose results write failed gets one more try before it is forgotten.
    if (entry.doomed && entry.results_unwritten) {
      entry.results_unwritten = !WriteResults(*entry.run);
    }
    it = entry.doomed ? runs_.erase(it) : std::next(it);
  }
  for (auto it = discarded_.begin(); it != discarded_.end();) {
    it = now - it->second >= kDiscardedIdQuarantine ? discarded_.erase(it) : std::next(it);
  }
}

std::string RunRegistry::NextRunId() {
  while (true) {
    std::string id = fmt::format("tr_{}", next_run_number_++);
    if (runs_.find(id) == runs_.end() && discarded_.find(id) == discarded_.end()) return id;
  }
}

ExecuteResult RunRegistry::Execute(const rapidjson::Value& params) {
  Sweep();
  ExecuteResult result;
  bool explicit_id = params.IsObject() && params.HasMember("run_id") &&
                     !params["run_id"].IsNull();
  std::string assigned = explicit_id ? std::string() : NextRunId();
  std::optional<RunDefinition> def =
      ParseRunDefinition(params, limits_, assigned, &result.problems);
  if (!def) {
    result.error = EngineError::kInvalidParams;
    result.message = "Invalid params";
    if (!explicit_id) --next_run_number_;  // do not burn a number on a rejected call
    return result;
  }
  if (runs_.count(def->run_id) != 0) {
    result.error = EngineError::kRunIdInUse;
    result.message = fmt::format("run_id \"{}\" is already in use by a live run", def->run_id);
    return result;
  }
  if (discarded_.count(def->run_id) != 0) {
    result.error = EngineError::kRunIdInUse;
    result.message = fmt::format(
        "run_id \"{}\" belonged to a run discarded less than 10 minutes ago", def->run_id);
    return result;
  }
  if (def->too_many_operations > 0) {
    result.error = EngineError::kLimit;
    result.message = fmt::format("server limit reached: {} operations, more than {} per run "
                                 "(max_operations)",
                                 def->too_many_operations, limits_.max_operations);
    return result;
  }
  if (runs_.size() >= limits_.max_runs) {
    result.error = EngineError::kLimit;
    result.message = fmt::format("server limit reached: {} live runs (max_runs)", runs_.size());
    return result;
  }
  if (instances_live_ >= limits_.max_instances) {
    result.error = EngineError::kLimit;
    result.message = fmt::format("server limit reached: {} instances in progress "
                                 "(max_instances)", instances_live_);
    return result;
  }
  RunEnvironment env;
  env.clock = &clock_;
  env.io = io_;
  env.limits = &limits_;
  env.instances_live = &instances_live_;
  env.on_completed = [this](Run& run) { OnRunCompleted(run); };
  result.run_id = def->run_id;
  auto run = std::make_unique<Run>(std::move(*def), std::move(env));
  Run& started = *run;
  runs_.emplace(result.run_id, Entry{std::move(run), false});
  started.Start();
  return result;
}

EngineResult<Run*> RunRegistry::Query(std::string_view run_id) {
  Sweep();
  EngineResult<Run*> result;
  Entry* entry = Find(run_id);
  if (entry == nullptr) {
    result.error = EngineError::kUnknownRun;
    result.message = UnknownRun(run_id);
    return result;
  }
  if (entry->run->completed() && !entry->run->returned_at) {
    entry->run->returned_at = clock_.Now();
  }
  result.value = entry->run.get();
  return result;
}

EngineResult<std::pair<Run*, bool>> RunRegistry::Cancel(std::string_view run_id) {
  Sweep();
  EngineResult<std::pair<Run*, bool>> result;
  Entry* entry = Find(run_id);
  if (entry == nullptr) {
    result.error = EngineError::kUnknownRun;
    result.message = UnknownRun(run_id);
    return result;
  }
  bool was_running = entry->run->Cancel();
  result.value = {entry->run.get(), was_running};
  Discard(entry->run->run_id());
  return result;
}

EngineError RunRegistry::Resume(std::string_view run_id, int64_t instance_id,
                                const rapidjson::Value* vars, std::string* message) {
  Sweep();
  Entry* entry = Find(run_id);
  if (entry == nullptr) {
    *message = UnknownRun(run_id);
    return EngineError::kUnknownRun;
  }
  switch (entry->run->Resume(instance_id, vars)) {
    case ResumeError::kNone:
      return EngineError::kNone;
    case ResumeError::kNoSuchInstance:
      *message = fmt::format("run \"{}\" has no instance {} and never will", run_id, instance_id);
      return EngineError::kNoSuchInstance;
    case ResumeError::kNotHalted:
      *message = fmt::format("instance {} of run \"{}\" is not halted", instance_id, run_id);
      return EngineError::kNotHalted;
  }
  return EngineError::kNone;
}

EngineError RunRegistry::Pause(std::string_view run_id, std::string* message) {
  Sweep();
  Entry* entry = Find(run_id);
  if (entry == nullptr) {
    *message = UnknownRun(run_id);
    return EngineError::kUnknownRun;
  }
  Status status = entry->run->Pause();
  if (status.ok()) return EngineError::kNone;
  *message = status.message();
  return EngineError::kBadState;
}

EngineError RunRegistry::Unpause(std::string_view run_id, std::string* message) {
  Sweep();
  Entry* entry = Find(run_id);
  if (entry == nullptr) {
    *message = UnknownRun(run_id);
    return EngineError::kUnknownRun;
  }
  Status status = entry->run->Unpause();
  if (status.ok()) return EngineError::kNone;
  *message = status.message();
  return EngineError::kBadState;
}

std::vector<const Run*> RunRegistry::Runs() {
  Sweep();
  std::vector<const Run*> out;
  for (const auto& [id, entry] : runs_) {
    if (!entry.doomed) out.push_back(entry.run.get());
  }
  return out;
}

void RunRegistry::CancelAll(std::string_view reason) {
  for (auto& [id, entry] : runs_) {
    // A cancel writes the file (OnRunCompleted); a run that completed earlier had its
    // write then, and gets one more try if that failed.
    if (!entry.run->Cancel(reason) && entry.results_unwritten) {
      entry.results_unwritten = !WriteResults(*entry.run);
    }
  }
}

void RunRegistry::OnRunCompleted(Run& run) {
  // SPEC §3: the final status is written when the run completes (or is cancelled), before
  // any QueryTest can return it as completed: this runs inside Run::Complete.
  bool written = WriteResults(run);
  auto it = runs_.find(run.run_id());
  if (it != runs_.end()) it->second.results_unwritten = !written;
}

bool RunRegistry::WriteResults(const Run& run) {
  if (limits_.results_dir.empty()) return true;
  Status status = WriteResultsFile(limits_.results_dir, run);
  if (status.ok()) return true;
  ++results_write_failures_;
  if (on_results_error_) on_results_error_(run.run_id(), status);
  return false;
}

namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

// Writes all of `data` to `fd`, retrying short writes and EINTR.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Status RunRegistry::WriteResultsFile(const std::string& dir, const Run& run) {
  rapidjson::Document doc;
  WriteRunStatus(run, doc, doc.GetAllocator());
  // The same JSON text a QueryTest answer carries (shortest round-trip numbers).
  std::string text = JsonText(doc);
  text += '\n';
  std::string path = fmt::format("{}/{}.json", dir, run.run_id());
  // A dot file, so that a reader globbing *.json never sees a partial one.
  std::string tmp = fmt::format("{}/.{}.json.tmp", dir, run.run_id());
  // Results may hold what the system under test sent (trace_log), so not world-readable;
  // and a symlink planted at the temporary name (a results_dir others can write to) is
  // refused rather than followed to truncate its target.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) return Status::Error(fmt::format("cannot create {}: {}", tmp, ErrnoText(errno)));
  const char* step = nullptr;
  if (!WriteAll(fd, text.data(), text.size())) {
    step = "write";
  } else if (::fsync(fd) != 0) {
    step = "fsync";
  }
  int error = errno;
  if (::close(fd) != 0 && step == nullptr) {
    step = "close";
    error = errno;
  }
  if (step == nullptr && ::rename(tmp.c_str(), path.c_str()) != 0) {
    step = "rename";
    error = errno;
  }
  if (step != nullptr) {
    ::unlink(tmp.c_str());
    return Status::Error(fmt::format("cannot {} {}: {}", step,
                                     std::string_view(step) == "rename" ? path : tmp,
                                     ErrnoText(error)));
  }
  // The rename is durable only once the directory entry is.
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Status::Error(fmt::format("cannot open {}: {}", dir, ErrnoText(errno)));
  bool synced = ::fsync(dir_fd) == 0;
  error = errno;
  ::close(dir_fd);
  if (!synced) return Status::Error(fmt::format("cannot fsync {}: {}", dir, ErrnoText(error)));
  return Status::Ok();
}

size_t RunRegistry::live_runs() const {
  size_t n = 0;
  for (const auto& [id, entry] : runs_) n += entry.doomed ? 0 : 1;
  return n;
}

uint64_t RunRegistry::instances_live() const { return instances_live_; }

size_t RunRegistry::lua_memory_bytes() const {
  size_t bytes = 0;
  for (const auto& [id, entry] : runs_) bytes += entry.run->lua().memory_used();
  return bytes;
}

}  // namespace testrund::ops
