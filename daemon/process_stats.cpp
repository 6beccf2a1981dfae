// SPDX-License-Identifier: Apache-2.0
// ReadProcessStats (see process_stats.h).
#include "daemon/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace testrund::daemon {
namespace {

double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

// /proc/self/statm: size and resident, in pages.
void ReadStatm(ProcessStats& out) {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return;
  unsigned long long size = 0;
  unsigned long long resident = 0;
  if (std::fscanf(f, "%llu %llu", &size, &resident) == 2) {
    auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    out.virtual_bytes = size * page;
    out.resident_bytes = resident * page;
  }
  std::fclose(f);
}

// The entries of /proc/self/fd, less the one this count itself opens.
std::optional<uint64_t> CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  uint64_t n = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n > 0 ? n - 1 : 0;
}

}  // namespace

ProcessStats ReadProcessStats() {
  ProcessStats out;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    out.cpu_seconds = Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
  }
  ReadStatm(out);
  out.open_fds = CountOpenFds();
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    out.max_fds = files.rlim_cur;
  }
  return out;
}

}  // namespace testrund::daemon
