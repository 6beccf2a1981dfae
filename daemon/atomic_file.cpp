// SPDX-License-Identifier: Apache-2.0
// Atomic file replacement (see atomic_file.h).
#include "daemon/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace testrund::daemon {
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

Status WriteFileAtomically(const std::string& dir, std::string_view name, std::string_view text) {
  std::string path = fmt::format("{}/{}", dir, name);
  // A dot file, so that a reader globbing *.json never sees a partial one.
  std::string tmp = fmt::format("{}/.{}.tmp", dir, name);
  // The files may hold what the system under test sent (trace_log), so not world-readable;
  // and a symlink planted at the temporary name (a directory others can write to) is
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
  return SyncDirectory(dir);
}

Status SyncDirectory(const std::string& dir) {
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Status::Error(fmt::format("cannot open {}: {}", dir, ErrnoText(errno)));
  bool synced = ::fsync(dir_fd) == 0;
  int error = errno;
  ::close(dir_fd);
  if (!synced) return Status::Error(fmt::format("cannot fsync {}: {}", dir, ErrnoText(error)));
  return Status::Ok();
}

}  // namespace testrund::daemon
