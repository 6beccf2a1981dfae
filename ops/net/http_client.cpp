// SPDX-License-Identifier: Apache-2.0
// HttpPool, HttpConnection and HttpCall (see http_client.h). A connection has its own
// http_parser and connects through a bufferevent; an https one keeps its OpenSSL
// bufferevent, a plain one moves its descriptor to a PlainSocket once connected (a recv per
// readable event into the pool's read buffer, a send per request: docs/performance.md,
// scenario 4). While a call uses a connection the call owns it, while idle the pool does. A connection that must go away from inside its own callback
// is retired to the pool (HttpPool::Retire), which frees it after that callback.
#include "ops/net/http_client.h"

#include <event2/buffer.h>
#include <sys/socket.h>
#include <event2/bufferevent_ssl.h>
#include <fmt/format.h>

#include <cctype>

#include "ops/base/check.h"
#include "ops/net/plain_socket.h"

namespace testrund::ops {

namespace {

// Room reserved for a response's headers, so that a typical response does not grow the list.
constexpr size_t kExpectedHeaders = 16;

std::string PoolKey(const HttpRequest& request) {
  const TlsOptions& tls = request.tls;
  return fmt::format("{}://{}:{}|{}|{}|{}", request.url.scheme, request.url.host,
                     request.url.port, tls.verify, tls.ca_file, tls.server_name);
}

std::string BuildRequest(const HttpRequest& request) {
  std::string out = fmt::format("{} {} HTTP/1.1\r\n", request.method, request.url.target);
  if (!HasHeader(request.headers, "host")) {
    out += fmt::format("Host: {}\r\n", request.url.HostHeader());
  }
  bool body_method = request.method == "POST" || request.method == "PUT" ||
                     request.method == "PATCH";
  if (!HasHeader(request.headers, "content-length") &&
      !HasHeader(request.headers, "transfer-encoding") &&
      (!request.body.empty() || body_method)) {
    out += fmt::format("Content-Length: {}\r\n", request.body.size());
  }
  for (const auto& [name, value] : request.headers) out += fmt::format("{}: {}\r\n", name, value);
  out += "\r\n";
  out += request.body;
  return out;
}

}  // namespace

bool HasHeader(const HeaderList& headers, std::string_view lower_name) {
  for (const auto& [name, value] : headers) {
    if (name.size() != lower_name.size()) continue;
    bool same = true;
    for (size_t k = 0; k < name.size() && same; ++k) {
      same = std::tolower(static_cast<unsigned char>(name[k])) == lower_name[k];
    }
    if (same) return true;
  }
  return false;
}

// One keep-alive connection to one target.
class HttpConnection final {
 public:
  HttpConnection(HttpPool& pool, std::string key) : pool_(pool), key_(std::move(key)) {}

  // Creates the socket and starts connecting (resolution is asynchronous). Error: the TLS
  // context or the socket could not be made.
  Status Open(IoContext& io, const HttpRequest& request) {
    const Url& url = request.url;
    Result<BuffereventPtr> bev = NewClientBufferevent(io, url.host, url.tls(), request.tls);
    if (!bev.ok()) return bev.status();
    bev_ = std::move(bev.value());
    base_ = io.base();
    plain_ = !url.tls();
    bufferevent_setcb(bev_.get(), &HttpConnection::OnRead, nullptr, &HttpConnection::OnEvent,
                      this);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    if (bufferevent_socket_connect_hostname(bev_.get(), io.dns(), AF_UNSPEC, url.host.c_str(),
                                            url.port) != 0) {
      // The event callback reports the cause on a later turn in most cases; a synchronous
      // failure (e.g. no descriptors left) is reported by the caller.
      if (failed_) return Status::Error(failure_);
      return Status::Error(SocketErrorText(bev_.get(), BEV_EVENT_ERROR));
    }
    ++pool_.opened_;
    return Status::Ok();
  }

  // Sends one request for `call` (the connection is now the call's).
  void Send(HttpCall* call, const std::string& bytes, bool head, bool keep_raw,
            bool keep_headers) {
    call_ = call;
    head_ = head;
    keep_raw_ = keep_raw;
    response_bytes_ = 0;
    complete_ = false;
    outcome_ = HttpOutcome();
    settings_ = &Settings(keep_headers);
    if (keep_headers) outcome_.headers.reserve(kExpectedHeaders);
    field_.clear();
    in_value_ = false;
    http_parser_init(&parser_, HTTP_RESPONSE);
    parser_.data = this;
    if (socket_) {
      socket_->SetReadTimeout(0);  // no longer idle
      socket_->Send(bytes);        // a failure comes back as EV_WRITE (OnSocket)
      return;
    }
    if (plain_) {
      unsent_ = bytes;  // sent by the PlainSocket once connected (OnEvent)
      return;
    }
    bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
    bufferevent_setcb(bev_.get(), &HttpConnection::OnRead, nullptr, &HttpConnection::OnEvent,
                      this);
    // Enabling what is enabled already would arm the write event again (an epoll_ctl to
    // add it and another when the empty output disarms it).
    if (bufferevent_get_enabled(bev_.get()) != (EV_READ | EV_WRITE)) {
      bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    }
    bufferevent_write(bev_.get(), bytes.data(), bytes.size());
  }

  // Now idle in the pool: a read or close from the server drops it.
  void Park() {
    call_ = nullptr;
    if (socket_) {
      socket_->SetReadTimeout(HttpPool::kIdleSeconds);
      return;
    }
    timeval idle{HttpPool::kIdleSeconds, 0};
    bufferevent_set_timeouts(bev_.get(), &idle, nullptr);
  }

  // Stops every callback (before it is retired).
  void Silence() {
    call_ = nullptr;
    socket_.reset();  // closed now: a retired connection is never used again
    if (bev_) {
      bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
      bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
    }
  }

  const std::string& key() const { return key_; }
  bool reusable() const { return keep_alive_; }
  bool reused() const { return requests_ > 1; }
  HttpOutcome& outcome() { return outcome_; }

 private:
  // The parser's callbacks, with or without the headers'.
  static const http_parser_settings& Settings(bool headers) {
    static const http_parser_settings with = MakeSettings(true);
    static const http_parser_settings without = MakeSettings(false);
    return headers ? with : without;
  }
  static http_parser_settings MakeSettings(bool headers) {
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    if (headers) {
      settings.on_header_field = &HttpConnection::OnHeaderField;
      settings.on_header_value = &HttpConnection::OnHeaderValue;
    }
    settings.on_headers_complete = &HttpConnection::OnHeadersComplete;
    settings.on_body = &HttpConnection::OnBody;
    settings.on_message_complete = &HttpConnection::OnMessageComplete;
    return settings;
  }

  static HttpConnection* Self(http_parser* parser) {
    return static_cast<HttpConnection*>(parser->data);
  }
  static int OnHeaderField(http_parser* parser, const char* at, size_t length) {
    HttpConnection* self = Self(parser);
    if (self->in_value_ || self->outcome_.headers.empty()) {
      self->outcome_.headers.emplace_back();
      self->in_value_ = false;
    }
    // ASCII lower case in place: header names are tokens, no locale applies.
    std::string& name = self->outcome_.headers.back().first;
    size_t from = name.size();
    name.append(at, length);
    for (size_t k = from; k < name.size(); ++k) {
      if (name[k] >= 'A' && name[k] <= 'Z') name[k] = static_cast<char>(name[k] - 'A' + 'a');
    }
    return 0;
  }
  static int OnHeaderValue(http_parser* parser, const char* at, size_t length) {
    HttpConnection* self = Self(parser);
    if (self->outcome_.headers.empty()) return 0;
    self->in_value_ = true;
    self->outcome_.headers.back().second.append(at, length);
    return 0;
  }
  static int OnHeadersComplete(http_parser* parser) {
    HttpConnection* self = Self(parser);
    self->outcome_.status = static_cast<int>(parser->status_code);
    // A HEAD response announces a body it does not send.
    return self->head_ ? 1 : 0;
  }
  static int OnBody(http_parser* parser, const char* at, size_t length) {
    Self(parser)->outcome_.body.append(at, length);
    return 0;
  }
  static int OnMessageComplete(http_parser* parser) {
    HttpConnection* self = Self(parser);
    // 1xx responses are skipped: the final response follows on the same connection.
    if (self->outcome_.status >= 100 && self->outcome_.status < 200) {
      self->outcome_.headers.clear();
      self->outcome_.body.clear();
      return 0;
    }
    self->complete_ = true;
    self->keep_alive_ = http_should_keep_alive(parser) != 0;
    http_parser_pause(parser, 1);
    return 0;
  }

  static void OnRead(bufferevent* bev, void* arg) {
    auto* self = static_cast<HttpConnection*>(arg);
    evbuffer* input = bufferevent_get_input(bev);
    if (self->call_ == nullptr) {
      // Bytes (or a close) on an idle connection: it cannot be reused.
      evbuffer_drain(input, evbuffer_get_length(input));
      self->pool_.DropIdle(self);
      return;
    }
    size_t length = evbuffer_get_length(input);
    if (length == 0) return;
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(input, -1));
    size_t consumed = self->Parse(data, length);
    evbuffer_drain(input, consumed);
    self->AfterParse(length - consumed);
  }

  // Feeds response bytes to the parser; returns how many it took.
  size_t Parse(const char* data, size_t length) {
    size_t consumed = http_parser_execute(&parser_, settings_, data, length);
    response_bytes_ += consumed;
    if (keep_raw_) outcome_.raw_response.append(data, consumed);
    return consumed;
  }

  // Ends the call when the response is complete, over the limit or invalid. `left`: bytes
  // read and not parsed.
  void AfterParse(size_t left) {
    http_errno error = HTTP_PARSER_ERRNO(&parser_);
    if (response_bytes_ > HttpCall::kMaxResponseBytes) {
      call_->OnFailure(*this,
                       fmt::format("response over the limit of {} bytes",
                                   HttpCall::kMaxResponseBytes),
                       false);
      return;
    }
    if (complete_) {
      // Anything after the response was not asked for: do not reuse the connection.
      if (left != 0) keep_alive_ = false;
      call_->OnResponse(*this);
      return;
    }
    if (error != HPE_OK) {
      call_->OnFailure(
          *this, fmt::format("invalid HTTP response: {}", http_errno_description(error)), false);
    }
  }

  // The server closed the connection (`cause` when no response completes with the close).
  void OnClosed(std::string cause) {
    // A response without a length ends with the connection.
    http_parser_execute(&parser_, settings_, nullptr, 0);
    if (complete_) {
      keep_alive_ = false;
      call_->OnResponse(*this);
      return;
    }
    if (response_bytes_ > 0) cause = "connection closed before the response was complete";
    call_->OnFailure(*this, std::move(cause), reused() && response_bytes_ == 0);
  }

  // Events of a plain connection's own socket (after the connect).
  static void OnSocket(short what, void* arg) {
    auto* self = static_cast<HttpConnection*>(arg);
    PlainSocket& socket = *self->socket_;
    int error = socket.error();
    ptrdiff_t n = 0;
    char* buffer = self->pool_.read_buffer_.get();
    if (what & EV_READ) {
      n = socket.Receive(buffer, HttpPool::kReadBufferBytes, &error);
      if (n == -1) return;  // nothing after all
    } else if ((what & EV_WRITE) && error == 0) {
      return;  // the rest of a long request is written
    }
    if (self->call_ == nullptr) {
      // Bytes, a close, an error or the idle timeout on an idle connection: drop it.
      self->pool_.DropIdle(self);
      return;
    }
    if (what & EV_TIMEOUT) return;  // a stale idle timeout: calls have their own
    if (n > 0) {
      size_t consumed = self->Parse(buffer, static_cast<size_t>(n));
      self->AfterParse(static_cast<size_t>(n) - consumed);
      return;
    }
    if (n == 0) {
      self->OnClosed("connection closed by peer");
      return;
    }
    self->call_->OnFailure(*self, SocketErrnoText(error),
                           self->reused() && self->response_bytes_ == 0);
  }

  // A plain socket connected: its descriptor moves to a PlainSocket, and the request waiting
  // for the connect is sent.
  void OwnSocket() {
    evutil_socket_t fd = PlainSocket::TakeSocket(bev_.get());
    bev_.reset();  // safe inside its callback: libevent holds a reference until it returns
    socket_ = std::make_unique<PlainSocket>(base_, fd, &HttpConnection::OnSocket, this);
    if (call_ != nullptr && !unsent_.empty()) {
      std::string_view bytes = unsent_;
      unsent_ = {};
      socket_->Send(bytes);
    }
  }

  static void OnEvent(bufferevent* bev, short events, void* arg) {
    auto* self = static_cast<HttpConnection*>(arg);
    if (events & BEV_EVENT_CONNECTED) {
      if (self->plain_) self->OwnSocket();
      return;
    }
    if (self->call_ == nullptr) {
      self->pool_.DropIdle(self);
      return;
    }
    std::string cause = SocketErrorText(bev, events);
    if ((events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR)) {
      self->OnClosed(std::move(cause));
      return;
    }
    self->call_->OnFailure(*self, cause, self->reused() && self->response_bytes_ == 0);
  }

  friend class HttpCall;
  HttpPool& pool_;
  std::string key_;
  BuffereventPtr bev_;                   // while connecting, and for TLS
  std::unique_ptr<PlainSocket> socket_;  // a plain connection once connected
  event_base* base_ = nullptr;
  std::string_view unsent_;  // a plain connection's request waiting for the connect
  http_parser parser_{};
  const http_parser_settings* settings_ = &Settings(true);
  HttpCall* call_ = nullptr;
  HttpOutcome outcome_;
  std::string field_;
  bool in_value_ = false;
  bool head_ = false;
  bool keep_raw_ = false;
  bool complete_ = false;
  bool keep_alive_ = false;
  bool failed_ = false;
  bool plain_ = false;  // no TLS: the socket moves to a PlainSocket once connected
  std::string failure_;
  size_t response_bytes_ = 0;
  uint64_t requests_ = 0;
};

// --- HttpPool ------------------------------------------------------------------------------

HttpPool::HttpPool(IoContext& io) : retired_(io.clock()) {}

HttpPool::~HttpPool() {
  idle_.clear();
  retired_.Flush();
}

void HttpPool::Retire(std::unique_ptr<HttpConnection> connection) {
  connection->Silence();
  retired_.Add(std::move(connection));
}

size_t HttpPool::idle() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

std::unique_ptr<HttpConnection> HttpPool::TakeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<HttpConnection> connection = std::move(it->second.back());
  it->second.pop_back();
  if (it->second.empty()) idle_.erase(it);
  return connection;
}

void HttpPool::GiveBack(std::unique_ptr<HttpConnection> connection) {
  auto& list = idle_[connection->key()];
  if (list.size() >= kMaxIdlePerTarget) {
    Retire(std::move(connection));
    return;
  }
  connection->Park();
  list.push_back(std::move(connection));
}

void HttpPool::DropIdle(HttpConnection* connection) {
  auto it = idle_.find(connection->key());
  if (it == idle_.end()) return;
  auto& list = it->second;
  for (auto c = list.begin(); c != list.end(); ++c) {
    if (c->get() != connection) continue;
    std::unique_ptr<HttpConnection> owned = std::move(*c);
    list.erase(c);
    if (list.empty()) idle_.erase(it);
    Retire(std::move(owned));  // we are inside its callback
    return;
  }
}

// --- HttpCall ------------------------------------------------------------------------------

std::shared_ptr<const PreparedHttpRequest> PrepareHttpRequest(HttpRequest request) {
  auto prepared = std::make_shared<PreparedHttpRequest>();
  prepared->pool_key = PoolKey(request);
  prepared->bytes = BuildRequest(request);
  prepared->request = std::move(request);
  return prepared;
}

HttpCall::HttpCall(IoContext& io, std::shared_ptr<const PreparedHttpRequest> request,
                   bool keep_raw, bool keep_headers, OnDone on_done)
    : io_(io),
      request_(std::move(request)),
      keep_raw_(keep_raw),
      keep_headers_(keep_headers),
      on_done_(std::move(on_done)) {}

std::unique_ptr<HttpCall> HttpCall::Start(IoContext& io,
                                          std::shared_ptr<const PreparedHttpRequest> request,
                                          bool keep_raw, OnDone on_done, bool keep_headers) {
  std::unique_ptr<HttpCall> call(
      new HttpCall(io, std::move(request), keep_raw, keep_headers, std::move(on_done)));
  call->Begin();
  return call;
}

void HttpCall::Begin() {
  connection_ = retried_ ? nullptr : io_.http().TakeIdle(request_->pool_key);
  if (!connection_) {
    connection_ = std::make_unique<HttpConnection>(io_.http(), request_->pool_key);
    Status opened = connection_->Open(io_, request_->request);
    if (!opened.ok()) {
      // Reported from the loop, never inside Start.
      io_.http().Retire(std::move(connection_));
      start_error_ = opened.message();
      start_failed_.reset(event_new(io_.base(), -1, 0, &HttpCall::OnStartFailed, this));
      timeval zero{0, 0};
      event_add(start_failed_.get(), &zero);
      return;
    }
  }
  ++connection_->requests_;
  connection_->Send(this, request_->bytes, request_->request.method == "HEAD", keep_raw_,
                    keep_headers_);
}

HttpCall::~HttpCall() {
  if (connection_) {
    // Mid-response: the connection cannot be reused.
    io_.http().Retire(std::move(connection_));
  }
}

void HttpCall::OnStartFailed(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<HttpCall*>(arg);
  HttpOutcome outcome;
  outcome.error = self->start_error_;
  self->Finish(outcome);
}

void HttpCall::OnResponse(HttpConnection& connection) {
  HttpOutcome outcome = std::move(connection.outcome());
  std::unique_ptr<HttpConnection> owned = std::move(connection_);
  if (owned->reusable()) {
    io_.http().GiveBack(std::move(owned));
  } else {
    io_.http().Retire(std::move(owned));
  }
  Finish(outcome);
}

void HttpCall::OnFailure(HttpConnection& connection, std::string cause, bool retryable) {
  (void)connection;
  std::unique_ptr<HttpConnection> owned = std::move(connection_);
  HttpOutcome outcome = std::move(owned->outcome());
  io_.http().Retire(std::move(owned));
  if (retryable && !retried_) {
    // The server closed the idle connection while the request was on its way.
    retried_ = true;
    Begin();
    return;
  }
  outcome.error = std::move(cause);
  Finish(outcome);
}

void HttpCall::Finish(HttpOutcome& outcome) {
  done_ = true;
  OnDone on_done = std::move(on_done_);
  on_done(outcome);  // may not destroy this call (it is owned by the instance)
}

}  // namespace testrund::ops
