// SPDX-License-Identifier: Apache-2.0
// ResultsWriter: the results_dir files (docs/configuration.md#results-and-logging). When a run
// completes, is cancelled or fails, its final QueryTest object (rpc/run_result.h) is written
// to `<results_dir>/<run_id>.json`, from the registry's completion hook, before any
// QueryTest can return the run as completed. The file holds exactly that object as one line
// of UTF-8 JSON followed by "\n", mode 0640 (before the umask). It is written atomically
// (atomic_file.h): to `.<run_id>.json.tmp` in the same directory (never through a symlink at
// that name), fsync'd, renamed over `<run_id>.json`, then the directory is fsync'd; so a
// reader sees either no file or the whole one. A write that failed is tried once more when the run is
// discarded (or the daemon stops). A run that RestartTest replaces is written, once, to
// `<results_dir>/<run_id>.restart-<n>.json` (n = 1, 2, ...) the same way, and each
// repetition of a repeating run, when it ends, to `<results_dir>/<run_id>.<n>.json` (its own
// QueryTest object; `<run_id>.json` is the whole run's, with its history, at its end).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/status.h"
#include "ops/run.h"
#include "ops/run_registry.h"
#include "ops/run_series.h"

namespace testrund::daemon {

class ResultsWriter {
 public:
  // Called with the run_id and the error whenever a write fails (the daemon logs it).
  using ErrorHandler = std::function<void(std::string_view run_id, const Status& error)>;

  // Writes into `dir` (empty: writes nothing), registered as `registry`'s completion and
  // discard hooks: it must outlive every later call into the registry.
  ResultsWriter(std::string dir, ops::RunRegistry& registry, ErrorHandler on_error);

  // Writes the results file `<dir>/<name>.json` holding `result` now. Error: a sentence
  // naming the path and the errno text; the temporary file is then removed.
  static Status WriteFile(const std::string& dir, std::string_view name,
                          const rapidjson::Value& result);

  // Writes that failed since start (each retry counts again).
  uint64_t failures() const { return failures_; }

 private:
  void OnCompleted(const ops::RunSeries& run);
  void OnRepetition(const ops::Run& repetition);
  void OnDiscarded(const ops::RunSeries& run);
  void OnRestarted(const ops::RunSeries& run, uint32_t restart);
  // Writes the QueryTest object of `source` (a Run or a RunSeries) as `<name>.json`
  // (default: the run_id).
  template <typename Source>
  bool Write(const Source& source, std::string_view name = {});

  std::string dir_;
  ErrorHandler on_error_;
  std::set<std::string, std::less<>> unwritten_;  // run_ids whose write failed
  uint64_t failures_ = 0;
};

}  // namespace testrund::daemon
