// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 client of the http and jsonrpc ops: requests on pooled keep-alive
// connections (plain sockets of their own, OpenSSL bufferevents for https), responses parsed by Debian's libhttp-parser.
//
// HttpPool keeps, per target (scheme, host, port, TLS options), at most kMaxIdlePerTarget
// idle connections; a call takes the most recently used idle connection or opens a new one,
// and gives it back when the response is complete and both sides keep it alive. An idle
// connection the server closes (or that stays idle kIdleSeconds) is dropped. A request on a
// reused connection that fails before any response byte arrives (the server closed it
// meanwhile) is sent once more on a new connection.
//
// HttpCall is one request. Its completion callback runs exactly once, from a libevent
// callback, never inside Start; destroying an unfinished call closes its connection (it is
// never reused mid-response). Timeouts are the caller's (ops/protocol/op_protocol.h).
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ops/base/deferred_free.h"
#include "ops/net/client_socket.h"
#include "ops/net/io_context.h"
#include "ops/net/url.h"

namespace testrund::ops {

using HeaderList = std::vector<std::pair<std::string, std::string>>;
// Whether `headers` has one named `lower_name` (given in lower case), in any case.
bool HasHeader(const HeaderList& headers, std::string_view lower_name);

struct HttpRequest {
  std::string method = "GET";
  Url url;
  HeaderList headers;  // as given; Host and Content-Length are added unless present
  std::string body;
  TlsOptions tls;
};

// A request with what a call derives from it, so that an op sending the same request for
// every instance derives it once.
struct PreparedHttpRequest {
  HttpRequest request;
  std::string pool_key;  // scheme, host, port, TLS options: connections are pooled by it
  std::string bytes;     // what is written: start line, headers, body
};
std::shared_ptr<const PreparedHttpRequest> PrepareHttpRequest(HttpRequest request);

struct HttpOutcome {
  std::string error;         // empty: `status`, `headers`, `body` hold a complete response
  int status = 0;
  HeaderList headers;        // names lower-cased, in arrival order
  std::string body;
  std::string raw_response;  // the bytes read (only when the call keeps raw bytes)
};

class HttpConnection;

class HttpCall {
 public:
  using OnDone = std::function<void(HttpOutcome& outcome)>;
  // Largest response accepted (status line, headers and body; the daemon's default
  // max_body_bytes): a system under test cannot make the daemon buffer without bound.
  static constexpr size_t kMaxResponseBytes = 16 * 1024 * 1024;

  // Starts `request` on a pooled connection. `keep_raw`: also keep the response bytes (for
  // traces). `keep_headers` false: the outcome has no headers (a caller that reads none
  // spares their parsing and copies). `on_done` gets the outcome (error: the cause, e.g. "connection refused",
  // "TLS error: certificate verify failed", "invalid HTTP response: ...", "response over
  // the limit of 16777216 bytes").
  static std::unique_ptr<HttpCall> Start(IoContext& io,
                                         std::shared_ptr<const PreparedHttpRequest> request,
                                         bool keep_raw, OnDone on_done,
                                         bool keep_headers = true);
  ~HttpCall();
  HttpCall(const HttpCall&) = delete;
  HttpCall& operator=(const HttpCall&) = delete;

  bool done() const { return done_; }
  // The bytes of the request (for traces), valid once started.
  const std::string& raw_request() const { return request_->bytes; }

 private:
  friend class HttpConnection;
  HttpCall(IoContext& io, std::shared_ptr<const PreparedHttpRequest> request, bool keep_raw,
           bool keep_headers, OnDone on_done);
  void Begin();
  // From the connection: the response is complete, or the connection failed.
  void OnResponse(HttpConnection& connection);
  void OnFailure(HttpConnection& connection, std::string cause, bool retryable);
  void Finish(HttpOutcome& outcome);
  static void OnStartFailed(evutil_socket_t, short, void* arg);

  IoContext& io_;
  std::shared_ptr<const PreparedHttpRequest> request_;
  bool keep_raw_;
  bool keep_headers_;
  OnDone on_done_;
  std::unique_ptr<HttpConnection> connection_;
  bool retried_ = false;
  bool done_ = false;
  std::string start_error_;
  EventPtr start_failed_;
};

class HttpPool {
 public:
  static constexpr size_t kMaxIdlePerTarget = 256;
  static constexpr int kIdleSeconds = 30;

  explicit HttpPool(IoContext& io);
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  // Idle connections kept now, over every target (tests).
  size_t idle() const;
  // Connections opened so far (tests: reuse).
  uint64_t opened() const { return opened_; }
  // Connections retired and not freed yet (tests).
  size_t retired() const { return retired_.size(); }

 private:
  friend class HttpCall;
  friend class HttpConnection;
  // An idle connection to `key`, or nullptr.
  std::unique_ptr<HttpConnection> TakeIdle(const std::string& key);
  // Keeps `connection` idle, or closes it when the target's idle list is full.
  void GiveBack(std::unique_ptr<HttpConnection> connection);
  // An idle connection closed by its server (called from its callback).
  void DropIdle(HttpConnection* connection);
  // Silences `connection` and frees it after the callback in progress (it may be inside
  // one of its own).
  void Retire(std::unique_ptr<HttpConnection> connection);

  // Plain connections recv into it and parse at once, so one buffer serves them all.
  static constexpr size_t kReadBufferBytes = 64 * 1024;
  std::unique_ptr<char[]> read_buffer_ = std::make_unique<char[]>(kReadBufferBytes);
  std::map<std::string, std::vector<std::unique_ptr<HttpConnection>>> idle_;
  DeferredFree<HttpConnection> retired_;
  uint64_t opened_ = 0;
};

}  // namespace testrund::ops
