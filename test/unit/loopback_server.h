// SPDX-License-Identifier: Apache-2.0
// LoopbackServer: the scripted TCP server of the network-client unit tests
// (http_client_test, framed_client_test). It listens on 127.0.0.1 port 0 on the test's own
// event_base, so that client and server take turns in one loop and the test decides what
// the client sees: every accepted connection keeps all it read, and the test's handler
// answers (writes, writes in pieces, closes, or stays silent).
//
// Also here: the loop helpers, each with a time guard so that a client that never finishes
// fails its test instead of hanging it, a port that refuses connections, the count of open
// descriptors (leak checks), and what both tests' fixtures share: the loop, the server and
// the IoContext under test, and the record of the completion callbacks.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ops/net/event_clock.h"
#include "ops/net/io_context.h"

namespace testrund::test {

class LoopbackServer;

// One accepted connection; kept, with what it read, after its descriptor is closed.
class LoopbackConnection {
 public:
  LoopbackConnection(LoopbackServer& server, bufferevent* bev);
  ~LoopbackConnection();
  LoopbackConnection(const LoopbackConnection&) = delete;
  LoopbackConnection& operator=(const LoopbackConnection&) = delete;

  // Every byte read so far.
  const std::string& received() const { return received_; }
  // The client closed its side (EOF or a socket error was seen); the descriptor is closed.
  bool peer_closed() const { return peer_closed_; }
  // The descriptor is closed (by the peer, Close or CloseAfterWrite).
  bool closed() const { return bev_ == nullptr; }

  void Write(std::string_view bytes);
  // Writes `pieces` one per `gap_ms` milliseconds (the first at once), so that the client
  // reads them in separate turns; then closes when `close_after`.
  void WriteInPieces(std::vector<std::string> pieces, int gap_ms, bool close_after = false);
  // Closes once everything written so far has been sent.
  void CloseAfterWrite();
  // Closes now; unsent bytes are dropped.
  void Close();

  // The handler's own bookmark in `received()` (e.g. requests answered so far).
  size_t handled = 0;

 private:
  static void OnRead(bufferevent* bev, void* arg);
  static void OnWrite(bufferevent* bev, void* arg);
  static void OnEvent(bufferevent* bev, short events, void* arg);
  static void OnPiece(evutil_socket_t, short, void* arg);

  LoopbackServer& server_;
  bufferevent* bev_;
  std::string received_;
  bool peer_closed_ = false;
  bool close_when_written_ = false;
  std::deque<std::string> pieces_;
  int gap_ms_ = 0;
  bool close_after_pieces_ = false;
  event* piece_timer_ = nullptr;
};

class LoopbackServer {
 public:
  // Runs after each read, once the bytes were appended to the connection's `received()`.
  using OnData = std::function<void(LoopbackConnection& connection)>;

  // Listens on 127.0.0.1, port 0. `base` must outlive the server.
  LoopbackServer(event_base* base, OnData on_data);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return port_; }
  event_base* base() const { return base_; }
  // Connections accepted so far, in order.
  size_t accepted() const { return connections_.size(); }
  LoopbackConnection& connection(size_t i) { return *connections_.at(i); }
  // Closes every open connection now, without running the loop (the client has not seen
  // the close yet when it next acts).
  void CloseAll();

 private:
  friend class LoopbackConnection;
  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg);

  event_base* base_;
  OnData on_data_;
  evconnlistener* listener_ = nullptr;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<LoopbackConnection>> connections_;
};

// A port on 127.0.0.1 bound (port 0) but never listened on: connections to it are refused,
// and no other process can take the port while this object lives.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// An event_base of the test's own, freed with this object. Ignores SIGPIPE as the daemon
// does (a peer that closed while bytes were on their way must surface as an error, not
// kill the test process).
struct TestLoop {
  TestLoop();
  ~TestLoop();
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  // Runs the loop until `done()` holds; false when `seconds` passed first.
  bool RunUntil(const std::function<bool()>& done, double seconds = 3);
  // Runs the loop for `milliseconds` (callbacks that must not come get their chance).
  void RunFor(int milliseconds);
  // `n` non-blocking turns (deferred deletes, zero timeouts).
  void Turns(int n);

  event_base* base;
  ops::EventClock clock;  // the engine's clock on this loop (IoContext needs one)
};

// Descriptors open in this process (/proc/self/fd).
size_t OpenDescriptors();

// The base of the client tests' fixtures: the test's loop, the scripted server on it, the
// IoContext under test, and the record of the calls' completion callbacks (how many came,
// the last outcome, and whether one came while Start was still running: a client must
// report from the loop, never from inside Start).
template <typename Outcome>
struct ClientFixture {
  explicit ClientFixture(LoopbackServer::OnData on_data)
      : server(loop.base, std::move(on_data)), io(loop.base, loop.clock) {}

  // Starts a call with `start(on_done)` and checks that it did not complete inside Start.
  template <typename StartCall>
  auto Started(StartCall start) {
    int before = completions;
    in_start = true;
    auto call = start([this](Outcome& result) {
      if (in_start) completed_in_start = true;
      ++completions;
      outcome = result;
    });
    in_start = false;
    CHECK(completions == before);
    return call;
  }
  // Runs the loop until the completion after the first `before` comes (fails the test after
  // 3 s); checks that it came once, and from the loop.
  void RunUntilCompleted(int before) {
    REQUIRE(loop.RunUntil([&] { return completions > before; }));
    CHECK(completions == before + 1);
    CHECK_FALSE(completed_in_start);
  }
  // Runs the loop a little longer and checks that the completions are still `n`: no late
  // or second callback came.
  void CheckCompletionsStay(int n) {
    loop.RunFor(20);
    CHECK(completions == n);
  }
  // For `call`, just started and bound to fail before it connects (a CA file that cannot be
  // loaded), one SECTION each: the failure `error` comes from the loop on a later turn, once
  // and without a connection (`more` checks more of it); a call destroyed before that gets
  // no callback.
  template <typename Call>
  void CheckStartFailsFromTheLoop(std::unique_ptr<Call>& call, const std::string& error,
                                  const std::function<void()>& more = [] {}) {
    SECTION("reported on a later turn") {
      RunUntilCompleted(0);
      CHECK(outcome.error == error);
      more();
      CheckCompletionsStay(1);
      CHECK(server.accepted() == 0);
    }
    SECTION("a call destroyed before the report gets no callback") {
      call.reset();
      CheckCompletionsStay(0);
    }
  }

  TestLoop loop;
  LoopbackServer server;
  ops::IoContext io;
  int completions = 0;
  bool in_start = false;
  bool completed_in_start = false;
  Outcome outcome;  // the last completion's
};

}  // namespace testrund::test
