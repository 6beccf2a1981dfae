// SPDX-License-Identifier: Apache-2.0
// ConnectionSet (see connection_set.h).
#include "daemon/connection_set.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "daemon/log.h"
#include "ops/base/check.h"

namespace testrund::daemon {

std::string FormatSockaddr(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    return fmt::format("{}:{}", host, ntohs(v4->sin_port));
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    return fmt::format("[{}]:{}", host, ntohs(v6->sin6_port));
  }
  return "?";
}

ConnectionSet::ConnectionSet(event_base* base, ops::Clock& clock,
                             const ConnectionServices& services)
    : base_(base), services_(services), finished_(clock) {}

ConnectionSet::~ConnectionSet() {
  CloseAll();
  finished_.Flush();
}

void ConnectionSet::Adopt(evutil_socket_t fd, const sockaddr* peer, int, SSL_CTX* tls) {
  if (live_.size() >= services_.limits.max_connections) {
    ++rejected_;
    LogDebug("max_connections ({}) reached: closing connection from {}",
             services_.limits.max_connections, FormatSockaddr(peer));
    evutil_closesocket(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  bufferevent* raw = nullptr;
  if (tls != nullptr) {
    SSL* ssl = SSL_new(tls);
    if (ssl == nullptr) {
      LogError("cannot create a TLS session for {}", FormatSockaddr(peer));
      evutil_closesocket(fd);
      return;
    }
    raw = bufferevent_openssl_socket_new(base_, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (raw != nullptr) bufferevent_openssl_set_allow_dirty_shutdown(raw, 1);
  } else {
    raw = bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE);
  }
  if (raw == nullptr) {
    LogError("cannot create a bufferevent for {}", FormatSockaddr(peer));
    evutil_closesocket(fd);
    return;
  }
  auto connection = std::make_unique<Connection>(
      services_, ops::BuffereventPtr(raw), next_id_++, FormatSockaddr(peer), tls != nullptr,
      [this](Connection& closed) { OnConnectionClosed(closed); });
  Connection* key = connection.get();
  live_.emplace(key, std::move(connection));
  key->Start();
}

void ConnectionSet::CloseAll() {
  // Abort() calls back into OnConnectionClosed, which edits live_: iterate over a copy.
  std::vector<Connection*> open;
  open.reserve(live_.size());
  for (auto& [key, connection] : live_) open.push_back(key);
  for (Connection* connection : open) connection->Abort();
}

void ConnectionSet::OnConnectionClosed(Connection& connection) {
  auto it = live_.find(&connection);
  CHECK(it != live_.end());
  finished_.Add(std::move(it->second));
  live_.erase(it);
}

}  // namespace testrund::daemon
