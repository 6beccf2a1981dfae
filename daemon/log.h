// SPDX-License-Identifier: Apache-2.0
// The daemon's log: four levels, written to stderr or to a file (appended), one line per
// call with a UTC timestamp and the level. SIGHUP calls Reopen() so that logrotate can move
// the file away. Process-wide state (single-threaded daemon). Callers never pass tokens.
#pragma once

#include <fmt/core.h>

#include <string>
#include <string_view>

#include "ops/base/status.h"

namespace testrund::daemon {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error" | "warn" | "info" | "debug" -> level; nullopt-like error Status otherwise.
Result<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

// Messages above `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Sends the log to `path` (opened for append, created 0640). An empty path means stderr.
// Error: the file cannot be opened; the previous destination is kept.
Status OpenLogFile(const std::string& path);
// Re-opens the current log file (SIGHUP). No-op on stderr. On error the old file stays
// open and the error is logged to it.
void ReopenLogFile();

// Writes one line at `level` (no-op when filtered). Never throws.
void LogLine(LogLevel level, std::string_view text);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level > GetLogLevel()) return;
  try {
    LogLine(level, fmt::format(format, std::forward<Args>(args)...));
  } catch (...) {
    // A formatting failure (allocation) must not escape into a libevent callback.
  }
}

template <typename... Args>
void LogError(fmt::format_string<Args...> format, Args&&... args) {
  Log(LogLevel::kError, format, std::forward<Args>(args)...);
}
template <typename... Args>
void LogWarn(fmt::format_string<Args...> format, Args&&... args) {
  Log(LogLevel::kWarn, format, std::forward<Args>(args)...);
}
template <typename... Args>
void LogInfo(fmt::format_string<Args...> format, Args&&... args) {
  Log(LogLevel::kInfo, format, std::forward<Args>(args)...);
}
template <typename... Args>
void LogDebug(fmt::format_string<Args...> format, Args&&... args) {
  Log(LogLevel::kDebug, format, std::forward<Args>(args)...);
}

}  // namespace testrund::daemon
