// SPDX-License-Identifier: Apache-2.0
// The udp.* ops (docs/protocol-ops.md#udpsend-udpreceive): datagrams on one UDP socket per
// instance, kept in its InstanceIo until the instance ends. udp.send opens it (unconnected, so a
// reply from any address comes back to it); udp.receive takes the next datagram that arrives on it.
//
//   udp.send     arguments: host*, port*, hex | text (exactly one). Parks until the name
//                is resolved and the socket took the datagram.
//   udp.receive  arguments: timeout (s, default 5). expect: hex, text, contains, pattern;
//                mandatory. i.udp = {hex, text, length}.
//
// Failures abort the instance: "UDP send to localhost:9000 failed: cannot resolve host: ...",
// "UDP receive from 127.0.0.1:9000 timed out after 5 seconds" (the address of the last
// udp.send), "udp.receive needs a UDP socket: run udp.send first".
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "ops/base/json_numbers.h"
#include "ops/op_table.h"
#include "ops/protocol/op_protocol.h"
#include "ops/protocol/protocol_ops.h"
#include "ops/protocol/socket_message.h"

namespace testrund::ops {
namespace {

// The largest datagram a receive takes (the largest UDP payload fits).
constexpr size_t kMaxDatagram = 65536;

class UdpSocket final : public InstanceSocket {
 public:
  ~UdpSocket() override {
    if (fd_ >= 0) evutil_closesocket(fd_);
  }
  // A non-blocking socket of `family`; error: the cause.
  Status Open(int family) {
    fd_ = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Status::Error(std::strerror(errno));
    family_ = family;
    return Status::Ok();
  }
  int fd() const { return fd_; }
  int family() const { return family_; }
  // Where the last udp.send went (for texts).
  Endpoint last_target;

 private:
  int fd_ = -1;
  int family_ = AF_UNSPEC;
};

UdpSocket* UdpOf(Instance& instance) {
  ProtocolIo* io = FindIo(instance);
  return io != nullptr ? static_cast<UdpSocket*>(io->udp.get()) : nullptr;
}

struct SendArgs : OpParts {
  Endpoint target;
  std::string bytes;
};

void ReadSend(ParamReader& args, ParamReader& /*expect*/, SendArgs* out) {
  args.UnknownMembers({"host", "port", "hex", "text"});
  ReadEndpoint(args, &out->target);
  ReadPayload(args, &out->bytes);
}

struct ReceiveArgs : OpParts {
  MonoNs timeout = 0;
  std::string timeout_text;
};

void ReadReceive(ParamReader& args, ParamReader& expect, ReceiveArgs* out) {
  args.UnknownMembers({"timeout"});
  ReadTimeout(args, kDefaultSocketTimeout, &out->timeout, &out->timeout_text);
  CheckMessageExpect(expect);
}

std::string NumericHost(const sockaddr* addr, socklen_t length, uint16_t* port) {
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(addr, length, host, sizeof(host), service, sizeof(service),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    *port = 0;
    return "?";
  }
  *port = static_cast<uint16_t>(std::atoi(service));
  return host;
}

class DatagramSendPending final : public PendingIo {
 public:
  DatagramSendPending(const OpContext& ctx, std::shared_ptr<const SendArgs> args)
      : PendingIo(ctx), args_(std::move(args)) {}
  ~DatagramSendPending() override { Stop(); }

  // Resolves the target; every later step runs from the loop.
  void Start(IoContext& io) {
    io_ = &io;
    soon_.reset(event_new(io.base(), -1, 0, &DatagramSendPending::OnSoon, this));
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    std::string service = std::to_string(args_->target.port);
    if (evdns_base* dns = io.dns()) {
      // May call OnResolved at once (numeric hosts, /etc/hosts); then request_ stays null.
      request_ = evdns_getaddrinfo(dns, args_->target.host.c_str(), service.c_str(), &hints,
                                   &DatagramSendPending::OnResolved, this);
    } else {
      evutil_addrinfo* result = nullptr;
      int error = evutil_getaddrinfo(args_->target.host.c_str(), service.c_str(), &hints, &result);
      OnResolved(error, result, this);
    }
  }

 private:
  static void OnResolved(int error, evutil_addrinfo* result, void* arg) {
    auto* self = static_cast<DatagramSendPending*>(arg);
    if (error == EVUTIL_EAI_CANCEL) return;  // from Stop(): nothing more to do
    self->request_ = nullptr;
    if (error != 0) {
      self->error_ = fmt::format("cannot resolve host: {}", evutil_gai_strerror(error));
    } else {
      std::memcpy(&self->address_, result->ai_addr, result->ai_addrlen);
      self->address_length_ = static_cast<socklen_t>(result->ai_addrlen);
    }
    if (result != nullptr) evutil_freeaddrinfo(result);
    event_active(self->soon_.get(), EV_TIMEOUT, 1);
  }

  static void OnSoon(evutil_socket_t, short, void* arg) {
    static_cast<DatagramSendPending*>(arg)->AfterResolve();
  }

  void AfterResolve() {
    if (finished()) return;
    if (!error_.empty()) return Fail(error_);
    ProtocolIo& io = IoOf(ctx().instance());
    auto* socket = static_cast<UdpSocket*>(io.udp.get());
    int family = reinterpret_cast<const sockaddr*>(&address_)->sa_family;
    if (socket == nullptr || socket->family() != family) {
      auto fresh = std::make_unique<UdpSocket>();
      if (Status opened = fresh->Open(family); !opened.ok()) return Fail(opened.message());
      socket = fresh.get();
      io.udp = std::move(fresh);
    }
    socket->last_target = args_->target;
    writable_.reset(event_new(io_->base(), socket->fd(), EV_WRITE,
                              &DatagramSendPending::OnWritable, this));
    event_add(writable_.get(), nullptr);
  }

  static void OnWritable(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<DatagramSendPending*>(arg);
    if (self->finished()) return;
    ssize_t sent = sendto(fd, self->args_->bytes.data(), self->args_->bytes.size(), 0,
                          reinterpret_cast<const sockaddr*>(&self->address_),
                          self->address_length_);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      event_add(self->writable_.get(), nullptr);
      return;
    }
    if (sent < 0) return self->Fail(std::strerror(errno));
    self->Complete([self] {
      TraceSocketMessage(self->ctx(), "udp", true, self->args_->target, self->args_->bytes);
      return true;
    });
  }

  void Fail(const std::string& cause) {
    std::string text = fmt::format("UDP send to {} failed: {}", args_->target.Text(), cause);
    Complete([this, text] {
      ctx().Abort(text);
      return false;
    });
  }

  // Cancels the resolution and the write wait.
  void Stop() {
    if (request_ != nullptr) {
      evdns_getaddrinfo_request* request = request_;
      request_ = nullptr;
      evdns_getaddrinfo_cancel(request);
    }
    writable_.reset();
    soon_.reset();
  }
  void OnTimeout() override { Stop(); }

  std::shared_ptr<const SendArgs> args_;
  IoContext* io_ = nullptr;
  evdns_getaddrinfo_request* request_ = nullptr;
  std::string error_;
  sockaddr_storage address_{};
  socklen_t address_length_ = 0;
  EventPtr soon_;
  EventPtr writable_;
};

class DatagramReceivePending final : public PendingIo {
 public:
  DatagramReceivePending(const OpContext& ctx, std::shared_ptr<const ReceiveArgs> args)
      : PendingIo(ctx), args_(std::move(args)) {}

  void Start(IoContext& io, const UdpSocket& socket) {
    from_ = socket.last_target;
    readable_.reset(event_new(io.base(), socket.fd(), EV_READ,
                              &DatagramReceivePending::OnReadable, this));
    event_add(readable_.get(), nullptr);
  }

 private:
  static void OnReadable(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<DatagramReceivePending*>(arg);
    if (self->finished()) return;
    sockaddr_storage sender{};
    socklen_t sender_length = sizeof(sender);
    self->message_.resize(kMaxDatagram);
    ssize_t got = recvfrom(fd, self->message_.data(), self->message_.size(), 0,
                           reinterpret_cast<sockaddr*>(&sender), &sender_length);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      event_add(self->readable_.get(), nullptr);
      return;
    }
    if (got < 0) {
      std::string text =
          fmt::format("UDP receive from {} failed: {}", self->from_.Text(), std::strerror(errno));
      self->Complete([self, text] {
        self->ctx().Abort(text);
        return false;
      });
      return;
    }
    self->message_.resize(static_cast<size_t>(got));
    Endpoint sender_endpoint;
    sender_endpoint.host = NumericHost(reinterpret_cast<const sockaddr*>(&sender), sender_length,
                                       &sender_endpoint.port);
    self->Complete([self, sender_endpoint] {
      return RecordReceived(self->ctx(), "udp", sender_endpoint, self->message_, self->message_,
                            self->args_->expect, self->args_->mandatory);
    });
  }
  void OnTimeout() override { readable_.reset(); }

  std::shared_ptr<const ReceiveArgs> args_;
  Endpoint from_;
  std::string message_;
  EventPtr readable_;
};

StepOutcome ExecuteUdpSend(OpContext& ctx) {
  std::shared_ptr<const SendArgs> args = ReadOp(ctx, &ReadSend);
  if (args == nullptr) return StepOutcome::kFinished;
  std::string timeout_text = fmt::format("UDP send to {} timed out after {} seconds",
                                         args->target.Text(), NumberText(kDefaultSocketTimeout));
  auto pending = std::make_unique<DatagramSendPending>(ctx, std::move(args));
  DatagramSendPending* p = pending.get();
  IoOf(ctx.instance()).pending = std::move(pending);
  p->Start(*ctx.io());
  p->Park(static_cast<MonoNs>(kDefaultSocketTimeout * kNsPerSecond), std::move(timeout_text));
  return StepOutcome::kParked;
}

StepOutcome ExecuteUdpReceive(OpContext& ctx) {
  std::shared_ptr<const ReceiveArgs> args = ReadOp(ctx, &ReadReceive);
  if (args == nullptr) return StepOutcome::kFinished;
  UdpSocket* socket = UdpOf(ctx.instance());
  if (socket == nullptr) {
    ctx.Abort("udp.receive needs a UDP socket: run udp.send first");
    return StepOutcome::kFinished;
  }
  std::string timeout_text = fmt::format("UDP receive from {} timed out after {} seconds",
                                         socket->last_target.Text(), args->timeout_text);
  MonoNs timeout = args->timeout;
  auto pending = std::make_unique<DatagramReceivePending>(ctx, std::move(args));
  DatagramReceivePending* p = pending.get();
  IoOf(ctx.instance()).pending = std::move(pending);
  p->Start(*ctx.io(), *socket);
  p->Park(timeout, std::move(timeout_text));
  return StepOutcome::kParked;
}

constexpr AttributeSpec kSendAttributes[] = {
    {"arguments", AttrKind::kObject, true, Slot::kArguments},
};
constexpr AttributeSpec kReceiveAttributes[] = {
    {"arguments", AttrKind::kObject, false, Slot::kArguments},
    {"expect", AttrKind::kObject, false, Slot::kExpect},
    {"mandatory", AttrKind::kFlag, false, Slot::kMandatory},
};

constexpr OpTypeSpec kUdpOps[] = {
    {"udp.send", kSendAttributes, &ExecuteUdpSend, true, true,
     &ValidateWith<SendArgs, &ReadSend>},
    {"udp.receive", kReceiveAttributes, &ExecuteUdpReceive, true, true,
     &ValidateWith<ReceiveArgs, &ReadReceive>},
};

}  // namespace

std::span<const OpTypeSpec> UdpOpTypes() { return kUdpOps; }

}  // namespace testrund::ops
