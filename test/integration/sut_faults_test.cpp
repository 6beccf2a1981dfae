// SPDX-License-Identifier: Apache-2.0
// Faults of the system under test, against the real binary: loopback servers that
// refuse, reset, stall, answer garbage or close half-way through a response, each hit by an
// http run at full rate (`load`). Every instance aborts with the exact text; afterwards the
// daemon's descriptors (/proc/<pid>/fd) and resident memory return to their baseline, and
// all along an unrelated run keeps its exact counts and QueryTest answers within 100 ms.
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test/integration/bystander.h"
#include "test/integration/rpc_client.h"

namespace testrund::test {
namespace {

using Clock = std::chrono::steady_clock;

enum class Fault { kReset, kStall, kGarbage, kHalfResponse };

// A loopback server that misbehaves in one way, on its own thread.
class FaultyServer {
 public:
  explicit FaultyServer(Fault fault) : fault_(fault) {
    fd_ = BindLoopback(SOCK_STREAM | SOCK_CLOEXEC, &port_);
    REQUIRE(listen(fd_, 1024) == 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FaultyServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
    for (int fd : stalled_) close(fd);
  }
  uint16_t port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      if (fault_ == Fault::kStall) {
        stalled_.push_back(client);  // read nothing, answer nothing, keep it open
        continue;
      }
      ReadRequestHead(client);
      switch (fault_) {
        case Fault::kReset: {
          linger lin{1, 0};
          setsockopt(client, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
          break;
        }
        case Fault::kGarbage:
          Send(client, "garbage, not HTTP\r\n\r\n");
          break;
        case Fault::kHalfResponse:
          Send(client, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
          break;
        case Fault::kStall:
          break;
      }
      close(client);
    }
  }
  static void ReadRequestHead(int fd) {
    std::string in;
    while (in.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) return;
      char buffer[4096];
      ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n <= 0) return;
      in.append(buffer, static_cast<size_t>(n));
    }
  }
  static void Send(int fd, std::string_view text) {
    (void)send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  }

  Fault fault_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> stalled_;
};

// Polls until the daemon holds at most `baseline` descriptors; returns the last count.
size_t WaitDescriptorsAtMost(pid_t pid, size_t baseline) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  size_t now = OpenDescriptors(pid);
  while (now > baseline && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    now = OpenDescriptors(pid);
  }
  return now;
}

struct FaultCase {
  const char* name;
  std::optional<Fault> fault;  // none: nobody listens
  int total;
  const char* cause;  // the abort text after "HTTP GET <url> "
};

const FaultCase kFaults[] = {
    {"refused", std::nullopt, 2000, "failed: connection refused"},
    {"reset", Fault::kReset, 2000, "failed: connection reset by peer"},
    {"stalled", Fault::kStall, 300, "timed out after 0.5 seconds"},
    {"garbage", Fault::kGarbage, 2000, "failed: invalid HTTP response: invalid constant string"},
    {"closed half-way", Fault::kHalfResponse, 2000,
     "failed: connection closed before the response was complete"},
};

}  // namespace

TEST_CASE("SUT faults: refused, reset, stalled, garbage, half-closed at full rate",
          "[integration]") {
  Daemon d(Bystander::DaemonArgs());
  RpcClient client(d, Framing::kHttp);
  // While the run fails connections at full rate, work turns of at most ~1 ms keep
  // QueryTest within 100 ms.
  Bystander bystander(d, 15);
  // The first pass warms up (allocator pools, retained runs, the first sockets); the baseline
  // is taken after it and the second pass must come back to it.
  size_t fd_baseline = OpenDescriptors(d.pid());
  int64_t rss_baseline = 0;
  int n = 0;
  for (int pass = 0; pass < 2; ++pass) {
  if (pass == 1) {
    WaitDescriptorsAtMost(d.pid(), fd_baseline);
    rss_baseline = ResidentKiB(d.pid());
  }
  for (const FaultCase& c : kFaults) {
    INFO("fault: " << c.name << ", pass " << pass);
    std::optional<FaultyServer> server;
    if (c.fault) server.emplace(*c.fault);
    std::string url =
        fmt::format("http://127.0.0.1:{}/x", server ? server->port() : RefusedPort());
    std::string id = client.Execute(fmt::format(R"({{"run_id": "fault-{}",
      "distribution": {{"type": "load", "total": {}, "backlog": 300}},
      "operations": [{{"type": "http", "arguments": {{"url": "{}", "timeout": 0.5}}}},
                     {{"type": "eval", "expression": "v.after = true"}}]}})",
                                                n++, c.total, url));
    auto start = Clock::now();
    Reply r = client.WaitCompleted(id, 60);
    INFO("took " << std::chrono::duration<double>(Clock::now() - start).count() << " s");
    const rapidjson::Value& result = r.result();
    CHECK_JSON(result["counts"], fmt::format(R"({{"started": {0}, "finished": {0}, "passed": 0,
      "failed": 0, "aborted": {0}, "cancelled": 0, "late": 0, "halted": 0, "running": 0}})",
                                             c.total));
    CHECK_JSON(result["first_aborts"],
               fmt::format(R"([{{"op_idx": 0, "text": "HTTP GET {} {}", "count": {}}}])", url,
                           c.cause, c.total));
    server.reset();
    // Every socket and timer of those instances is gone (the first pass may open lazily
    // created descriptors once).
    if (pass == 1) CHECK(WaitDescriptorsAtMost(d.pid(), fd_baseline) <= fd_baseline);
    if (pass == 0) fd_baseline = std::max(fd_baseline, OpenDescriptors(d.pid()));
  }
  }
  int64_t rss = ResidentKiB(d.pid());
  INFO("RSS baseline " << rss_baseline << " KiB, after " << rss << " KiB");
  if (!kAddressSanitizer) CHECK(rss <= rss_baseline + rss_baseline / 10 + 4096);
  bystander.Check();
}

}  // namespace testrund::test
