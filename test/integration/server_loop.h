// SPDX-License-Identifier: Apache-2.0
// Where the event loop of a loopback test server runs (protocol_test's HTTP server, the
// socket servers of socket_servers.h): on a thread of this process, or in a forked child so
// that the server's descriptors do not count in this process's (the descriptor-release
// tests). Also the TLS context those servers serve with. libevent is made thread-safe here,
// before any event_base exists, since the servers' bases live on threads of their own.
//
//   loop_.Start(own_process, fd, [&] { return MakeBaseListeningOn(fd); });
//   ...
//   loop_.Stop();
//   if (!loop_.forked()) FreeWhatSetupMade();
#pragma once

#include <sys/types.h>

#include <functional>
#include <thread>

#include "test/integration/harness.h"

struct event_base;
struct ssl_ctx_st;

namespace testrund::test {

class ServerLoop {
 public:
  ServerLoop() = default;
  ServerLoop(const ServerLoop&) = delete;
  ServerLoop& operator=(const ServerLoop&) = delete;

  // Dispatches the event_base that `setup` makes (with a listener on `listen_fd`). `setup`
  // runs here and the loop on a new thread or, with `own_process`, both in a forked child;
  // this process then closes its copy of `listen_fd`.
  void Start(bool own_process, int listen_fd, const std::function<event_base*()>& setup);
  // Ends the loop: kills the child, or exits the loop and joins the thread.
  void Stop();
  // Whether the loop ran in a child. If not, its server frees what `setup` made after Stop;
  // a child took all of it along.
  bool forked() const { return child_ > 0; }

 private:
  event_base* base_ = nullptr;
  std::thread thread_;
  pid_t child_ = -1;
};

// A TLS server context with `tls`'s certificate and key (SSL_CTX_free frees it).
ssl_ctx_st* NewServerTlsContext(const TlsFiles& tls);

}  // namespace testrund::test
