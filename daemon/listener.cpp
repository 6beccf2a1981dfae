// SPDX-License-Identifier: Apache-2.0
// Listener (see listener.h).
#include "daemon/listener.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "daemon/config.h"
#include "daemon/log.h"
#include "ops/base/check.h"

namespace testrund::daemon {
namespace {

bool IsLoopback(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

Listener::Listener(event_base* base, SSL_CTX* tls, ConnectionSet& connections)
    : tls_(tls), connections_(connections) {
  resume_.reset(evtimer_new(base, &Listener::OnResume, this));
  CHECK(resume_ != nullptr);
}

Listener::~Listener() = default;

Result<std::unique_ptr<Listener>> Listener::Bind(event_base* base, const std::string& address,
                                                 SSL_CTX* tls, ConnectionSet& connections) {
  Result<HostPort> host_port = ParseHostPort(address);
  if (!host_port.ok()) return host_port.status();
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  struct addrinfo* found = nullptr;
  std::string port = std::to_string(host_port->port);
  int rc = getaddrinfo(host_port->host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return Status::Error(fmt::format("cannot resolve {}: {}", address, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);

  std::unique_ptr<Listener> listener(new Listener(base, tls, connections));
  listener->listener_.reset(
      evconnlistener_new_bind(base, &Listener::OnAccept, listener.get(),
                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, -1,
                              addresses->ai_addr, static_cast<int>(addresses->ai_addrlen)));
  if (!listener->listener_) {
    return Status::Error(fmt::format("cannot listen on {}: {}", address, std::strerror(errno)));
  }
  evconnlistener_set_error_cb(listener->listener_.get(), &Listener::OnAcceptError);

  sockaddr_storage bound;
  socklen_t bound_length = sizeof(bound);
  evutil_socket_t fd = evconnlistener_get_fd(listener->listener_.get());
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return Status::Error(
        fmt::format("cannot read the address of {}: {}", address, std::strerror(errno)));
  }
  listener->bound_address_ = FormatSockaddr(reinterpret_cast<sockaddr*>(&bound));
  listener->loopback_ = IsLoopback(reinterpret_cast<sockaddr*>(&bound));
  return listener;
}

void Listener::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int peer_length,
                        void* arg) {
  auto* self = static_cast<Listener*>(arg);
  try {
    self->connections_.Adopt(fd, peer, peer_length, self->tls_);
  } catch (...) {
    LogError("cannot accept a connection on {}", self->bound_address_);
  }
}

void Listener::OnAcceptError(evconnlistener* listener, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  int error = EVUTIL_SOCKET_ERROR();
  LogWarn("accept on {} failed: {}; pausing accepts for 100 ms", self->bound_address_,
          evutil_socket_error_to_string(error));
  // Out of descriptors the listener would spin on the same error: pause it briefly.
  evconnlistener_disable(listener);
  struct timeval pause = {0, 100'000};
  evtimer_add(self->resume_.get(), &pause);
}

void Listener::OnResume(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  evconnlistener_enable(self->listener_.get());
}

}  // namespace testrund::daemon
