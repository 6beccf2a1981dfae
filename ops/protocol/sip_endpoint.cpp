// SPDX-License-Identifier: Apache-2.0
// A run's SIP socket and its demultiplexing by Call-ID (see sip_endpoint.h).
#include "ops/protocol/sip_endpoint.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "ops/net/io_context.h"
#include "ops/run.h"
#include "ops/sip/sip_headers.h"

namespace testrund::ops {
namespace {

// Datagrams read per readable event before the loop gets its turn back.
constexpr int kReadsPerEvent = 64;
// The largest datagram read (one more than a message may have, to tell it is over).
constexpr size_t kReadBuffer = sip::kMaxMessageBytes + 1;

}  // namespace

namespace {

void AppendDecimal(unsigned value, std::string& out) {
  char digits[10];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) out += digits[--n];
}

}  // namespace

std::string SipPeer::Text() const {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (address.ss_family == AF_INET) {
    // By hand: inet_ntop (sprintf inside) and fmt took ~2,400 instructions, and every traced
    // message names its peer.
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    const auto* octets = reinterpret_cast<const unsigned char*>(&in->sin_addr);
    std::string out;
    out.reserve(21);
    for (int k = 0; k < 4; ++k) {
      if (k > 0) out += '.';
      AppendDecimal(octets[k], out);
    }
    out += ':';
    AppendDecimal(ntohs(in->sin_port), out);
    return out;
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
  port = ntohs(in6->sin6_port);
  return fmt::format("[{}]:{}", host, port);
}

Result<SipPeer> PeerAt(const std::string& host, uint16_t port) {
  SipPeer peer;
  auto* in = reinterpret_cast<sockaddr_in*>(&peer.address);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&peer.address);
  if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    peer.length = sizeof(sockaddr_in);
    return peer;
  }
  if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    peer.length = sizeof(sockaddr_in6);
    return peer;
  }
  return Status::Error(fmt::format("\"{}\" is not a numeric address", host));
}

Result<std::unique_ptr<SipEndpoint>> SipEndpoint::Open(event_base* base,
                                                       const sip::TransportAddress& local) {
  Result<SipPeer> bind_to = PeerAt(local.host, local.port);
  if (!bind_to.ok()) return bind_to.status();
  int fd = socket(bind_to->address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::strerror(errno));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&bind_to->address), bind_to->length) != 0) {
    std::string cause = std::strerror(errno);
    evutil_closesocket(fd);
    return Status::Error(fmt::format("cannot bind {}: {}", local.Text(), cause));
  }
  // Many calls share the socket: a large receive buffer absorbs bursts.
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  SipPeer bound;
  bound.length = sizeof(bound.address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound.address), &bound.length);
  sip::TransportAddress actual = local;
  actual.port = bound.address.ss_family == AF_INET
                    ? ntohs(reinterpret_cast<const sockaddr_in*>(&bound.address)->sin_port)
                    : ntohs(reinterpret_cast<const sockaddr_in6*>(&bound.address)->sin6_port);
  std::unique_ptr<SipEndpoint> endpoint(new SipEndpoint(fd, actual));
  endpoint->readable_.reset(
      event_new(base, fd, EV_READ | EV_PERSIST, &SipEndpoint::OnReadable, endpoint.get()));
  event_add(endpoint->readable_.get(), nullptr);
  if (local.transport == sip::Transport::kTcp) {
    Result<SipPeer> at = PeerAt(actual.host, actual.port);
    endpoint->listener_.reset(evconnlistener_new_bind(
        base, &SipEndpoint::OnAccept, endpoint.get(),
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
        reinterpret_cast<const sockaddr*>(&at->address), static_cast<int>(at->length)));
    if (!endpoint->listener_) {
      return Status::Error(
          fmt::format("cannot listen on {}: {}", actual.Text(), std::strerror(errno)));
    }
  }
  return endpoint;
}

SipEndpoint::SipEndpoint(int fd, sip::TransportAddress local)
    : fd_(fd),
      local_(std::move(local)),
      local_host_port_(local_.HostPort()),
      ids_(sip::IdSource::Random()) {}

SipEndpoint::~SipEndpoint() {
  listener_.reset();
  connections_.clear();
  lingering_.clear();
  readable_.reset();
  evutil_closesocket(fd_);
}

void SipEndpoint::Register(const std::string& call_id, SipSink* sink) { sinks_[call_id] = sink; }

void SipEndpoint::Unregister(const std::string& call_id, SipSink* sink) {
  auto it = sinks_.find(call_id);
  if (it != sinks_.end() && it->second == sink) sinks_.erase(it);
}

void SipEndpoint::Wait(SipSink* sink) { waiting_.push_back(sink); }

void SipEndpoint::Unwait(SipSink* sink) {
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), sink), waiting_.end());
}

void SipEndpoint::Linger(BuffereventPtr stream) {
  bufferevent* bev = stream.get();
  bufferevent_setcb(bev, &SipEndpoint::OnLingerRead, nullptr, &SipEndpoint::OnLingerEvent, this);
  timeval idle{kLingerSeconds, 0};
  bufferevent_set_timeouts(bev, &idle, nullptr);
  bufferevent_enable(bev, EV_READ);
  lingering_[bev] = std::move(stream);
}

void SipEndpoint::OnLingerRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<SipEndpoint*>(arg);
  evbuffer* input = bufferevent_get_input(bev);
  evbuffer_drain(input, evbuffer_get_length(input));
  ++self->counters_.unmatched;
}

void SipEndpoint::OnLingerEvent(bufferevent* bev, short, void* arg) {
  // EOF, an error or the idle timeout: the connection is done (freed here; libevent defers
  // the free past this callback).
  static_cast<SipEndpoint*>(arg)->lingering_.erase(bev);
}

void SipEndpoint::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int length,
                           void* arg) {
  auto* self = static_cast<SipEndpoint*>(arg);
  bufferevent* bev = bufferevent_socket_new(evconnlistener_get_base(self->listener_.get()), fd,
                                            BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    evutil_closesocket(fd);
    return;
  }
  uint64_t id = self->next_connection_++;
  Connection& c = self->connections_[id];
  c.bev.reset(bev);
  std::memcpy(&c.peer.address, peer, static_cast<size_t>(length));
  c.peer.length = static_cast<socklen_t>(length);
  c.peer.connection = id;
  self->connection_ids_[bev] = id;
  bufferevent_setcb(bev, &SipEndpoint::OnConnectionRead, nullptr, &SipEndpoint::OnConnectionEvent,
                    self);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void SipEndpoint::OnConnectionRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<SipEndpoint*>(arg);
  uint64_t id = self->connection_ids_[bev];
  Connection& c = self->connections_[id];
  evbuffer* input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  size_t at = c.in.size();
  c.in.resize(at + length);
  evbuffer_remove(input, c.in.data() + at, length);
  for (;;) {
    // Looked up again each turn: a sink may have sent on (never closed) this connection.
    Connection& conn = self->connections_[id];
    if (conn.in.empty()) return;
    sip::ParseResult r = sip::Parse(conn.in, sip::Framing::kStream);
    if (r.kind == sip::ParseResult::Kind::kNeedMore) return;
    if (r.kind == sip::ParseResult::Kind::kMalformed) {
      // A connection shared by calls: no instance to abort, so the connection goes.
      ++self->counters_.malformed;
      self->connection_ids_.erase(bev);
      self->connections_.erase(id);
      return;
    }
    std::string raw = conn.in.substr(0, r.consumed);
    conn.in.erase(0, r.consumed);
    SipPeer from = conn.peer;
    self->Dispatch(std::move(r.message), raw, from);
  }
}

void SipEndpoint::OnConnectionEvent(bufferevent* bev, short events, void* arg) {
  if (events & BEV_EVENT_CONNECTED) return;
  auto* self = static_cast<SipEndpoint*>(arg);
  auto it = self->connection_ids_.find(bev);
  if (it == self->connection_ids_.end()) return;
  self->connections_.erase(it->second);
  self->connection_ids_.erase(it);
}

Status SipEndpoint::Send(std::string_view bytes, const SipPeer& to) {
  if (to.connection != 0) {
    auto it = connections_.find(to.connection);
    if (it == connections_.end()) return Status::Error("the connection was closed");
    if (bufferevent_write(it->second.bev.get(), bytes.data(), bytes.size()) != 0) {
      return Status::Error("cannot queue the message");
    }
    return Status::Ok();
  }
  ssize_t sent = sendto(fd_, bytes.data(), bytes.size(), 0,
                        reinterpret_cast<const sockaddr*>(&to.address), to.length);
  if (sent < 0) return Status::Error(std::strerror(errno));
  return Status::Ok();
}

void SipEndpoint::OnReadable(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<SipEndpoint*>(arg);
  self->buffer_.resize(kReadBuffer);
  for (int k = 0; k < kReadsPerEvent; ++k) {
    SipPeer from;
    from.length = sizeof(from.address);
    ssize_t got = recvfrom(fd, self->buffer_.data(), self->buffer_.size(), 0,
                           reinterpret_cast<sockaddr*>(&from.address), &from.length);
    if (got < 0) return;  // EAGAIN: read everything; other errors (ICMP) are not messages
    // A sink may end its instance, never the run: `self` stays valid.
    self->Dispatch(std::string_view(self->buffer_.data(), static_cast<size_t>(got)), from);
  }
}

void SipEndpoint::Dispatch(std::string_view bytes, const SipPeer& from) {
  sip::ParseResult parsed = sip::Parse(bytes, sip::Framing::kDatagram);
  if (parsed.kind != sip::ParseResult::Kind::kMessage) {
    ++counters_.malformed;
    return;
  }
  Dispatch(std::move(parsed.message), bytes, from);
}

void SipEndpoint::Dispatch(sip::Message message, std::string_view raw, const SipPeer& from) {
  const std::string* call_id = message.Find("Call-ID");
  if (call_id == nullptr || !message.Has("CSeq") || !message.Has("Via")) {
    ++counters_.malformed;  // RFC 3261 §8.1.1: every message has these
    return;
  }
  auto it = sinks_.find(*call_id);
  if (it != sinks_.end()) {
    it->second->OnSipMessage(std::move(message), raw, from);
    return;
  }
  DispatchOrphan(std::move(message), raw, from);
}

void SipEndpoint::DispatchOrphan(sip::Message message, std::string_view raw, const SipPeer& from) {
  if (!message.is_request || message.method == "ACK") {
    ++counters_.unmatched;
    return;
  }
  const std::string* to = message.Find("To");
  if (to != nullptr && sip::Param(*to, "tag")) {
    ++counters_.no_dialog;
    Answer(message, 481, "Call/Transaction Does Not Exist", from);
    return;
  }
  if (waiting_.empty()) {
    ++counters_.rejected;
    Answer(message, 503, "Service Unavailable", from);
    return;
  }
  SipSink* sink = waiting_.front();
  waiting_.pop_front();
  sinks_[*message.Find("Call-ID")] = sink;
  sink->OnSipMessage(std::move(message), raw, from);
}

void SipEndpoint::Answer(const sip::Message& request, int status, std::string_view reason,
                         const SipPeer& to) {
  sip::Message response;
  response.is_request = false;
  response.status = status;
  response.reason = std::string(reason);
  for (std::string_view via : request.FindAll("Via")) {
    response.headers.push_back({"Via", std::string(via)});
  }
  for (const char* name : {"From", "To", "Call-ID", "CSeq"}) {
    if (const std::string* value = request.Find(name)) {
      std::string copy = *value;
      if (std::string_view(name) == "To" && !sip::Param(copy, "tag")) {
        copy += fmt::format(";tag={}", ids_.Tag());
      }
      response.headers.push_back({name, std::move(copy)});
    }
  }
  response.headers.push_back({"Content-Length", "0"});
  (void)Send(sip::Serialize(response), to);
}

Result<SipEndpoint*> EndpointOf(OpContext& ctx) {
  std::unique_ptr<RunIo>& run_io = ctx.run_io();
  if (run_io) return static_cast<SipEndpoint*>(run_io.get());
  sip::TransportAddress local;
  local.host = "127.0.0.1";
  if (ctx.definition().sip_local) local = *ctx.definition().sip_local;
  Result<std::unique_ptr<SipEndpoint>> opened = SipEndpoint::Open(ctx.io()->base(), local);
  if (!opened.ok()) return opened.status();
  SipEndpoint* endpoint = opened.value().get();
  run_io = std::move(opened.value());
  return endpoint;
}

}  // namespace testrund::ops
