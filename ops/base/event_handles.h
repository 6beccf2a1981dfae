// SPDX-License-Identifier: Apache-2.0
// unique_ptr owners of the libevent and OpenSSL handles every layer holds (the daemon's
// loop, listeners and connections; the sockets, timers and resolver of protocol ops), so
// that each handle is freed exactly once, in its owner's destructor.
#pragma once

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include <memory>

namespace testrund::ops {

struct EventBaseDeleter {
  void operator()(event_base* base) const { event_base_free(base); }
};
struct EventDeleter {
  void operator()(event* ev) const { event_free(ev); }
};
struct BuffereventDeleter {
  void operator()(bufferevent* bev) const { bufferevent_free(bev); }
};
struct ListenerDeleter {
  void operator()(evconnlistener* listener) const { evconnlistener_free(listener); }
};
struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
// Pending lookups fail with EVUTIL_EAI_CANCEL: their callbacks run before the free returns.
struct EvdnsDeleter {
  void operator()(evdns_base* dns) const { evdns_base_free(dns, /*fail_requests=*/1); }
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;
using BuffereventPtr = std::unique_ptr<bufferevent, BuffereventDeleter>;
using ListenerPtr = std::unique_ptr<evconnlistener, ListenerDeleter>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using EvdnsPtr = std::unique_ptr<evdns_base, EvdnsDeleter>;

}  // namespace testrund::ops
