// SPDX-License-Identifier: Apache-2.0
// FramedCall (see framed_client.h): one bufferevent (an OpenSSL one for tls://), freed as
// soon as the call is over so that its descriptor does not outlive the request.
#include "ops/net/framed_client.h"

#include <event2/buffer.h>
#include <fmt/format.h>

#include <utility>


namespace testrund::ops {

FramedCall::FramedCall(IoContext& io, FramedRequest request, OnDone on_done)
    : io_(io),
      request_(std::move(request)),
      on_done_(std::move(on_done)),
      raw_request_(EncodeFrame(request_.body)) {}

FramedCall::~FramedCall() = default;

std::unique_ptr<FramedCall> FramedCall::Start(IoContext& io, FramedRequest request,
                                              OnDone on_done) {
  std::unique_ptr<FramedCall> call(new FramedCall(io, std::move(request), std::move(on_done)));
  call->Begin();
  return call;
}

void FramedCall::Begin() {
  const Url& url = request_.url;
  Result<BuffereventPtr> bev = NewClientBufferevent(io_, url.host, url.tls(), request_.tls);
  if (!bev.ok()) {
    Finish(bev.message());
    return;
  }
  bev_ = std::move(bev.value());
  bufferevent_setcb(bev_.get(), &FramedCall::OnRead,
                    request_.await_response ? nullptr : &FramedCall::OnWritten,
                    &FramedCall::OnEvent, this);
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  // Queued now, written once connected.
  bufferevent_write(bev_.get(), raw_request_.data(), raw_request_.size());
  // A resolution answered at once (an address, /etc/hosts, or no resolver) may run the
  // event callback inside this call: `starting_` makes Finish report it from the loop.
  starting_ = true;
  if (bufferevent_socket_connect_hostname(bev_.get(), io_.dns(), AF_UNSPEC, url.host.c_str(),
                                          url.port) != 0) {
    Finish(SocketErrorText(bev_.get(), BEV_EVENT_ERROR));
  }
  starting_ = false;
}

void FramedCall::OnReport(evutil_socket_t, short, void* arg) {
  static_cast<FramedCall*>(arg)->Report();
}

void FramedCall::OnRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<FramedCall*>(arg);
  if (self->done_) return;
  evbuffer* input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  if (self->expected_ == 0) {
    unsigned char prefix[kFramePrefixBytes];
    if (length < sizeof(prefix)) return;
    evbuffer_copyout(input, prefix, sizeof(prefix));
    uint64_t size = ReadBigEndian(prefix, sizeof(prefix));
    if (size == 0) {
      self->Finish("invalid length prefix 0");
      return;
    }
    if (size > kMaxResponseBytes) {
      self->Finish(fmt::format("response length {} over the limit of {} bytes", size,
                               kMaxResponseBytes));
      return;
    }
    self->expected_ = sizeof(prefix) + size;
  }
  if (length < self->expected_) return;
  // Anything after the frame was not asked for and is dropped with the connection.
  self->outcome_.frame.resize(self->expected_);
  evbuffer_remove(input, self->outcome_.frame.data(), self->expected_);
  self->Finish("");
}

void FramedCall::OnWritten(bufferevent* bev, void* arg) {
  auto* self = static_cast<FramedCall*>(arg);
  if (self->done_ || evbuffer_get_length(bufferevent_get_output(bev)) != 0) return;
  self->Finish("");
}

void FramedCall::OnEvent(bufferevent* bev, short events, void* arg) {
  auto* self = static_cast<FramedCall*>(arg);
  if (self->done_ || (events & BEV_EVENT_CONNECTED)) return;
  std::string cause = SocketErrorText(bev, events);
  if ((events & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
    cause = "connection closed before the response was complete";
  }
  self->Finish(std::move(cause));
}

void FramedCall::Finish(std::string error) {
  if (done_) return;
  done_ = true;
  outcome_.error = std::move(error);
  if (!outcome_.error.empty()) outcome_.frame.clear();
  if (!starting_ && bev_) {
    Report();
    return;
  }
  // Never inside Start (nor inside a libevent call Begin is still in).
  report_.reset(event_new(io_.base(), -1, 0, &FramedCall::OnReport, this));
  timeval zero{0, 0};
  event_add(report_.get(), &zero);
}

void FramedCall::Report() {
  // One request per connection: close it now (libevent defers the free while one of its
  // callbacks is running).
  bev_.reset();
  OnDone on_done = std::move(on_done_);
  on_done(outcome_);  // may not destroy this call (it is owned by the instance)
}

}  // namespace testrund::ops
