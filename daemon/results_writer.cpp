// SPDX-License-Identifier: Apache-2.0
// results_dir files, written atomically (see results_writer.h).
#include "daemon/results_writer.h"

#include <utility>

#include <fmt/format.h>

#include "daemon/atomic_file.h"
#include "ops/base/json_writer.h"
#include "rpc/run_result.h"

namespace testrund::daemon {

ResultsWriter::ResultsWriter(std::string dir, ops::RunRegistry& registry, ErrorHandler on_error)
    : dir_(std::move(dir)), on_error_(std::move(on_error)) {
  if (dir_.empty()) return;
  registry.add_on_completed([this](const ops::RunSeries& run) { OnCompleted(run); });
  registry.add_on_repetition([this](const ops::Run& repetition) { OnRepetition(repetition); });
  registry.add_on_discarded([this](const ops::RunSeries& run) { OnDiscarded(run); });
  registry.add_on_restarted(
      [this](const ops::RunSeries& run, uint32_t restart) { OnRestarted(run, restart); });
}

template <typename Source>
bool ResultsWriter::Write(const Source& source, std::string_view name) {
  rapidjson::Document doc;
  rapidjson::Value result = rpc::QueryTestResult(
      source.Snapshot(ops::kSnapshotQueryTest, doc.GetAllocator()), doc.GetAllocator());
  Status status = WriteFile(dir_, name.empty() ? source.run_id() : name, result);
  if (status.ok()) return true;
  ++failures_;
  if (on_error_) on_error_(source.run_id(), status);
  return false;
}

void ResultsWriter::OnRestarted(const ops::RunSeries& run, uint32_t restart) {
  // One try: the replaced run is freed right after.
  (void)Write(run, fmt::format("{}.restart-{}", run.run_id(), restart));
}

void ResultsWriter::OnRepetition(const ops::Run& repetition) {
  // One try: the repetition is freed once the next one starts.
  (void)Write(repetition, fmt::format("{}.{}", repetition.run_id(), repetition.repetition()));
}

void ResultsWriter::OnCompleted(const ops::RunSeries& run) {
  if (!Write(run)) unwritten_.insert(run.run_id());
}

void ResultsWriter::OnDiscarded(const ops::RunSeries& run) {
  auto it = unwritten_.find(run.run_id());
  if (it == unwritten_.end()) return;
  unwritten_.erase(it);
  (void)Write(run);  // the last try
}

Status ResultsWriter::WriteFile(const std::string& dir, std::string_view name,
                                const rapidjson::Value& result) {
  // The same JSON text a QueryTest answer carries (shortest round-trip numbers).
  std::string text = ops::JsonText(result);
  text += '\n';
  return WriteFileAtomically(dir, fmt::format("{}.json", name), text);
}

}  // namespace testrund::daemon
