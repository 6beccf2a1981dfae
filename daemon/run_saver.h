// SPDX-License-Identifier: Apache-2.0
// RunSaver: keeps state_dir (docs/configuration.md#persisted-run-state) in step with the
// registry, and brings the runs back at start-up (docs/decisions.md, "State that survives
// the daemon"). A run's file (daemon/run_state.h) is saved whenever its control state
// changes — ExecuteTest, PauseTest, UnpauseTest, CancelTest, RestartTest, a repetition's
// end, the run's end — and, while it runs, every checkpoint_interval with its results; it is
// removed when the registry discards the run. At a stop (SIGTERM) every run is saved as it
// stands before the daemon cancels them, and what that cancelling changes is not saved, so a
// run that was running comes back `interrupted` with its results of the stop. The run's
// webhook reporters (run_reporters.h), when given, are saved with it — their pending reports
// with their bodies — and brought back with it.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "daemon/run_reporters.h"
#include "daemon/state_store.h"
#include "ops/base/clock.h"
#include "ops/run_registry.h"

namespace testrund::daemon {

class RunSaver {
 public:
  // Hooks into `registry` and `reporters` (all borrowed: the registry is destroyed first;
  // reporters may be nullptr). Saves every `checkpoint_interval` seconds.
  RunSaver(const StateStore& store, ops::RunRegistry& registry, ops::Clock& clock,
           double checkpoint_interval, RunReporters* reporters = nullptr);

  // Start-up: every file read back into the registry. Files that cannot be trusted are
  // moved aside and logged; the daemon starts anyway. Returns the runs brought back.
  size_t RestoreAll();

  // Before the daemon cancels its runs at a stop: saves each as it stands, and no more.
  void SaveForStop();

  // Writes that failed since start (each is logged).
  uint64_t failures() const { return failures_; }

 private:
  void Save(const std::string& run_id);
  // Saves `run_id` on the next loop turn: a repetition's end is seen before the series has
  // made the next one, and the file must say the series' state after that.
  void SaveSoon(const std::string& run_id);
  void SaveDirty();
  void Remove(const std::string& run_id);
  void OnCheckpoint();

  const StateStore& store_;
  ops::RunRegistry& registry_;
  ops::Clock& clock_;
  RunReporters* reporters_;
  ops::MonoNs checkpoint_ns_;
  std::unique_ptr<ops::Timer> checkpoint_;
  std::unique_ptr<ops::Timer> soon_;
  std::set<std::string> dirty_;
  bool stopping_ = false;
  uint64_t failures_ = 0;
};

}  // namespace testrund::daemon
