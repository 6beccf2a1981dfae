// SPDX-License-Identifier: Apache-2.0
// Daemon start-up, the loop and shutdown (see daemon.h).
#include "daemon/daemon.h"

#include <event2/event.h>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <csignal>
#include <utility>

#include <lua.hpp>

#include "daemon/daemon_metrics.h"
#include "daemon/log.h"
#include "daemon/process_stats.h"
#include "daemon/run_metrics.h"
#include "daemon/tls.h"
#include "ops/base/check.h"

#ifndef TESTRUND_VERSION
#define TESTRUND_VERSION "unknown"
#endif

namespace testrund::daemon {
namespace {

// How often retention and discarded run ids are swept.
constexpr ops::MonoNs kHousekeepingInterval = ops::kNsPerSecond;

}  // namespace

Daemon::Daemon(const Config& config, std::optional<StateStore> state)
    : config_(config), state_(std::move(state)) {}

Daemon::~Daemon() {
  // Reverse dependency order: nothing may call into what is already gone.
  signals_.clear();
  listeners_.clear();
  connections_.reset();
  // Its pending replies complete into the dispatcher's bodies: it goes first.
  coordinator_.reset();
  dispatcher_.reset();
  methods_.reset();
  housekeeping_.reset();
  live_view_.reset();
  registry_.reset();
  reporters_.reset();
  saver_.reset();
  results_.reset();
  io_.reset();
  loop_lag_.reset();
  clock_.reset();
}

Result<std::unique_ptr<Daemon>> Daemon::Create(const Config& config,
                                               std::optional<StateStore> state) {
  std::unique_ptr<Daemon> daemon(new Daemon(config, std::move(state)));
  Status status = daemon->Start();
  if (!status.ok()) return status;
  return daemon;
}

Status Daemon::Start() {
  // A precise timer (timerfd on Linux): without it epoll_wait rounds every timeout up to
  // whole milliseconds, so a `linear` run's starts and every `wait` run up to 1 ms late
  // (docs/performance.md, scenario 5).
  event_config* event_options = event_config_new();
  if (event_options == nullptr) return Status::Error("cannot create the event loop");
  event_config_set_flag(event_options, EVENT_BASE_FLAG_PRECISE_TIMER);
  base_.reset(event_base_new_with_config(event_options));
  event_config_free(event_options);
  if (!base_) return Status::Error("cannot create the event loop");
  clock_ = std::make_unique<ops::EventClock>(
      base_.get(), [](std::string_view what) { LogError("timer callback threw: {}", what); });
  started_mono_ = clock_->Now();
  loop_lag_ = std::make_unique<LoopLagProbe>(*clock_);

  io_ = std::make_unique<ops::IoContext>(base_.get(), *clock_);
  registry_ = std::make_unique<ops::RunRegistry>(*clock_, config_.engine,
                                                 ops::AllOpTypes(), io_.get());
  results_ = std::make_unique<ResultsWriter>(
      config_.results_dir, *registry_, [](std::string_view run_id, const Status& error) {
        LogWarn("results_dir: the results of run \"{}\" were not written: {}", run_id,
                error.message());
      });
  reporters_ = std::make_unique<RunReporters>(*io_, config_.webhook_allow, *registry_);
  if (state_) {
    saver_ = std::make_unique<RunSaver>(*state_, *registry_, *clock_, config_.checkpoint_interval,
                                        reporters_.get());
    size_t restored = saver_->RestoreAll();
    if (restored > 0) LogInfo("state_dir: {} runs restored", restored);
  }
  server_state_.runs = registry_.get();
  server_state_.time_start = clock_->WallNow();
  housekeeping_ = clock_->NewTimer([this] { OnHousekeeping(); });
  housekeeping_->ArmAt(clock_->Now() + kHousekeepingInterval);
  live_view_ = std::make_unique<LiveView>(*registry_, *clock_, [this] { return LiveServerJson(); });
  if (config_.coordinator.enabled) {
    coordinator_ = std::make_unique<Coordinator>(*io_, config_.coordinator, config_.engine,
                                                 ops::AllOpTypes());
    methods_ = std::make_unique<rpc::MethodTable>(coordinator_->Methods(server_state_));
  } else {
    methods_ = std::make_unique<rpc::MethodTable>(rpc::BuildDefaultMethods(server_state_));
  }

  Result<TokenTable> tokens = TokenTable::Create(config_.token);
  if (!tokens.ok()) return tokens.status();
  tokens_ = std::move(tokens.value());
  dispatcher_ =
      std::make_unique<rpc::Dispatcher>(*methods_, config_.dispatch, tokens_.AsLookup());

  if (!config_.tls_listen.empty()) {
    Result<ops::SslCtxPtr> ctx = NewServerTlsContext(config_.tls_cert, config_.tls_key);
    if (!ctx.ok()) return ctx.status();
    tls_ctx_ = std::move(ctx.value());
  }

  services_.limits = config_.transport;
  services_.tokens = &tokens_;
  services_.handle_rpc = [this](std::string_view body, const rpc::Caller& caller,
                                rpc::ResponseSink& sink) {
    return dispatcher_->Handle(body, caller, sink);
  };
  services_.error_response = [](rpc::ErrorCode code, std::string_view message) {
    return rpc::Dispatcher::ErrorResponse(code, message);
  };
  services_.health_body = [this] { return HealthBody(); };
  services_.metrics_body = [this](ExpositionFormat format) { return MetricsBody(format); };
  services_.live_view = live_view_.get();
  connections_ = std::make_unique<ConnectionSet>(base_.get(), *clock_, services_);

  for (const std::string& address : config_.listen) {
    Result<std::unique_ptr<Listener>> listener =
        Listener::Bind(base_.get(), address, nullptr, *connections_);
    if (!listener.ok()) return listener.status();
    listeners_.push_back(std::move(listener.value()));
  }
  for (const std::string& address : config_.tls_listen) {
    Result<std::unique_ptr<Listener>> listener =
        Listener::Bind(base_.get(), address, tls_ctx_.get(), *connections_);
    if (!listener.ok()) return listener.status();
    listeners_.push_back(std::move(listener.value()));
  }

  for (int signal_number : {SIGTERM, SIGINT}) {
    signals_.emplace_back(evsignal_new(base_.get(), signal_number, &Daemon::OnStopSignal, this));
  }
  signals_.emplace_back(evsignal_new(base_.get(), SIGHUP, &Daemon::OnHangup, this));
  for (const ops::EventPtr& signal_event : signals_) {
    if (!signal_event || evsignal_add(signal_event.get(), nullptr) != 0) {
      return Status::Error("cannot install the signal handlers");
    }
  }

  LogInfo("testrund {} starting (libevent {}, {})", TESTRUND_VERSION, event_get_version(),
          OpenSSL_version(OPENSSL_VERSION));
  if (!tokens_.auth_required()) {
    bool all_loopback = true;
    for (const auto& listener : listeners_) all_loopback = all_loopback && listener->loopback();
    if (all_loopback) {
      LogInfo(
          "no tokens configured: authentication is off and every listener is "
          "loopback-only");
    } else {
      for (const auto& listener : listeners_) {
        if (!listener->loopback()) {
          LogWarn(
              "no tokens configured: {} is not loopback and accepts unauthenticated "
              "operator calls from the network",
              listener->bound_address());
        }
      }
    }
  } else {
    LogInfo("{} token(s) configured: every call needs one", config_.token.size());
  }
  if (coordinator_) {
    LogInfo("coordinator of {} (worker_timeout {} s, shard_lead {} s)",
            fmt::join(config_.coordinator.workers, ","), config_.coordinator.worker_timeout,
            config_.coordinator.shard_lead);
    coordinator_->Start();
  }
  for (const auto& listener : listeners_) {
    LogInfo("listening on {} ({})", listener->bound_address(), listener->tls() ? "tls" : "plain");
  }
  return Status::Ok();
}

Status Daemon::Run() {
  if (event_base_dispatch(base_.get()) < 0) return Status::Error("the event loop failed");
  LogInfo("stopped");
  return Status::Ok();
}

void Daemon::Stop(const char* why) {
  if (stopping_) return;
  stopping_ = true;
  LogInfo("{}: stopping", why);
  // Stop accepting first, so no connection arrives while the rest shuts down.
  listeners_.clear();
  connections_->CloseAll();
  housekeeping_.reset();
  // state_dir keeps each run as it stands; then every run ends as cancelled and its
  // results_dir file is written before the exit.
  if (saver_) saver_->SaveForStop();
  registry_->CancelAll();
  event_base_loopexit(base_.get(), nullptr);
}

double Daemon::UptimeSeconds() const {
  return ops::ToSeconds(clock_->Now() - started_mono_);
}

std::string Daemon::HealthBody() const {
  double uptime = UptimeSeconds();
  return fmt::format(
      "{{\"status\":\"ok\",\"version\":\"{}\",\"uptime_seconds\":{:.3f},\"connections\":{},"
      "\"runs\":{},\"instances_live\":{}}}",
      TESTRUND_VERSION, uptime, connections_->size(), registry_->live_runs(),
      registry_->instances_live());
}

std::string Daemon::LiveServerJson() const {
  std::optional<uint64_t> memory = ReadProcessStats().resident_bytes;
  return fmt::format(
      "{{\"version\":\"{}\",\"uptime_seconds\":{:.3f},\"memory_bytes\":{},\"runs\":{},"
      "\"instances_live\":{},\"connections\":{}}}",
      TESTRUND_VERSION, UptimeSeconds(), memory.value_or(0), registry_->live_runs(),
      registry_->instances_live(), connections_->size());
}

std::string Daemon::MetricsBody(ExpositionFormat format) {
  rapidjson::Document::AllocatorType alloc;  // metrics parts hold no JSON values
  std::vector<ops::RunSnapshot> runs = registry_->Runs(kRunMetricsParts, alloc);
  DaemonFigures figures;
  figures.version = TESTRUND_VERSION;
  figures.libevent_version = event_get_version();
  figures.lua_version = LUA_RELEASE;
  figures.started = server_state_.time_start;
  figures.process = ReadProcessStats();
  figures.connections_open = connections_->size();
  figures.instances_live = registry_->instances_live();
  figures.calls = &dispatcher_->calls();
  figures.loop_lag = &loop_lag_->histogram();
  Exposition out(format, metrics_bytes_ + metrics_bytes_ / 8);
  WriteDaemonMetrics(out, figures, runs);
  WriteRunMetrics(out, runs);
  std::string text = out.Finish();
  metrics_bytes_ = text.size();
  return text;
}

void Daemon::OnStopSignal(evutil_socket_t signal_number, short, void* arg) {
  auto* self = static_cast<Daemon*>(arg);
  self->Stop(signal_number == SIGINT ? "SIGINT" : "SIGTERM");
}

void Daemon::OnHousekeeping() {
  registry_->Sweep();
  if (coordinator_) coordinator_->Sweep();
  housekeeping_->ArmAt(clock_->Now() + kHousekeepingInterval);
}

void Daemon::OnHangup(evutil_socket_t, short, void*) { ReopenLogFile(); }

}  // namespace testrund::daemon
