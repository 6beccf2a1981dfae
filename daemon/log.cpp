// SPDX-License-Identifier: Apache-2.0
// Implementation of the daemon log (see log.h): a FILE* that is stderr or an appended file,
// line-buffered so that a test reading stderr sees each line as it is written.
#include "daemon/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace testrund::daemon {
namespace {

struct LogState {
  LogLevel level = LogLevel::kInfo;
  std::string path;      // empty: stderr
  FILE* file = nullptr;  // nullptr: stderr
};

LogState& State() {
  static LogState state;
  return state;
}

Result<FILE*> OpenAppend(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status::Error(fmt::format("cannot open log file {}: {}", path, std::strerror(errno)));
  }
  FILE* file = fdopen(fd, "a");
  if (file == nullptr) {
    close(fd);
    return Status::Error(fmt::format("cannot open log file {}: {}", path, std::strerror(errno)));
  }
  setvbuf(file, nullptr, _IOLBF, 0);
  return file;
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "error") return LogLevel::kError;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "info") return LogLevel::kInfo;
  if (name == "debug") return LogLevel::kDebug;
  return Status::Error(fmt::format("\"{}\" is not a log level (error, warn, info, debug)", name));
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

void SetLogLevel(LogLevel level) { State().level = level; }
LogLevel GetLogLevel() { return State().level; }

Status OpenLogFile(const std::string& path) {
  LogState& state = State();
  if (path.empty()) {
    if (state.file != nullptr) fclose(state.file);
    state.file = nullptr;
    state.path.clear();
    return Status::Ok();
  }
  Result<FILE*> file = OpenAppend(path);
  if (!file.ok()) return file.status();
  if (state.file != nullptr) fclose(state.file);
  state.file = *file;
  state.path = path;
  return Status::Ok();
}

void ReopenLogFile() {
  LogState& state = State();
  if (state.file == nullptr) return;
  Result<FILE*> file = OpenAppend(state.path);
  if (!file.ok()) {
    LogError("log reopen failed: {}", file.message());
    return;
  }
  fclose(state.file);
  state.file = *file;
  LogInfo("log file reopened");
}

void LogLine(LogLevel level, std::string_view text) {
  LogState& state = State();
  if (level > state.level) return;
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  FILE* out = state.file != nullptr ? state.file : stderr;
  std::fprintf(out, "%s.%03dZ %s %.*s\n", stamp, static_cast<int>(tv.tv_usec / 1000),
               std::string(LogLevelName(level)).c_str(), static_cast<int>(text.size()),
               text.data());
  std::fflush(out);
}

}  // namespace testrund::daemon
