// SPDX-License-Identifier: Apache-2.0
// The bystander of the hostile-client and fault tests: an unrelated run that must not notice
// anything, and a QueryTest poller that must keep getting answers within 100 ms, whatever
// the test does to the daemon meanwhile.
//
//   Daemon d(Bystander::DaemonArgs());      // retention keeps the completed run queryable
//   Bystander bystander(d);                  // starts the run and the poller
//   ... the hostile client ...
//   bystander.Check();                       // exact counts, every answer in time
//
// The run ("bystander"): `linear` at 100 instances/s for `seconds`; each instance evaluates,
// waits 10 ms, asserts and adds 1 to g.count, so a finished run has exactly started ==
// finished == passed == total, no fail or abort, and g.count == total. The poller runs on its
// own thread and its own keep-alive connection (opened before the test starts, so that a
// connection flood cannot shut it out) and uses no Catch2 macros (they are not thread-safe):
// Check() reports what it saw.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test/integration/harness.h"

namespace testrund::test {

class Bystander {
 public:
  // Arguments every daemon with a bystander needs (completed runs stay queryable).
  static std::vector<std::string> DaemonArgs();

  // Starts the run (over HTTP, with `token` when given) and the poller. `answer_within`:
  // the QueryTest latency Check() accepts (100 ms; 3x that in the sanitize build).
  explicit Bystander(const Daemon& daemon, double seconds = 2, std::string token = "",
                     double answer_within = 0.1);
  ~Bystander();
  Bystander(const Bystander&) = delete;
  Bystander& operator=(const Bystander&) = delete;

  // Waits for the run to complete, stops the poller, and CHECKs the run's exact counts and
  // that every QueryTest answered (a result) within `answer_within`.
  void Check();

  int64_t total() const { return total_; }
  size_t polls() const;

 private:
  void Poll();
  void Stop();

  const Daemon& daemon_;
  std::string token_;
  int64_t total_;
  double answer_within_;
  int poll_fd_ = -1;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<double> latencies_;    // seconds per QueryTest
  std::vector<std::string> errors_;  // what went wrong, if anything
};

}  // namespace testrund::test
