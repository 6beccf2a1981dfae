// SPDX-License-Identifier: Apache-2.0
// Connection: one client on one bufferevent (plain or OpenSSL). Its first byte decides the framing
// (docs/api.md#1-transports): an ASCII letter means HTTP/1.1 (keep-alive, routes /, /jsonrpc,
// /health, /metrics, and /ui/ with its event streams; Bearer authentication), anything else the
// 4-byte length prefix (one request, then close). A connection that serves an event stream
// is an EventSink of the LiveView until the stream ends or the client leaves. A request a
// coordinator answers later (docs/scale-out.md) makes the connection wait: it reads nothing
// more until the response is sent, so pipelined responses keep their order. Enforces the
// body/header limits and the idle timeout. A connection never frees itself: when it is done
// it reports to its owner, which frees it after the current callback has returned.
#pragma once

#include <event2/bufferevent.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/auth.h"
#include "daemon/exposition.h"
#include "daemon/http_framing.h"
#include "daemon/live_view.h"
#include "daemon/transport_limits.h"
#include "ops/base/event_handles.h"
#include "rpc/dispatcher.h"

namespace testrund::daemon {

// What every connection borrows from the daemon; must outlive every connection.
struct ConnectionServices {
  TransportLimits limits;
  const TokenTable* tokens = nullptr;
  // A JSON-RPC body in, a response body out now (nullopt: nothing to send) or later through
  // the sink (rpc::Dispatcher::Handle). Never throws.
  std::function<rpc::Answer(std::string_view body, const rpc::Caller& caller,
                            rpc::ResponseSink& sink)>
      handle_rpc;
  // A standalone JSON-RPC error response (id null).
  std::function<std::string(rpc::ErrorCode code, std::string_view message)> error_response;
  // The body of GET /health.
  std::function<std::string()> health_body;
  // The body of GET /metrics in `format` (docs/metrics.md).
  std::function<std::string(ExpositionFormat format)> metrics_body;
  // The operator page's event streams (GET /ui/events).
  LiveView* live_view = nullptr;
};

class Connection final : public EventSink, public rpc::ResponseSink {
 public:
  // A client of an event stream that does not read is closed when an event is due while
  // this much of the earlier ones is still unsent (docs/ui.md#live-data).
  static constexpr size_t kMaxUnsentEvents = 1u << 20;

  // Takes ownership of `bev`. `on_closed` is called once, from inside a callback of this
  // connection, when it is finished; the owner must free it later, not inside that call.
  Connection(const ConnectionServices& services, ops::BuffereventPtr bev, uint64_t id, std::string peer,
             bool tls, std::function<void(Connection&)> on_closed);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Enables reading and the idle timeout.
  void Start();
  // Closes at once, dropping unsent output (daemon shutdown). Calls on_closed.
  void Abort();

  uint64_t id() const { return id_; }

  // EventSink: an event of the stream this connection serves (GET /ui/events).
  void Push(std::string_view event) override;
  void End() override;

  // ResponseSink: the response of the request this connection waits for.
  void OnResponse(std::optional<std::string> response) override;

 private:
  enum class Mode { kUnknown, kFramed, kHttp };
  enum class Phase {
    kOpen,      // reading requests
    kStreaming, // serving an event stream until it ends or the client leaves; input is ignored
    kWaiting,   // a response comes later (a coordinator's call); input is not read meanwhile
    kFlushing,  // the last response is being written; input is ignored
    kDraining,  // written and half-closed; reading and dropping until EOF (lingering close)
    kClosed,    // done; waiting to be freed
  };

  static void OnReadable(bufferevent* bev, void* arg);
  static void OnWritable(bufferevent* bev, void* arg);
  static void OnEvent(bufferevent* bev, short what, void* arg);
  static void OnRequestDeadline(evutil_socket_t fd, short what, void* arg);

  // A request must arrive complete within idle_timeout of the connection opening or of the
  // previous response being sent, however slowly its bytes trickle in (the bufferevent's
  // read timeout alone is reset by every byte, so a slow sender would never be closed).
  void ArmRequestDeadline();
  void HandleInput();
  void HandleFramed();
  void HandleHttp();
  void ServeHttp(const HttpRequest& request);
  void ServeRpc(const HttpRequest& request);
  // The role of an RPC request's Bearer token; nullopt when tokens are configured and it
  // has none that is valid. Operator when no tokens are configured.
  std::optional<rpc::Role> RpcRole(const HttpRequest& request) const;
  // 401 with an auth_required (-32010) body and WWW-Authenticate.
  void RespondUnauthorized(const HttpRequest& request);
  void ServeMetrics(const HttpRequest& request);
  // GET /ui/ and its files (docs/ui.md).
  void ServeUiFile(const HttpRequest& request);
  // GET /ui/events[?run_id=X]: Server-Sent Events until the client leaves or the run ends.
  void ServeEvents(const HttpRequest& request);
  // Sends a JSON-RPC response (HTTP 200, or 204 without one; framed: one frame, then close).
  void RespondRpc(const std::optional<std::string>& response, bool keep_alive);
  // Stops reading until `pending` delivers the response (OnResponse).
  void Wait(rpc::PendingResponse pending, bool keep_alive);
  void Respond(int status, std::string_view body, bool keep_alive, const HttpHeaders& extra = {},
               std::string_view content_type = kJsonContentType);
  // The same for a large body, handed to the output buffer without a copy.
  void RespondOwned(int status, std::string body, bool keep_alive, std::string_view content_type);
  void Send(std::string_view bytes);
  // Finishes writing what is queued, then half-closes, drains and closes.
  void CloseAfterWrite();
  void StartDraining();
  void Close(std::string_view reason);

  const ConnectionServices& services_;
  ops::BuffereventPtr bev_;
  uint64_t id_;
  std::string peer_;
  bool tls_;
  std::function<void(Connection&)> on_closed_;
  Mode mode_ = Mode::kUnknown;
  Phase phase_ = Phase::kOpen;
  bool read_paused_ = false;  // output backlog: stop reading until it drains
  std::unique_ptr<HttpRequestParser> http_;
  rpc::PendingResponse pending_;  // kWaiting: the response being prepared
  bool pending_keep_alive_ = true;
  ops::EventPtr request_deadline_;  // declared after bev_: freed first
};

}  // namespace testrund::daemon
