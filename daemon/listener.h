// SPDX-License-Identifier: Apache-2.0
// Listener: one bound address (plain or TLS) whose accepted sockets go to the
// ConnectionSet. Knows the address it really bound (port 0 -> the ephemeral port) and
// whether it is loopback-only.
#pragma once

#include <event2/listener.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "daemon/connection_set.h"
#include "ops/base/event_handles.h"
#include "ops/base/status.h"

namespace testrund::daemon {

class Listener {
 public:
  // Resolves and binds `address` (HOST:PORT) and starts accepting. `tls` (borrowed, may be
  // null) makes it a TLS listener; `base`, `tls` and `connections` must outlive it.
  // Error: a sentence naming the address and the system's reason.
  static Result<std::unique_ptr<Listener>> Bind(event_base* base, const std::string& address,
                                                SSL_CTX* tls, ConnectionSet& connections);
  ~Listener();

  // "HOST:PORT" as bound (IPv6 in brackets).
  const std::string& bound_address() const { return bound_address_; }
  bool tls() const { return tls_ != nullptr; }
  // true when only this machine can connect (127.0.0.0/8 or ::1).
  bool loopback() const { return loopback_; }

 private:
  Listener(event_base* base, SSL_CTX* tls, ConnectionSet& connections);
  static void OnAccept(evconnlistener* listener, evutil_socket_t fd, sockaddr* peer,
                       int peer_length, void* arg);
  static void OnAcceptError(evconnlistener* listener, void* arg);
  static void OnResume(evutil_socket_t, short, void* arg);

  SSL_CTX* tls_;
  ConnectionSet& connections_;
  ops::ListenerPtr listener_;
  ops::EventPtr resume_;  // re-enables accepting after a pause (e.g. out of file descriptors)
  std::string bound_address_;
  bool loopback_ = false;
};

}  // namespace testrund::daemon
