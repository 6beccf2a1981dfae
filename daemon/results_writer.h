// SPDX-License-Identifier: Apache-2.0
// ResultsWriter: the results_dir files (docs/configuration.md#results-and-logging). When a run
// completes, is cancelled or fails, its final QueryTest object (rpc/run_result.h) is written
// to `<results_dir>/<run_id>.json`, from the registry's completion hook, before any
// QueryTest can return the run as completed. The file holds exactly that object as one line
// of UTF-8 JSON followed by "\n", mode 0640 (before the umask). It is written atomically: to
// `.<run_id>.json.tmp` in the same directory (never through a symlink at that name),
// fsync'd, renamed over `<run_id>.json`, then the directory is fsync'd; so a reader sees
// either no file or the whole one. A write that failed is tried once more when the run is
// discarded (or the daemon stops). A run that RestartTest replaces is written, once, to
// `<results_dir>/<run_id>.restart-<n>.json` (n = 1, 2, ...) the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "ops/base/status.h"
#include "ops/run.h"
#include "ops/run_registry.h"

namespace testrund::daemon {

class ResultsWriter {
 public:
  // Called with the run_id and the error whenever a write fails (the daemon logs it).
  using ErrorHandler = std::function<void(std::string_view run_id, const Status& error)>;

  // Writes into `dir` (empty: writes nothing), registered as `registry`'s completion and
  // discard hooks: it must outlive every later call into the registry.
  ResultsWriter(std::string dir, ops::RunRegistry& registry, ErrorHandler on_error);

  // Writes `run`'s results file now, `<name>.json` (default: the run_id). Error: a sentence
  // naming the path and the errno text; the temporary file is then removed.
  static Status WriteFile(const std::string& dir, const ops::Run& run,
                          std::string_view name = {});

  // Writes that failed since start (each retry counts again).
  uint64_t failures() const { return failures_; }

 private:
  void OnCompleted(const ops::Run& run);
  void OnDiscarded(const ops::Run& run);
  void OnRestarted(const ops::Run& run, uint32_t restart);
  bool Write(const ops::Run& run, std::string_view name = {});

  std::string dir_;
  ErrorHandler on_error_;
  std::set<std::string, std::less<>> unwritten_;  // run_ids whose write failed
  uint64_t failures_ = 0;
};

}  // namespace testrund::daemon
