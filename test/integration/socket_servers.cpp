// SPDX-License-Identifier: Apache-2.0
// The loopback servers of the socket-op tests (see socket_servers.h): libevent listeners
// and bufferevents (OpenSSL ones for TLS) on a thread of their own, and a blocking UDP echo.
#include "test/integration/socket_servers.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>

namespace testrund::test {
namespace {

std::string Take(evbuffer* input, size_t n) {
  std::string bytes(n, '\0');
  evbuffer_remove(input, bytes.data(), n);
  return bytes;
}

std::string Prefixed(std::string_view body, int width) {
  std::string out;
  for (int i = width - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((body.size() >> (8 * i)) & 0xff));
  }
  out += body;
  return out;
}

void OnListenerAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  static_cast<TcpTestServer*>(arg)->OnAccept(fd);
}

}  // namespace

// One accepted connection; ends itself when the peer goes or after kCloseHalfway's write,
// or with its server.
class TestConnection {
 public:
  TestConnection(TcpTestServer& server, bufferevent* bev)
      : server_(server), bev_(bev), options_(server.options()) {
    bufferevent_setcb(bev_, &TestConnection::OnRead, &TestConnection::OnWrite,
                      &TestConnection::OnEvent, this);
    bufferevent_enable(bev_, EV_READ | EV_WRITE);
    if (options_.behaviour == TcpBehaviour::kLines) Write("READY\r\n");
    if (options_.behaviour == TcpBehaviour::kCloseHalfway) {
      closing_ = true;
      Write("abc");
    }
  }
  ~TestConnection() { bufferevent_free(bev_); }

 private:
  void Write(std::string_view bytes) { bufferevent_write(bev_, bytes.data(), bytes.size()); }

  static void OnRead(bufferevent* bev, void* arg) {
    auto* self = static_cast<TestConnection*>(arg);
    evbuffer* input = bufferevent_get_input(bev);
    switch (self->options_.behaviour) {
      case TcpBehaviour::kEcho:
        self->Write(Take(input, evbuffer_get_length(input)));
        break;
      case TcpBehaviour::kLengthPrefixed:
        self->AnswerFrames(input);
        break;
      case TcpBehaviour::kLines:
        self->AnswerLines(input);
        break;
      case TcpBehaviour::kCloseHalfway:
      case TcpBehaviour::kSilent:
        evbuffer_drain(input, evbuffer_get_length(input));
        break;
    }
  }
  void AnswerFrames(evbuffer* input) {
    auto width = static_cast<size_t>(options_.prefix_bytes);
    for (;;) {
      size_t have = evbuffer_get_length(input);
      if (have < width) return;
      unsigned char prefix[4];
      evbuffer_copyout(input, prefix, width);
      size_t length = 0;
      for (size_t i = 0; i < width; ++i) length = (length << 8) | prefix[i];
      if (have < width + length) return;
      evbuffer_drain(input, width);
      Write(Prefixed("re:" + Take(input, length), options_.prefix_bytes));
    }
  }
  void AnswerLines(evbuffer* input) {
    for (;;) {
      size_t length = 0;
      char* line = evbuffer_readln(input, &length, EVBUFFER_EOL_CRLF);
      if (line == nullptr) return;
      std::string upper(line, length);
      free(line);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      Write(upper + "\r\n");
    }
  }
  static void OnWrite(bufferevent*, void* arg) {
    auto* self = static_cast<TestConnection*>(arg);
    if (self->closing_) self->server_.Forget(self);
  }
  static void OnEvent(bufferevent*, short events, void* arg) {
    auto* self = static_cast<TestConnection*>(arg);
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) self->server_.Forget(self);
  }

  TcpTestServer& server_;
  bufferevent* bev_;
  const TcpServerOptions& options_;
  bool closing_ = false;
};

TcpTestServer::TcpTestServer(TcpServerOptions options) : options_(options) {
  int fd = BindLoopback(SOCK_STREAM, &port_);
  REQUIRE(listen(fd, 1024) == 0);
  loop_.Start(options_.own_process, fd, [this, fd] {
    base_ = event_base_new();
    if (options_.tls != nullptr) ctx_ = NewServerTlsContext(*options_.tls);
    evutil_make_socket_nonblocking(fd);
    listener_ = evconnlistener_new(base_, &OnListenerAccept, this, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    return base_;
  });
}

TcpTestServer::~TcpTestServer() {
  loop_.Stop();
  if (loop_.forked()) return;
  evconnlistener_free(listener_);
  for (TestConnection* connection : connections_) delete connection;
  event_base_free(base_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

void TcpTestServer::OnAccept(int fd) {
  ++accepted_;
  bufferevent* bev = nullptr;
  if (ctx_ != nullptr) {
    bev = bufferevent_openssl_socket_new(base_, fd, SSL_new(ctx_), BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
  } else {
    bev = bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE);
  }
  connections_.insert(new TestConnection(*this, bev));
}

void TcpTestServer::Forget(TestConnection* connection) {
  connections_.erase(connection);
  delete connection;  // its bufferevent's callback has nothing left to do
}

UdpEchoServer::UdpEchoServer() {
  fd_ = BindLoopback(SOCK_DGRAM, &port_);
  thread_ = std::thread([this] {
    char buffer[65536];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      sockaddr_storage from{};
      socklen_t length = sizeof(from);
      ssize_t got = recvfrom(fd_, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from),
                             &length);
      if (got < 0) continue;
      ++datagrams_;
      sendto(fd_, buffer, static_cast<size_t>(got), 0, reinterpret_cast<sockaddr*>(&from),
             length);
    }
  });
}

UdpEchoServer::~UdpEchoServer() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

FullListener::FullListener() {
  listener_ = BindLoopback(SOCK_STREAM, &port_);
  REQUIRE(listen(listener_, 0) == 0);
  filler_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  connect(filler_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  // Connected means queued: the queue (one entry for backlog 0) is now full.
  pollfd p{filler_, POLLOUT, 0};
  REQUIRE(poll(&p, 1, static_cast<int>(kDefaultTimeout * 1000)) == 1);
}

FullListener::~FullListener() {
  close(filler_);
  close(listener_);
}

}  // namespace testrund::test
