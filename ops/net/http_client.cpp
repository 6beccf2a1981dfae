// SPDX-License-Identifier: Apache-2.0
// HttpPool, HttpConnection and HttpCall (see http_client.h). A connection is a bufferevent
// (an OpenSSL one for https) with its own http_parser; while a call uses it the call owns
// it, while idle the pool does. A connection that must go away from inside its own callback
// is retired to the pool (HttpPool::Retire), which frees it after that callback.
#include "ops/net/http_client.h"

#include <event2/buffer.h>
#include <sys/socket.h>
#include <event2/bufferevent_ssl.h>
#include <fmt/format.h>

#include <cctype>

#include "ops/base/check.h"

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
  HttpConnection(HttpPool& pool, std::string key) : pool_(pool), key_(std::move(key)) {
    http_parser_settings_init(&settings_);
    settings_.on_header_field = &HttpConnection::OnHeaderField;
    settings_.on_header_value = &HttpConnection::OnHeaderValue;
    settings_.on_headers_complete = &HttpConnection::OnHeadersComplete;
    settings_.on_body = &HttpConnection::OnBody;
    settings_.on_message_complete = &HttpConnection::OnMessageComplete;
  }

  // Creates the socket and starts connecting (resolution is asynchronous). Error: the TLS
  // context or the socket could not be made.
  Status Open(IoContext& io, const HttpRequest& request) {
    const Url& url = request.url;
    Result<BuffereventPtr> bev = NewClientBufferevent(io, url.host, url.tls(), request.tls);
    if (!bev.ok()) return bev.status();
    bev_ = std::move(bev.value());
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
  void Send(HttpCall* call, const std::string& bytes, bool head, bool keep_raw) {
    call_ = call;
    head_ = head;
    keep_raw_ = keep_raw;
    response_bytes_ = 0;
    complete_ = false;
    outcome_ = HttpOutcome();
    outcome_.headers.reserve(kExpectedHeaders);
    field_.clear();
    in_value_ = false;
    http_parser_init(&parser_, HTTP_RESPONSE);
    parser_.data = this;
    bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
    bufferevent_setcb(bev_.get(), &HttpConnection::OnRead, nullptr, &HttpConnection::OnEvent,
                      this);
    // Enabling what is enabled already would arm the write event again (an epoll_ctl to
    // add it and another when the empty output disarms it).
    if (bufferevent_get_enabled(bev_.get()) != (EV_READ | EV_WRITE)) {
      bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    }
    size_t sent = SendNow(bytes);
    if (sent < bytes.size()) {
      bufferevent_write(bev_.get(), bytes.data() + sent, bytes.size() - sent);
    }
  }

  // Now idle in the pool: a read or close from the server drops it.
  void Park() {
    call_ = nullptr;
    timeval idle{HttpPool::kIdleSeconds, 0};
    bufferevent_set_timeouts(bev_.get(), &idle, nullptr);
  }

  // Stops every callback (before it is retired).
  void Silence() {
    call_ = nullptr;
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
    size_t consumed = http_parser_execute(&self->parser_, &self->settings_, data, length);
    self->response_bytes_ += consumed;
    if (self->keep_raw_) self->outcome_.raw_response.append(data, consumed);
    evbuffer_drain(input, consumed);
    http_errno error = HTTP_PARSER_ERRNO(&self->parser_);
    if (self->response_bytes_ > HttpCall::kMaxResponseBytes) {
      self->call_->OnFailure(*self,
                             fmt::format("response over the limit of {} bytes",
                                         HttpCall::kMaxResponseBytes),
                             false);
      return;
    }
    if (self->complete_) {
      // Anything after the response was not asked for: do not reuse the connection.
      if (evbuffer_get_length(input) != 0) self->keep_alive_ = false;
      self->call_->OnResponse(*self);
      return;
    }
    if (error != HPE_OK) {
      self->call_->OnFailure(
          *self, fmt::format("invalid HTTP response: {}", http_errno_description(error)), false);
    }
  }

  // On a connected plain socket with nothing queued, writes what the kernel takes at once:
  // a request then costs one send instead of arming and disarming the write event and a
  // writev. Whatever is not taken, and any error, is left to the bufferevent, which writes
  // the rest or reports the failure as usual.
  size_t SendNow(const std::string& bytes) {
    if (!plain_ || !connected_ || evbuffer_get_length(bufferevent_get_output(bev_.get())) != 0) {
      return 0;
    }
    ssize_t sent = send(bufferevent_getfd(bev_.get()), bytes.data(), bytes.size(),
                        MSG_NOSIGNAL | MSG_DONTWAIT);
    return sent > 0 ? static_cast<size_t>(sent) : 0;
  }

  static void OnEvent(bufferevent* bev, short events, void* arg) {
    auto* self = static_cast<HttpConnection*>(arg);
    if (events & BEV_EVENT_CONNECTED) {
      self->connected_ = true;
      return;
    }
    if (self->call_ == nullptr) {
      self->pool_.DropIdle(self);
      return;
    }
    if ((events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR)) {
      // A response without a length ends with the connection.
      http_parser_execute(&self->parser_, &self->settings_, nullptr, 0);
      if (self->complete_) {
        self->keep_alive_ = false;
        self->call_->OnResponse(*self);
        return;
      }
    }
    std::string cause = SocketErrorText(bev, events);
    if ((events & BEV_EVENT_EOF) && self->response_bytes_ > 0) {
      cause = "connection closed before the response was complete";
    }
    self->call_->OnFailure(*self, cause, self->reused() && self->response_bytes_ == 0);
  }

  friend class HttpCall;
  HttpPool& pool_;
  std::string key_;
  BuffereventPtr bev_;
  http_parser parser_{};
  http_parser_settings settings_{};
  HttpCall* call_ = nullptr;
  HttpOutcome outcome_;
  std::string field_;
  bool in_value_ = false;
  bool head_ = false;
  bool keep_raw_ = false;
  bool complete_ = false;
  bool keep_alive_ = false;
  bool failed_ = false;
  bool plain_ = false;      // no TLS: SendNow may write to the socket itself
  bool connected_ = false;  // the connect completed
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
                   bool keep_raw, OnDone on_done)
    : io_(io), request_(std::move(request)), keep_raw_(keep_raw), on_done_(std::move(on_done)) {}

std::unique_ptr<HttpCall> HttpCall::Start(IoContext& io,
                                          std::shared_ptr<const PreparedHttpRequest> request,
                                          bool keep_raw, OnDone on_done) {
  std::unique_ptr<HttpCall> call(
      new HttpCall(io, std::move(request), keep_raw, std::move(on_done)));
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
  connection_->Send(this, request_->bytes, request_->request.method == "HEAD", keep_raw_);
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
