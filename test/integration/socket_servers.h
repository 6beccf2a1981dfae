// SPDX-License-Identifier: Apache-2.0
// Servers the socket-op tests (socket_ops_test.cpp) talk to, on 127.0.0.1 port 0, each on
// its own thread and event_base (or in a forked child, so that its descriptors do not count
// in the test process's):
//   TcpTestServer(kEcho)            writes back every byte it reads
//   TcpTestServer(kLengthPrefixed)  reads frames "<N-byte big-endian length><body>" and
//                                   answers each with a frame of the same width holding
//                                   "re:" + body
//   TcpTestServer(kLines)           greets with "READY\r\n", then answers every line
//                                   (ending "\n", an optional "\r" dropped) upper-cased, ending
//                                   "\r\n"
//   TcpTestServer(kCloseHalfway)    sends "abc" and closes the connection
//   TcpTestServer(kSilent)          accepts and never answers
// Any of them inside TLS with a certificate from harness.h (`tls`). UdpEchoServer answers
// each datagram with the same bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <thread>

#include "test/integration/harness.h"
#include "test/integration/server_loop.h"

struct event_base;
struct evconnlistener;
struct ssl_ctx_st;

namespace testrund::test {

class TestConnection;  // one accepted connection (socket_servers.cpp)

enum class TcpBehaviour { kEcho, kLengthPrefixed, kLines, kCloseHalfway, kSilent };

struct TcpServerOptions {
  TcpBehaviour behaviour = TcpBehaviour::kEcho;
  int prefix_bytes = 4;            // kLengthPrefixed: 1, 2 or 4
  const TlsFiles* tls = nullptr;   // serve inside TLS
  bool own_process = false;        // serve from a forked child
};

class TcpTestServer {
 public:
  explicit TcpTestServer(TcpServerOptions options);
  ~TcpTestServer();
  TcpTestServer(const TcpTestServer&) = delete;
  TcpTestServer& operator=(const TcpTestServer&) = delete;

  uint16_t port() const { return port_; }
  // Connections accepted so far (not counted when serving from a child).
  int accepted() const { return accepted_; }
  const TcpServerOptions& options() const { return options_; }

  // Internal, on the server's loop: a new connection's descriptor; a connection that ended.
  void OnAccept(int fd);
  void Forget(TestConnection* connection);

 private:
  TcpServerOptions options_;
  event_base* base_ = nullptr;
  evconnlistener* listener_ = nullptr;
  ssl_ctx_st* ctx_ = nullptr;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::set<TestConnection*> connections_;  // open ones, freed with the server
  ServerLoop loop_;
};

class UdpEchoServer {
 public:
  UdpEchoServer();
  ~UdpEchoServer();
  UdpEchoServer(const UdpEchoServer&) = delete;
  UdpEchoServer& operator=(const UdpEchoServer&) = delete;
  uint16_t port() const { return port_; }
  int datagrams() const { return datagrams_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> datagrams_{0};
  std::thread thread_;
};

// A listener that never accepts and whose accept queue is full (backlog 0, filled by one
// connection of its own): further connection attempts get no answer and time out.
class FullListener {
 public:
  FullListener();
  ~FullListener();
  FullListener(const FullListener&) = delete;
  FullListener& operator=(const FullListener&) = delete;
  uint16_t port() const { return port_; }

 private:
  int listener_ = -1;
  int filler_ = -1;
  uint16_t port_ = 0;
};

}  // namespace testrund::test
