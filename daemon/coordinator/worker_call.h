// SPDX-License-Identifier: Apache-2.0
// WorkerCall: one JSON-RPC request from a coordinator to one worker (docs/scale-out.md), over
// the length-prefixed framing on a connection of its own (ops::FramedCall), bounded by a
// timeout, its response parsed. A worker that is slower than the timeout, refuses the
// connection or answers something that is not a JSON-RPC response gives a `failure` text.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ops/base/clock.h"
#include "ops/net/framed_client.h"
#include "ops/net/io_context.h"

namespace testrund::daemon {

// A worker as the coordinator dials it.
struct WorkerAddress {
  std::string text;  // "IP:PORT" ("[IPv6]:PORT"), as logs and GetServerInfo show it
  std::string host;  // the IP, without brackets
  uint16_t port = 0;
};

struct WorkerAnswer {
  std::string failure;  // non-empty: no JSON-RPC answer (why, in a few words)
  rapidjson::Document response;
  // Into `response` when the worker answered: its result, or its error object.
  const rapidjson::Value* result = nullptr;
  const rapidjson::Value* error = nullptr;
  bool ok() const { return result != nullptr; }
  // The worker answered at all (a result or an error): it is alive.
  bool answered() const { return failure.empty(); }
};

// The text of a request to a worker: `params` (an object), and `auth` when `token` is not empty.
std::string WorkerRequest(std::string_view method, const rapidjson::Value& params,
                          const std::string& token);

class WorkerCall {
 public:
  // Called once, from a loop callback (never inside Start). It must not destroy the call.
  using OnDone = std::function<void(WorkerAnswer& answer)>;

  // Sends `request` (from WorkerRequest) to `worker`; `on_done` gets the answer, or a
  // failure after `timeout`. Destroying an unfinished call drops it silently.
  static std::unique_ptr<WorkerCall> Start(ops::IoContext& io, const WorkerAddress& worker,
                                           std::string request, ops::MonoNs timeout,
                                           OnDone on_done);
  ~WorkerCall();
  WorkerCall(const WorkerCall&) = delete;
  WorkerCall& operator=(const WorkerCall&) = delete;

  bool done() const { return done_; }

 private:
  explicit WorkerCall(OnDone on_done) : on_done_(std::move(on_done)) {}
  void OnFramed(ops::FramedOutcome& outcome);
  void OnTimeout();
  void Finish(WorkerAnswer& answer);

  OnDone on_done_;
  std::unique_ptr<ops::FramedCall> call_;
  std::unique_ptr<ops::Timer> timer_;
  bool done_ = false;
};

}  // namespace testrund::daemon
