// SPDX-License-Identifier: Apache-2.0
// The one entry point the transports use: a JSON-RPC 2.0 request body in, a response body out. Owns
// the envelope rules of docs/api.md#2-the-json-rpc-20-envelope (single, batch, notifications, ids,
// errors, the depth limit) and authorisation by role; method bodies live in the method table.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rpc/call_counts.h"
#include "rpc/errors.h"
#include "rpc/role.h"

namespace testrund::rpc {

// How the transport authenticated the caller.
struct Caller {
  // true when tokens are configured at all; false means every caller is an operator.
  bool auth_required = false;
  // HTTP: the role from the Authorization header (the daemon answers 401 itself when the
  // header is missing or wrong, so this is never kNone on HTTP when auth_required).
  // Framed: nullopt; the dispatcher reads each request object's "auth" member and looks it
  // up with the TokenLookup it was given.
  std::optional<Role> role;
};

// Filled from the daemon's option table (docs/configuration.md); zero until then.
struct DispatchLimits {
  uint64_t max_json_depth = 0;
};

class MethodTable;

// Receives the response of a body that was not answered when Handle returned (it has
// deferred methods, rpc/reply.h). Implemented by the transport's connection.
class ResponseSink {
 public:
  // `response` nullopt: nothing to send (notifications only). Called from the loop, inside
  // the call of the last Reply::Send of the body; the sink must not be destroyed inside.
  virtual void OnResponse(std::optional<std::string> response) = 0;

 protected:
  ~ResponseSink() = default;
};

// A body whose response is still being prepared. Destroying it (the client left, the
// connection is gone) detaches the sink: the response is then dropped when it is ready.
class PendingResponse {
 public:
  class Body;  // the dispatcher's
  PendingResponse() = default;
  explicit PendingResponse(std::shared_ptr<Body> body);
  PendingResponse(PendingResponse&&) noexcept;
  PendingResponse& operator=(PendingResponse&&) noexcept;
  ~PendingResponse();
  explicit operator bool() const { return body_ != nullptr; }

 private:
  std::shared_ptr<Body> body_;
};

// Handle's answer: the response now (`pending` empty), or later through the sink.
struct Answer {
  std::optional<std::string> response;
  PendingResponse pending;
};

class Dispatcher {
 public:
  // `methods` is borrowed and must outlive the dispatcher; `lookup` is copied (an empty
  // function knows no token).
  Dispatcher(const MethodTable& methods, DispatchLimits limits, TokenLookup lookup);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Handles one request body (single or batch). Returns the response body, or nullopt when
  // nothing is to be sent back (a notification, or a batch of only notifications).
  // Never throws; a body that is not JSON gets a -32700 response.
  // Order of checks per request: envelope (-32600), token (-32010), method (-32601), role
  // (-32011), params shape (-32602), then the handler. Handlers run in batch order.
  // Not reentrant: a handler must not call Handle on the same dispatcher (it reuses its
  // buffers between calls).
  // Must not be used with a table that has deferred rows.
  std::optional<std::string> Handle(std::string_view body, const Caller& caller);

  // The same for a table that may have deferred rows. Without them this is the call above.
  // With them the body is kept until every request of it is answered (a batch's response is
  // sent when all its elements are), and when that is not at once `sink` gets it later,
  // unless the returned PendingResponse was destroyed first.
  Answer Handle(std::string_view body, const Caller& caller, ResponseSink& sink);

  // A standalone error response (id null), for transports that must answer before a body
  // could be read, e.g. a bad length prefix (-32700).
  static std::string ErrorResponse(ErrorCode code, std::string_view message);

  // Every request object handled so far, by method and outcome (docs/metrics.md).
  const CallCounts& calls() const { return calls_; }

 private:
  struct Buffers;  // reused between calls, so that a small request allocates little
  Answer HandleDeferrable(std::string_view body, const Caller& caller, ResponseSink& sink);

  const MethodTable& methods_;
  DispatchLimits limits_;
  TokenLookup lookup_;
  std::unique_ptr<Buffers> buffers_;
  CallCounts calls_;
};

}  // namespace testrund::rpc
