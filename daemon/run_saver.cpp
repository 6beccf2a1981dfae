// SPDX-License-Identifier: Apache-2.0
// state_dir kept in step with the registry (see run_saver.h).
#include "daemon/run_saver.h"

#include <utility>

#include "daemon/log.h"
#include "daemon/run_state.h"
#include "rpc/run_result.h"

namespace testrund::daemon {

RunSaver::RunSaver(const StateStore& store, ops::RunRegistry& registry, ops::Clock& clock,
                   double checkpoint_interval, RunReporters* reporters)
    : store_(store),
      registry_(registry),
      clock_(clock),
      reporters_(reporters),
      checkpoint_ns_(static_cast<ops::MonoNs>(checkpoint_interval * ops::kNsPerSecond)) {
  registry.add_on_changed([this](const std::string& run_id) { Save(run_id); });
  registry.add_on_repetition([this](const ops::Run& run) { SaveSoon(run.run_id()); });
  registry.add_on_completed([this](const ops::RunSeries& run) { Save(run.run_id()); });
  registry.add_on_discarded([this](const ops::RunSeries& run) { Remove(run.run_id()); });
  if (reporters != nullptr) {
    reporters->set_on_changed([this](const std::string& run_id) { SaveSoon(run_id); });
  }
  soon_ = clock.NewTimer([this] { SaveDirty(); });
  checkpoint_ = clock.NewTimer([this] { OnCheckpoint(); });
  checkpoint_->ArmAt(clock.Now() + checkpoint_ns_);
}

void RunSaver::Save(const std::string& run_id) {
  if (stopping_) return;
  rapidjson::Document doc;
  std::optional<ops::RunRecord> record =
      registry_.Record(run_id, ops::kSnapshotQueryTest, doc.GetAllocator());
  if (!record) return;
  // The hook of a run's end runs inside the engine's call: the registry entry is there.
  rapidjson::Value result =
      rpc::QueryTestResult(std::move(record->snapshot), doc.GetAllocator());
  std::string text = SavedRunText(run_id, *record->params, record->restarts, record->series,
                                  result, clock_.WallNow(),
                                  reporters_ != nullptr ? reporters_->Saved(run_id)
                                                        : std::vector<SavedReporter>{});
  Status saved = store_.Save(run_id, text);
  if (saved.ok()) return;
  ++failures_;
  LogWarn("state_dir: the state of run \"{}\" was not saved: {}", run_id, saved.message());
}

void RunSaver::SaveSoon(const std::string& run_id) {
  dirty_.insert(run_id);
  soon_->ArmAt(clock_.Now());
}

void RunSaver::SaveDirty() {
  std::set<std::string> dirty;
  dirty.swap(dirty_);
  for (const std::string& run_id : dirty) Save(run_id);
}

void RunSaver::Remove(const std::string& run_id) {
  if (stopping_) return;
  Status removed = store_.Remove(run_id);
  if (!removed.ok()) LogWarn("state_dir: {}", removed.message());
}

void RunSaver::OnCheckpoint() {
  for (const std::string& run_id : registry_.RunIds()) {
    std::optional<ops::RunRecord> peek;
    rapidjson::Document scratch;
    peek = registry_.Record(run_id, 0, scratch.GetAllocator());
    if (peek && !peek->series.ended) Save(run_id);
  }
  checkpoint_->ArmAt(clock_.Now() + checkpoint_ns_);
}

void RunSaver::SaveForStop() {
  dirty_.clear();
  for (const std::string& run_id : registry_.RunIds()) Save(run_id);
  stopping_ = true;
  checkpoint_->Cancel();
}

size_t RunSaver::RestoreAll() {
  Result<std::vector<StoredState>> files =
      store_.LoadAll([](std::string_view file, std::string_view why) {
        LogWarn("state_dir: {} moved aside: {}", file, why);
      });
  if (!files.ok()) {
    LogWarn("state_dir: nothing restored: {}", files.message());
    return 0;
  }
  size_t restored = 0;
  for (StoredState& file : *files) {
    Result<SavedRun> saved = ReadSavedRun(file.state);
    if (!saved.ok()) {
      Result<std::string> moved = store_.MoveAsideRun(file.run_id);
      LogWarn("state_dir: {} moved aside: {}", moved.ok() ? *moved : file.run_id,
              saved.message());
      continue;
    }
    if (reporters_ != nullptr && registry_.Params(saved->run_id) == nullptr) {
      Status resumed = reporters_->Resume(saved->run_id, saved->params,
                                          std::move(saved->reporters));
      if (!resumed.ok()) {
        LogWarn("state_dir: the reports of run \"{}\" pending at the stop are lost: {}",
                saved->run_id, resumed.message());
      }
    }
    ops::RestoredRun run;
    run.run_id = saved->run_id;
    run.params = std::move(saved->params);
    run.restarts = saved->restarts;
    run.series = std::move(saved->series);
    run.result = std::make_shared<rapidjson::Document>(std::move(saved->result));
    run.saved_at = saved->saved_at;
    ops::EngineResult<ops::RunStatus> status = registry_.Restore(std::move(run));
    if (!status.ok()) {
      LogWarn("state_dir: run \"{}\" not restored: {}", file.run_id, status.message);
      continue;
    }
    ++restored;
    Save(file.run_id);  // the file now says what came back (an interrupted run, a new start)
    LogInfo("state_dir: run \"{}\" restored, {}", file.run_id, ops::RunStatusName(status.value));
  }
  return restored;
}

}  // namespace testrund::daemon
