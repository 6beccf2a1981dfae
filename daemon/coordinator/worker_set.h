// SPDX-License-Identifier: Apache-2.0
// WorkerSet: a coordinator's workers (docs/scale-out.md) and their health. The configured
// `workers` are addresses, or names resolved with libevent's asynchronous resolver (again
// every 10 s, so that the pods behind a Kubernetes headless Service are found); the workers
// are kept sorted by address, which is the order of shard indices. A heartbeat asks every
// worker for GetServerInfo once a second; a worker that has not answered anything for
// worker_timeout is `lost` (logged once), and `up` again when it answers.
#pragma once

#include <event2/dns.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/coordinator/coordinator_options.h"
#include "daemon/coordinator/worker_call.h"
#include "ops/base/clock.h"
#include "ops/base/event_handles.h"
#include "ops/net/io_context.h"

namespace testrund::daemon {

class WorkerSet {
 public:
  struct Worker {
    WorkerAddress address;
    std::string sort_key;  // family, address bytes, port: the shard order
    bool lost = false;
    ops::MonoNs last_heard = 0;                // the last answer (or when the worker appeared)
    std::optional<ops::WallTime> last_answer;  // nullopt: never answered
    uint64_t runs = 0;                         // from its last GetServerInfo
    uint64_t instances_live = 0;
    std::unique_ptr<WorkerCall> heartbeat;  // the last heartbeat call
  };

  // `io` is borrowed and must outlive the set; so must `options`.
  WorkerSet(ops::IoContext& io, const CoordinatorOptions& options);
  ~WorkerSet();
  WorkerSet(const WorkerSet&) = delete;
  WorkerSet& operator=(const WorkerSet&) = delete;

  // Reads the configured addresses, starts resolving names and the heartbeat.
  void Start();

  // The workers in shard order. Empty while every configured name is still resolving.
  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  // Whether `address` is a worker known to be lost (an address no longer listed is not).
  bool IsLost(const std::string& address) const;
  // A call to `address` got an answer: the worker is alive.
  void Heard(const std::string& address);
  // Names not resolved yet, as configured ("NAME:PORT").
  std::vector<std::string> Resolving() const;
  // Every worker's instances_live, summed.
  uint64_t instances_live() const;

  // The `workers` array of GetServerInfo: {address, state, last_answer, runs, instances_live}.
  rapidjson::Value Describe(rapidjson::Document::AllocatorType& alloc) const;

 private:
  struct Source;  // one configured entry
  static void OnResolved(int result, evutil_addrinfo* addresses, void* arg);
  void Resolve(Source& source);
  void Rebuild();
  void OnHeartbeat();
  void OnHeartbeatAnswer(Worker& worker, WorkerAnswer& answer);
  Worker* Find(const std::string& address) const;

  ops::IoContext& io_;
  const CoordinatorOptions& options_;
  evdns_base* dns_ = nullptr;  // io_'s, or own_dns_ when io_ has no nameservers
  ops::EvdnsPtr own_dns_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<ops::Timer> heartbeat_;
  std::unique_ptr<ops::Timer> resolve_;
};

}  // namespace testrund::daemon
