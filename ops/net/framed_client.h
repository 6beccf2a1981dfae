// SPDX-License-Identifier: Apache-2.0
// FramedCall: one request of the jsonrpc op over the N2SVCD length-prefixed framing
// (docs/api.md#1-transports: a 4-byte unsigned big-endian length, then that many bytes of JSON), on
// a connection of its own to a tcp:// or tls:// URL: connect, write the frame, read one framed
// response, close. One request per connection, as N2SVCD (and testrund's own framed transport,
// which closes after each response) do it. A notification expects no response: its call is over
// once the frame has been handed to the kernel.
//
// The completion callback runs exactly once, from a libevent callback, never inside Start;
// destroying an unfinished call closes its connection. Timeouts are the caller's
// (ops/protocol/op_protocol.h).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ops/base/event_handles.h"
#include "ops/base/length_prefix.h"
#include "ops/net/client_socket.h"
#include "ops/net/io_context.h"
#include "ops/net/url.h"

namespace testrund::ops {

struct FramedRequest {
  Url url;             // scheme tcp or tls
  TlsOptions tls;      // how a tls:// server is checked
  std::string body;    // the JSON text
  bool await_response = true;  // false: a notification
};

struct FramedOutcome {
  std::string error;  // empty: `frame` holds a complete response (or none for a notification)
  std::string frame;  // the response as read: length prefix and body
  std::string_view body() const {
    return frame.size() < kFramePrefixBytes ? std::string_view()
                                            : std::string_view(frame).substr(kFramePrefixBytes);
  }
};

class FramedCall {
 public:
  using OnDone = std::function<void(FramedOutcome& outcome)>;
  // Largest response body accepted (the daemon's default max_body_bytes).
  static constexpr size_t kMaxResponseBytes = 16 * 1024 * 1024;

  // Connects and sends `request`. `on_done` gets the outcome; error causes as
  // SocketErrorText writes them ("connection refused", "connection closed by peer", "TLS
  // error: ..."), or "connection closed before the response was complete", "invalid length
  // prefix 0", "response length <n> over the limit of <m> bytes".
  static std::unique_ptr<FramedCall> Start(IoContext& io, FramedRequest request, OnDone on_done);
  ~FramedCall();
  FramedCall(const FramedCall&) = delete;
  FramedCall& operator=(const FramedCall&) = delete;

  // The bytes written (prefix and body), for traces.
  const std::string& raw_request() const { return raw_request_; }

 private:
  FramedCall(IoContext& io, FramedRequest request, OnDone on_done);
  void Begin();
  // The call is over (`error` empty: success): reports it now, or from the loop when
  // called inside Begin.
  void Finish(std::string error);
  void Report();
  static void OnRead(bufferevent* bev, void* arg);
  static void OnWritten(bufferevent* bev, void* arg);
  static void OnEvent(bufferevent* bev, short events, void* arg);
  static void OnReport(evutil_socket_t, short, void* arg);

  IoContext& io_;
  FramedRequest request_;
  OnDone on_done_;
  std::string raw_request_;
  BuffereventPtr bev_;
  FramedOutcome outcome_;
  size_t expected_ = 0;  // the response's total size (prefix + body) once the prefix is read
  bool done_ = false;
  bool starting_ = false;
  EventPtr report_;
};

}  // namespace testrund::ops
