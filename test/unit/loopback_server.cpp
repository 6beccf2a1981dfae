// SPDX-License-Identifier: Apache-2.0
// LoopbackServer, RefusingPort, TestLoop (see loopback_server.h): an evconnlistener and
// plain bufferevents on the test's event_base.
#include "test/unit/loopback_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <utility>

namespace testrund::test {

namespace {

// A TCP socket bound to 127.0.0.1 port 0; `*port` gets the port the kernel chose.
int BoundLoopbackSocket(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t length = sizeof(addr);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

// --- LoopbackConnection --------------------------------------------------------------------

LoopbackConnection::LoopbackConnection(LoopbackServer& server, bufferevent* bev)
    : server_(server), bev_(bev) {
  bufferevent_setcb(bev_, &LoopbackConnection::OnRead, &LoopbackConnection::OnWrite,
                    &LoopbackConnection::OnEvent, this);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
}

LoopbackConnection::~LoopbackConnection() {
  if (piece_timer_ != nullptr) event_free(piece_timer_);
  Close();
}

void LoopbackConnection::Write(std::string_view bytes) {
  if (bev_ != nullptr) bufferevent_write(bev_, bytes.data(), bytes.size());
}

void LoopbackConnection::WriteInPieces(std::vector<std::string> pieces, int gap_ms,
                                       bool close_after) {
  pieces_.assign(pieces.begin(), pieces.end());
  gap_ms_ = gap_ms;
  close_after_pieces_ = close_after;
  if (piece_timer_ == nullptr) {
    piece_timer_ = event_new(server_.base_, -1, 0, &LoopbackConnection::OnPiece, this);
  }
  OnPiece(-1, 0, this);
}

void LoopbackConnection::OnPiece(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<LoopbackConnection*>(arg);
  if (self->pieces_.empty()) return;
  self->Write(self->pieces_.front());
  self->pieces_.pop_front();
  if (!self->pieces_.empty()) {
    timeval gap{0, self->gap_ms_ * 1000};
    event_add(self->piece_timer_, &gap);
  } else if (self->close_after_pieces_) {
    self->CloseAfterWrite();
  }
}

void LoopbackConnection::CloseAfterWrite() {
  if (bev_ == nullptr) return;
  if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) {
    Close();
  } else {
    close_when_written_ = true;
  }
}

void LoopbackConnection::Close() {
  if (bev_ == nullptr) return;
  bufferevent_free(bev_);
  bev_ = nullptr;
}

void LoopbackConnection::OnRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<LoopbackConnection*>(arg);
  evbuffer* input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  size_t from = self->received_.size();
  self->received_.resize(from + length);
  evbuffer_remove(input, self->received_.data() + from, length);
  if (self->server_.on_data_) self->server_.on_data_(*self);
}

void LoopbackConnection::OnWrite(bufferevent*, void* arg) {
  auto* self = static_cast<LoopbackConnection*>(arg);
  if (self->close_when_written_) self->Close();
}

void LoopbackConnection::OnEvent(bufferevent*, short events, void* arg) {
  auto* self = static_cast<LoopbackConnection*>(arg);
  if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    self->peer_closed_ = true;
    self->Close();
  }
}

// --- LoopbackServer ------------------------------------------------------------------------

LoopbackServer::LoopbackServer(event_base* base, OnData on_data)
    : base_(base), on_data_(std::move(on_data)) {
  int fd = BoundLoopbackSocket(&port_);
  REQUIRE(listen(fd, 64) == 0);
  evutil_make_socket_nonblocking(fd);
  listener_ = evconnlistener_new(base_, &LoopbackServer::OnAccept, this, LEV_OPT_CLOSE_ON_FREE,
                                 -1, fd);
  REQUIRE(listener_ != nullptr);
}

LoopbackServer::~LoopbackServer() {
  evconnlistener_free(listener_);
  connections_.clear();
}

void LoopbackServer::CloseAll() {
  for (auto& connection : connections_) connection->Close();
}

void LoopbackServer::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* self = static_cast<LoopbackServer*>(arg);
  bufferevent* bev = bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
  self->connections_.push_back(std::make_unique<LoopbackConnection>(*self, bev));
}

// --- RefusingPort --------------------------------------------------------------------------

RefusingPort::RefusingPort() { fd_ = BoundLoopbackSocket(&port_); }

RefusingPort::~RefusingPort() { close(fd_); }

// --- TestLoop ------------------------------------------------------------------------------

TestLoop::TestLoop() : base(event_base_new()), clock(base) {
  std::signal(SIGPIPE, SIG_IGN);
  REQUIRE(base != nullptr);
}

TestLoop::~TestLoop() { event_base_free(base); }

bool TestLoop::RunUntil(const std::function<bool()>& done, double seconds) {
  // The guard wakes the loop at the deadline even when nothing else happens.
  bool expired = false;
  event* guard = evtimer_new(
      base, [](evutil_socket_t, short, void* flag) { *static_cast<bool*>(flag) = true; },
      &expired);
  auto micros = static_cast<long>(seconds * 1e6);
  timeval limit{micros / 1000000, micros % 1000000};
  evtimer_add(guard, &limit);
  while (!done() && !expired) event_base_loop(base, EVLOOP_ONCE);
  event_free(guard);
  return done();
}

void TestLoop::RunFor(int milliseconds) {
  timeval limit{milliseconds / 1000, (milliseconds % 1000) * 1000};
  event_base_loopexit(base, &limit);
  event_base_dispatch(base);
}

void TestLoop::Turns(int n) {
  for (int i = 0; i < n; ++i) event_base_loop(base, EVLOOP_NONBLOCK);
}

size_t OpenDescriptors() {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

}  // namespace testrund::test
