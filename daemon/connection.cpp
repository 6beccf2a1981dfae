// SPDX-License-Identifier: Apache-2.0
// One client connection (see connection.h). Everything is driven from the bufferevent's
// callbacks; every exception is caught here so that none unwinds through libevent.
#include "daemon/connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <fmt/core.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "daemon/framed_reader.h"
#include "daemon/log.h"
#include "daemon/static_files.h"
#include "ops/base/json_writer.h"
#include "ops/base/problem.h"

namespace testrund::daemon {
namespace {

// Above this much unsent output a pipelining client is not read until it catches up.
constexpr size_t kMaxPendingOutput = 8u << 20;
// How long a closing connection keeps reading (and dropping) what the client still sends,
// so that the kernel does not reset the connection before the client read the response.
constexpr double kLingerSeconds = 2.0;

// The paths JSON-RPC is served on (docs/api.md#1-transports).
bool IsRpcPath(std::string_view path) { return path == "/" || path == "/jsonrpc"; }

struct timeval ToTimeval(double seconds) {
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  return tv;
}

std::string JsonError(std::string_view message) {
  // Messages are ours and contain no characters that need escaping.
  return fmt::format("{{\"error\":\"{}\"}}", message);
}

// The operator page runs no script but its own files, cannot be framed by another site and
// sends no Referer with its requests (docs/security.md).
const HttpHeaders& UiHeaders() {
  static const HttpHeaders headers = {
      {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
  };
  return headers;
}

constexpr std::string_view kUiPrefix = "/ui/";
constexpr std::string_view kEventsPath = "/ui/events";

// A Last-Event-ID the daemon sent: decimal digits that fit. Anything else is ignored (the
// stream then starts with a snapshot, as for a first connection).
std::optional<uint64_t> ParseEventId(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t id = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

}  // namespace

Connection::Connection(const ConnectionServices& services, ops::BuffereventPtr bev, uint64_t id,
                       std::string peer, bool tls, std::function<void(Connection&)> on_closed)
    : services_(services),
      bev_(std::move(bev)),
      id_(id),
      peer_(std::move(peer)),
      tls_(tls),
      on_closed_(std::move(on_closed)) {}

Connection::~Connection() {
  if (phase_ == Phase::kStreaming) services_.live_view->Unsubscribe(*this);
}

void Connection::Start() {
  bufferevent_setcb(bev_.get(), &Connection::OnReadable, &Connection::OnWritable,
                    &Connection::OnEvent, this);
  struct timeval idle = ToTimeval(services_.limits.idle_timeout);
  bufferevent_set_timeouts(bev_.get(), &idle, &idle);
  request_deadline_.reset(
      evtimer_new(bufferevent_get_base(bev_.get()), &Connection::OnRequestDeadline, this));
  ArmRequestDeadline();
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  LogDebug("connection {} from {} ({})", id_, peer_, tls_ ? "tls" : "plain");
}

void Connection::Abort() { Close("daemon shutting down"); }

void Connection::ArmRequestDeadline() {
  if (!request_deadline_) return;
  struct timeval idle = ToTimeval(services_.limits.idle_timeout);
  evtimer_add(request_deadline_.get(), &idle);
}

void Connection::OnRequestDeadline(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  // Flushing and draining have their own timeouts.
  if (self->phase_ != Phase::kOpen) return;
  if (evbuffer_get_length(bufferevent_get_output(self->bev_.get())) > 0) {
    // Still sending a response (the write timeout watches a reader that stalls); the
    // deadline starts again once it is sent.
    self->ArmRequestDeadline();
    return;
  }
  self->Close("no complete request within idle_timeout");
}

void Connection::OnReadable(bufferevent*, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  try {
    self->HandleInput();
  } catch (const std::exception& e) {
    LogError("connection {}: {}", self->id_, e.what());
    self->Close("internal error");
  } catch (...) {
    LogError("connection {}: unknown exception", self->id_);
    self->Close("internal error");
  }
}

void Connection::OnWritable(bufferevent*, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  try {
    if (self->phase_ == Phase::kFlushing) {
      self->StartDraining();
      return;
    }
    // Everything queued is sent: the next request has idle_timeout from now.
    if (self->phase_ == Phase::kOpen) self->ArmRequestDeadline();
    if (self->phase_ == Phase::kOpen && self->read_paused_) {
      self->read_paused_ = false;
      bufferevent_enable(self->bev_.get(), EV_READ);
      self->HandleInput();
    }
  } catch (...) {
    self->Close("internal error");
  }
}

void Connection::OnEvent(bufferevent*, short what, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (what & BEV_EVENT_TIMEOUT) {
    self->Close(self->phase_ == Phase::kDraining ? "linger over" : "idle timeout");
  } else if (what & BEV_EVENT_EOF) {
    // The client will send nothing more; finish what is queued for it, then close.
    if (self->phase_ == Phase::kOpen &&
        evbuffer_get_length(bufferevent_get_output(self->bev_.get())) > 0) {
      self->phase_ = Phase::kFlushing;
    } else if (self->phase_ != Phase::kFlushing) {
      self->Close("closed by peer");
    }
  } else if (what & BEV_EVENT_ERROR) {
    self->Close("socket error");
  }
}

void Connection::HandleInput() {
  evbuffer* input = bufferevent_get_input(bev_.get());
  if (phase_ == Phase::kWaiting) return;  // pipelined requests stay queued
  if (phase_ != Phase::kOpen) {
    evbuffer_drain(input, evbuffer_get_length(input));
    return;
  }
  if (mode_ == Mode::kUnknown) {
    unsigned char first = 0;
    if (evbuffer_copyout(input, &first, 1) < 1) return;
    if (std::isalpha(first)) {
      mode_ = Mode::kHttp;
      // The body of an RPC POST without a valid token is dropped unread (it gets a 401).
      http_ = std::make_unique<HttpRequestParser>(
          services_.limits.max_header_bytes, services_.limits.max_body_bytes,
          [this](const HttpRequest& headers) {
            return headers.method != "POST" || !IsRpcPath(headers.path) ||
                   RpcRole(headers).has_value();
          });
    } else {
      mode_ = Mode::kFramed;
    }
  }
  if (mode_ == Mode::kFramed) {
    HandleFramed();
  } else {
    HandleHttp();
  }
}

void Connection::HandleFramed() {
  evbuffer* input = bufferevent_get_input(bev_.get());
  std::string body;
  uint32_t length = 0;
  switch (ReadFrame(input, services_.limits.max_body_bytes, &body, &length)) {
    case FrameStatus::kNeedMore:
      return;
    case FrameStatus::kBadLength: {
      std::string message =
          length == 0 ? std::string("Parse error: length prefix is 0")
                      : fmt::format("Parse error: length prefix {} is over max_body_bytes ({})",
                                    length, services_.limits.max_body_bytes);
      LogDebug("connection {}: {}", id_, message);
      Send(ops::EncodeFrame(services_.error_response(rpc::ErrorCode::kParseError, message)));
      CloseAfterWrite();
      return;
    }
    case FrameStatus::kFrame: {
      rpc::Caller caller{services_.tokens->auth_required(), std::nullopt};
      rpc::Answer answer = services_.handle_rpc(body, caller, *this);
      if (answer.pending) return Wait(std::move(answer.pending), false);
      RespondRpc(answer.response, false);
      return;
    }
  }
}

void Connection::HandleHttp() {
  evbuffer* input = bufferevent_get_input(bev_.get());
  while (phase_ == Phase::kOpen && !read_paused_) {
    struct evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1 || chunk.iov_len == 0) return;
    HttpRequestParser::FeedResult result =
        http_->Feed(static_cast<const char*>(chunk.iov_base), chunk.iov_len);
    evbuffer_drain(input, result.consumed);
    if (http_->TakeContinueRequest()) Send("HTTP/1.1 100 Continue\r\n\r\n");
    switch (result.state) {
      case HttpRequestParser::State::kNeedMore:
        if (result.consumed == 0) return;
        break;
      case HttpRequestParser::State::kRequest:
        ServeHttp(http_->TakeRequest());
        ArmRequestDeadline();
        if (evbuffer_get_length(bufferevent_get_output(bev_.get())) > kMaxPendingOutput) {
          read_paused_ = true;
          bufferevent_disable(bev_.get(), EV_READ);
        }
        break;
      case HttpRequestParser::State::kError:
        LogDebug("connection {}: HTTP {}: {}", id_, http_->error_status(), http_->error_reason());
        Respond(http_->error_status(), JsonError(http_->error_reason()), false);
        return;
    }
  }
}

void Connection::ServeHttp(const HttpRequest& request) {
  if (IsRpcPath(request.path)) {
    if (request.method != "POST") {
      Respond(405, JsonError("method not allowed: use POST"), request.keep_alive,
              {{"Allow", "POST"}});
      return;
    }
    ServeRpc(request);
  } else if (request.path == "/health" || request.path == "/metrics") {
    if (request.method != "GET") {
      Respond(405, JsonError("method not allowed: use GET"), request.keep_alive,
              {{"Allow", "GET"}});
      return;
    }
    if (request.path == "/health") return Respond(200, services_.health_body(), request.keep_alive);
    ServeMetrics(request);
  } else if (request.path == "/ui" || request.path.compare(0, kUiPrefix.size(), kUiPrefix) == 0) {
    if (request.method != "GET") {
      Respond(405, JsonError("method not allowed: use GET"), request.keep_alive,
              {{"Allow", "GET"}});
      return;
    }
    if (request.path == "/ui") {
      return Respond(308, "", request.keep_alive, {{"Location", std::string(kUiPrefix)}});
    }
    if (request.path == kEventsPath) return ServeEvents(request);
    ServeUiFile(request);
  } else {
    Respond(404, JsonError("not found"), request.keep_alive);
  }
}

void Connection::ServeUiFile(const HttpRequest& request) {
  // The files hold no data: no token is needed to load the page that asks for one.
  std::string_view path = std::string_view(request.path).substr(kUiPrefix.size());
  const StaticFile* file = FindUiFile(path.empty() ? "index.html" : path);
  HttpHeaders headers = UiHeaders();
  if (file == nullptr) return Respond(404, JsonError("not found"), request.keep_alive, headers);
  headers.emplace_back("ETag", file->etag);
  // Revalidated on every load, so a new binary's page is never mixed with an old one's.
  headers.emplace_back("Cache-Control", "no-cache");
  if (request.if_none_match == file->etag) {
    return Respond(304, "", request.keep_alive, headers);
  }
  Respond(200, file->body, request.keep_alive, headers, file->content_type);
}

void Connection::ServeEvents(const HttpRequest& request) {
  if (!RpcRole(request)) return RespondUnauthorized(request);
  std::string run_id = QueryParameter(request.query, "run_id").value_or("");
  if (QueryParameter(request.query, "run_id") && run_id.empty()) {
    return Respond(400, JsonError("run_id is empty"), request.keep_alive, UiHeaders());
  }
  if (!run_id.empty() && !services_.live_view->Knows(run_id)) {
    std::string message = fmt::format(
        "unknown run_id {} (never existed, discarded, or cancelled)", ops::QuoteText(run_id));
    return Respond(404, fmt::format("{{\"error\":{}}}", ops::JsonString(message)),
                   request.keep_alive, UiHeaders());
  }
  // No length: the body is the stream, and it ends when the connection closes.
  HttpHeaders headers = UiHeaders();
  headers.emplace_back("Content-Type", "text/event-stream");
  headers.emplace_back("Cache-Control", "no-cache");
  headers.emplace_back("Connection", "close");
  std::string head = "HTTP/1.1 200 OK\r\n";
  for (const auto& [name, value] : headers) head += fmt::format("{}: {}\r\n", name, value);
  head += "\r\n";
  Send(head);
  phase_ = Phase::kStreaming;
  if (!services_.live_view->Subscribe(*this, run_id, ParseEventId(request.last_event_id))) {
    return Close("event stream: run gone");
  }
  // Nothing more is read: the stream ends when the client closes or the run is discarded.
  // Writes still time out, so a client that stops reading is closed either way.
  struct timeval idle = ToTimeval(services_.limits.idle_timeout);
  bufferevent_set_timeouts(bev_.get(), nullptr, &idle);
  evtimer_del(request_deadline_.get());
  LogDebug("connection {}: event stream{}{}", id_, run_id.empty() ? "" : " of run ", run_id);
}

void Connection::Push(std::string_view event) {
  if (phase_ != Phase::kStreaming) return;
  size_t unsent = evbuffer_get_length(bufferevent_get_output(bev_.get()));
  if (unsent > kMaxUnsentEvents) {
    LogInfo("connection {}: event stream closed: the client is not reading ({} bytes unsent)",
            id_, unsent);
    Close("event stream: client not reading");
    return;
  }
  Send(event);
}

void Connection::End() {
  if (phase_ != Phase::kStreaming) return;
  phase_ = Phase::kOpen;  // no longer subscribed; CloseAfterWrite takes it from here
  CloseAfterWrite();
}

std::optional<rpc::Role> Connection::RpcRole(const HttpRequest& request) const {
  if (!services_.tokens->auth_required()) return rpc::Role::kOperator;
  std::optional<std::string_view> token = BearerToken(request.authorization);
  if (!token) return std::nullopt;
  return services_.tokens->Lookup(*token);
}

void Connection::RespondUnauthorized(const HttpRequest& request) {
  bool token = BearerToken(request.authorization).has_value();
  // The token itself is never logged.
  LogDebug("connection {}: HTTP 401 ({})", id_, token ? "token invalid" : "no token");
  Respond(401,
          services_.error_response(rpc::ErrorCode::kAuthRequired,
                                   token ? "Authentication failed: token invalid"
                                         : "Authentication required"),
          request.keep_alive,
          {{"WWW-Authenticate", token ? "Bearer error=\"invalid_token\"" : "Bearer"}});
}

void Connection::ServeRpc(const HttpRequest& request) {
  rpc::Caller caller{services_.tokens->auth_required(), std::nullopt};
  if (caller.auth_required) {
    std::optional<rpc::Role> role = RpcRole(request);
    if (!role) return RespondUnauthorized(request);
    caller.role = role;
  }
  rpc::Answer answer = services_.handle_rpc(request.body, caller, *this);
  if (answer.pending) return Wait(std::move(answer.pending), request.keep_alive);
  RespondRpc(answer.response, request.keep_alive);
}

void Connection::RespondRpc(const std::optional<std::string>& response, bool keep_alive) {
  if (mode_ == Mode::kFramed) {
    if (response) Send(ops::EncodeFrame(*response));
    CloseAfterWrite();
  } else if (response) {
    Respond(200, *response, keep_alive);
  } else {
    Respond(204, "", keep_alive);
  }
}

void Connection::Wait(rpc::PendingResponse pending, bool keep_alive) {
  pending_ = std::move(pending);
  pending_keep_alive_ = keep_alive;
  phase_ = Phase::kWaiting;
  // Not reading also stops the read timeout: the wait is bounded by the coordinator's
  // worker_timeout, not by the client's idleness (docs/scale-out.md).
  bufferevent_disable(bev_.get(), EV_READ);
  evtimer_del(request_deadline_.get());
}

void Connection::OnResponse(std::optional<std::string> response) {
  if (phase_ != Phase::kWaiting) return;
  // The caller (the pending body) keeps itself alive until it returns.
  pending_ = rpc::PendingResponse();
  phase_ = Phase::kOpen;
  try {
    RespondRpc(response, pending_keep_alive_);
    if (phase_ != Phase::kOpen) return;
    ArmRequestDeadline();
    if (read_paused_) return;  // OnWritable reads again once the output drains
    bufferevent_enable(bev_.get(), EV_READ);
    // Requests that were pipelined behind this one may be buffered already.
    HandleInput();
  } catch (const std::exception& e) {
    LogError("connection {}: {}", id_, e.what());
    Close("internal error");
  } catch (...) {
    Close("internal error");
  }
}

void Connection::ServeMetrics(const HttpRequest& request) {
  // Metrics show run ids and failure texts: a token of either role, like any RPC.
  if (!RpcRole(request)) return RespondUnauthorized(request);
  ExpositionFormat format = NegotiateExposition(request.accept);
  RespondOwned(200, services_.metrics_body(format), request.keep_alive,
               ExpositionContentType(format));
}

void Connection::RespondOwned(int status, std::string body, bool keep_alive,
                              std::string_view content_type) {
  Send(FormatHttpHead(status, body.size(), keep_alive, {}, content_type));
  if (!body.empty()) {
    // The output buffer refers to the string until it has been sent, then frees it.
    auto* owned = new std::string(std::move(body));
    auto release = [](const void*, size_t, void* string) {
      delete static_cast<std::string*>(string);
    };
    if (evbuffer_add_reference(bufferevent_get_output(bev_.get()), owned->data(), owned->size(),
                               release, owned) != 0) {
      delete owned;
      Close("cannot queue output");
      return;
    }
  }
  if (!keep_alive) CloseAfterWrite();
}

void Connection::Respond(int status, std::string_view body, bool keep_alive,
                         const HttpHeaders& extra, std::string_view content_type) {
  Send(FormatHttpResponse(status, body, keep_alive, extra, content_type));
  if (!keep_alive) CloseAfterWrite();
}

void Connection::Send(std::string_view bytes) {
  if (bytes.empty()) return;
  if (bufferevent_write(bev_.get(), bytes.data(), bytes.size()) != 0) {
    Close("cannot queue output");
  }
}

void Connection::CloseAfterWrite() {
  if (phase_ != Phase::kOpen) return;
  phase_ = Phase::kFlushing;
  if (evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) StartDraining();
}

void Connection::StartDraining() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kDraining;
  if (tls_) {
    // Tell the client the response is complete before the TCP half-close.
    if (SSL* ssl = bufferevent_openssl_get_ssl(bev_.get())) SSL_shutdown(ssl);
  }
  evutil_socket_t fd = bufferevent_getfd(bev_.get());
  if (fd < 0 || shutdown(fd, SHUT_WR) != 0) {
    Close("response sent");
    return;
  }
  evbuffer* input = bufferevent_get_input(bev_.get());
  evbuffer_drain(input, evbuffer_get_length(input));
  struct timeval linger = ToTimeval(std::min(kLingerSeconds, services_.limits.idle_timeout));
  bufferevent_set_timeouts(bev_.get(), &linger, nullptr);
  bufferevent_enable(bev_.get(), EV_READ);
}

void Connection::Close(std::string_view reason) {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kStreaming) services_.live_view->Unsubscribe(*this);
  phase_ = Phase::kClosed;
  pending_ = rpc::PendingResponse();  // a late response is dropped
  if (request_deadline_) evtimer_del(request_deadline_.get());
  bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
  bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
  LogDebug("connection {} closed: {}", id_, reason);
  on_closed_(*this);
}

}  // namespace testrund::daemon
