// SPDX-License-Identifier: Apache-2.0
// ConnectionSet: owns every open client connection. Adopts accepted sockets (plain or TLS),
// enforces max_connections (a socket over the limit is closed at once), and frees finished
// connections after their own callbacks have returned (ops/base/deferred_free.h).
#pragma once

#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "daemon/connection.h"
#include "ops/base/clock.h"
#include "ops/base/deferred_free.h"
#include "ops/base/event_handles.h"

namespace testrund::daemon {

class ConnectionSet {
 public:
  // `base`, `clock` (a clock on `base`) and `services` are borrowed and must outlive the set.
  ConnectionSet(event_base* base, ops::Clock& clock, const ConnectionServices& services);
  ~ConnectionSet();
  ConnectionSet(const ConnectionSet&) = delete;
  ConnectionSet& operator=(const ConnectionSet&) = delete;

  // Takes ownership of the accepted socket `fd`. `tls` (borrowed) non-null: the connection
  // speaks TLS. Over max_connections, or when the bufferevent cannot be made, the socket is
  // closed at once.
  void Adopt(evutil_socket_t fd, const sockaddr* peer, int peer_length, SSL_CTX* tls);

  // Closes every connection, dropping unsent output (shutdown).
  void CloseAll();

  // Open connections (closed ones waiting to be freed are not counted).
  size_t size() const { return live_.size(); }
  uint64_t rejected() const { return rejected_; }

 private:
  void OnConnectionClosed(Connection& connection);

  event_base* base_;
  const ConnectionServices& services_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> live_;
  ops::DeferredFree<Connection> finished_;
  uint64_t next_id_ = 1;
  uint64_t rejected_ = 0;
};

// "1.2.3.4:5" or "[::1]:5" for a socket address (logs, listener lines).
std::string FormatSockaddr(const sockaddr* address);

}  // namespace testrund::daemon
