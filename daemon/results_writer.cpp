// SPDX-License-Identifier: Apache-2.0
// results_dir files, written atomically (see results_writer.h).
#include "daemon/results_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

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

Status ResultsWriter::WriteFile(const std::string& dir, std::string_view name,
                                const rapidjson::Value& result) {
  // The same JSON text a QueryTest answer carries (shortest round-trip numbers).
  std::string text = ops::JsonText(result);
  text += '\n';
  std::string path = fmt::format("{}/{}.json", dir, name);
  // A dot file, so that a reader globbing *.json never sees a partial one.
  std::string tmp = fmt::format("{}/.{}.json.tmp", dir, name);
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

}  // namespace testrund::daemon
