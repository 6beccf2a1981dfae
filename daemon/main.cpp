// SPDX-License-Identifier: Apache-2.0
// testrund's entry point: argv -> Config -> Daemon::Run(). The only place that exits:
// 0 after a clean stop, --version, --help or a valid --check-config; 2 for a configuration
// error (a message naming the file, line and key, or the flag; a state_dir that cannot be
// written); 1 when start-up fails otherwise (e.g. an address cannot be bound).
#include <openssl/ssl.h>

#include <csignal>
#include <cstdio>
#include <optional>
#include <span>
#include <utility>

#include "daemon/auth.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/state_store.h"
#include "daemon/tls.h"

namespace {

constexpr int kExitConfig = 2;
constexpr int kExitStartup = 1;

// The checks --check-config adds to parsing: the files the configuration names.
testrund::Status CheckFiles(const testrund::daemon::Config& config) {
  if (!config.tls_cert.empty()) {
    auto ctx = testrund::daemon::NewServerTlsContext(config.tls_cert, config.tls_key);
    if (!ctx.ok()) return ctx.status();
  }
  auto tokens = testrund::daemon::TokenTable::Create(config.token);
  if (!tokens.ok()) return tokens.status();
  return testrund::Status::Ok();
}

int Main(int argc, char** argv) {
  using namespace testrund::daemon;
  auto invocation = ParseCommandLine(std::span<const char* const>(argv, argc));
  if (!invocation.ok()) {
    std::fprintf(stderr, "testrund: %s\n", invocation.message().c_str());
    return kExitConfig;
  }
  switch (invocation->action) {
    case Action::kHelp:
      std::fputs(HelpText().c_str(), stdout);
      return 0;
    case Action::kVersion:
      std::printf("testrund %s\n", TESTRUND_VERSION);
      return 0;
    case Action::kCheckConfig: {
      testrund::Status status = CheckFiles(invocation->config);
      if (!status.ok()) {
        std::fprintf(stderr, "testrund: %s\n", status.message().c_str());
        return kExitConfig;
      }
      std::printf("testrund: configuration ok\n");
      return 0;
    }
    case Action::kRun:
      break;
  }
  const Config& config = invocation->config;
  SetLogLevel(ParseLogLevel(config.log_level).value());
  if (testrund::Status status = OpenLogFile(config.log_file); !status.ok()) {
    std::fprintf(stderr, "testrund: log_file: %s\n", status.message().c_str());
    return kExitConfig;
  }
  if (testrund::Status status = CheckFiles(config); !status.ok()) {
    LogError("{}", status.message());
    return kExitConfig;
  }
  // Before anything binds: a state_dir that cannot be written is the configuration's fault.
  std::optional<StateStore> state;
  if (!config.state_dir.empty()) {
    auto opened = StateStore::Open(config.state_dir);
    if (!opened.ok()) {
      LogError("{}", opened.message());
      return kExitConfig;
    }
    state = std::move(opened.value());
  }
  // A client that disconnects mid-write must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  auto daemon = Daemon::Create(config, std::move(state));
  if (!daemon.ok()) {
    LogError("start-up failed: {}", daemon.message());
    return kExitStartup;
  }
  testrund::Status status = daemon.value()->Run();
  if (!status.ok()) {
    LogError("{}", status.message());
    return kExitStartup;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "testrund: fatal: %s\n", e.what());
    return kExitStartup;
  }
}
