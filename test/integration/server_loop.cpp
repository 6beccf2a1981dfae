// SPDX-License-Identifier: Apache-2.0
// ServerLoop and the test servers' TLS context (see server_loop.h).
#include "test/integration/server_loop.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace testrund::test {
namespace {

// Servers run on their own threads: libevent must lock its bases before any is created.
const bool kThreadsEnabled = [] { return evthread_use_pthreads() == 0; }();

}  // namespace

void ServerLoop::Start(bool own_process, int listen_fd,
                       const std::function<event_base*()>& setup) {
  REQUIRE(kThreadsEnabled);
  if (own_process) {
    child_ = fork();
    REQUIRE(child_ >= 0);
    if (child_ == 0) {
      event_base_dispatch(setup());
      _exit(0);
    }
    close(listen_fd);
    return;
  }
  base_ = setup();
  thread_ = std::thread([this] { event_base_dispatch(base_); });
}

void ServerLoop::Stop() {
  if (forked()) {
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
    return;
  }
  event_base_loopexit(base_, nullptr);
  thread_.join();
}

ssl_ctx_st* NewServerTlsContext(const TlsFiles& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_chain_file(ctx, tls.cert.c_str());
  SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM);
  return ctx;
}

}  // namespace testrund::test
