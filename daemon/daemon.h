// SPDX-License-Identifier: Apache-2.0
// Daemon: the whole running server. Owns the event_base and, in start-up order, the clock,
// the loop-lag probe, the engine (RunRegistry), its housekeeping timer and the operator page's LiveView, the method table and dispatcher, the tokens,
// the TLS context, the connections, the listeners and the signal events. A coordinator
// (docs/scale-out.md) also owns its Coordinator, whose methods replace the engine's. Destruction runs in the
// reverse order, so nothing outlives what it borrows.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "daemon/auth.h"
#include "daemon/config.h"
#include "daemon/connection.h"
#include "daemon/connection_set.h"
#include "daemon/coordinator/coordinator.h"
#include "daemon/exposition.h"
#include "daemon/listener.h"
#include "daemon/live_view.h"
#include "daemon/loop_lag.h"
#include "daemon/results_writer.h"
#include "daemon/run_reporters.h"
#include "daemon/run_saver.h"
#include "daemon/state_store.h"
#include "ops/base/event_handles.h"
#include "ops/base/status.h"
#include "ops/net/event_clock.h"
#include "ops/net/io_context.h"
#include "ops/protocol/protocol_ops.h"
#include "ops/run_registry.h"
#include "rpc/dispatcher.h"
#include "rpc/methods.h"

namespace testrund::daemon {

class Daemon {
 public:
  // Builds everything and binds every listener, then logs one `listening on HOST:PORT
  // (plain|tls)` line per listener. Error: a TLS or bind failure, naming the option or the
  // address (main exits 1; TLS option errors are reported by CheckTls first). `state` is
  // the opened state_dir (main opens it first: a state_dir that cannot be written is a
  // configuration error, exit 2), or nullopt when state_dir is not set.
  static Result<std::unique_ptr<Daemon>> Create(const Config& config,
                                                std::optional<StateStore> state = std::nullopt);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs the loop until SIGTERM or SIGINT, then stops accepting and closes every
  // connection. SIGHUP reopens the log file. Error: the loop itself failed.
  Status Run();

 private:
  Daemon(const Config& config, std::optional<StateStore> state);
  Status Start();
  std::string HealthBody() const;
  std::string MetricsBody(ExpositionFormat format);
  // The server block of the operator page's runs stream.
  std::string LiveServerJson() const;
  double UptimeSeconds() const;
  void Stop(const char* why);

  static void OnStopSignal(evutil_socket_t signal, short, void* arg);
  static void OnHangup(evutil_socket_t, short, void* arg);
  // Once a second: RunRegistry::Sweep (retention, forgotten run ids).
  void OnHousekeeping();

  Config config_;
  std::optional<StateStore> state_;  // state_dir, when configured
  ops::EventBasePtr base_;
  std::unique_ptr<ops::EventClock> clock_;
  std::unique_ptr<ops::IoContext> io_;  // sockets of protocol ops; outlives the registry
  ops::MonoNs started_mono_ = 0;
  std::unique_ptr<LoopLagProbe> loop_lag_;
  size_t metrics_bytes_ = 0;  // the last /metrics text's size
  std::unique_ptr<ops::RunRegistry> registry_;
  std::unique_ptr<ResultsWriter> results_;
  std::unique_ptr<RunReporters> reporters_;  // destroyed after the registry, before io_
  std::unique_ptr<RunSaver> saver_;          // state_dir's writer; after the registry too
  std::unique_ptr<ops::Timer> housekeeping_;
  std::unique_ptr<LiveView> live_view_;  // outlives the connections that stream from it
  rpc::ServerState server_state_;
  std::unique_ptr<Coordinator> coordinator_;  // --coordinator only; destroyed before dispatcher_
  std::unique_ptr<rpc::MethodTable> methods_;
  TokenTable tokens_;
  std::unique_ptr<rpc::Dispatcher> dispatcher_;
  ops::SslCtxPtr tls_ctx_;
  ConnectionServices services_;
  std::unique_ptr<ConnectionSet> connections_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<ops::EventPtr> signals_;
  bool stopping_ = false;
};

}  // namespace testrund::daemon
