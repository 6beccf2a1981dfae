// SPDX-License-Identifier: Apache-2.0
// GetServerInfo: the daemon's version, start time, load and memory, for monitoring.
#include "rpc/server_methods.h"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <utility>

#include <lua.h>  // LUA_RELEASE only

#include "ops/run_registry.h"

namespace testrund::rpc {
namespace {

// Resident set size from /proc/self/statm (second field, in pages); 0 when unreadable.
uint64_t ReadResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  int n = std::fscanf(f, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(f);
  if (n != 2) return 0;
  long page = sysconf(_SC_PAGESIZE);
  return resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
}

// ReadResidentBytes, read at most every 100 ms: reading statm costs a fraction of a
// millisecond (more with large mappings, as under AddressSanitizer), and a batch of thousands
// of GetServerInfo calls would otherwise stall the loop for as many reads. Single-threaded.
uint64_t ResidentBytes() {
  using Clock = std::chrono::steady_clock;
  static Clock::time_point read_at;
  static uint64_t bytes = 0;
  Clock::time_point now = Clock::now();
  if (bytes == 0 || now - read_at >= std::chrono::milliseconds(100)) {
    bytes = ReadResidentBytes();
    read_at = now;
  }
  return bytes;
}

}  // namespace

Outcome GetServerInfo(const rapidjson::Value& /*params*/, MethodContext& ctx) {
  Allocator& a = ctx.allocator;
  const ServerState& s = ctx.server;
  uint64_t runs = 0;
  uint64_t instances = 0;
  if (s.runs != nullptr) {
    runs = s.runs->live_runs();
    instances = s.runs->instances_live();
  }
  rapidjson::Value time_start(rapidjson::kArrayType);
  time_start.PushBack(static_cast<int64_t>(s.time_start.sec), a)
      .PushBack(static_cast<int64_t>(s.time_start.usec), a);

  rapidjson::Value r(rapidjson::kObjectType);
  r.AddMember("version", rapidjson::StringRef(TESTRUND_VERSION), a);
  r.AddMember("time_start", time_start, a);
  r.AddMember("runs", runs, a);
  r.AddMember("instances_live", instances, a);
  r.AddMember("memory_bytes", ResidentBytes(), a);
  r.AddMember("lua_version", rapidjson::StringRef(LUA_RELEASE), a);
  std::string_view role = RoleName(ctx.role);
  r.AddMember("role", rapidjson::StringRef(role.data(), role.size()), a);
  return Outcome(std::move(r));
}

}  // namespace testrund::rpc
