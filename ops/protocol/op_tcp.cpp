// SPDX-License-Identifier: Apache-2.0
// The tcp.* ops (docs/protocol-ops.md#tcpconnect-tcpsend-tcpreceive-tcpclose): one TCP connection
// per instance, plain or TLS, kept in its InstanceIo from tcp.connect to tcp.close or the end of
// the instance, whatever the end.
//
//   tcp.connect  arguments: host*, port*, tls (true/false or {"verify", "ca_file",
//                "server_name"}), timeout (s, default 5). A second connect closes the first.
//   tcp.send     arguments: hex | text (exactly one), timeout (s, default 5). Parks until the
//                bytes are handed to the kernel.
//   tcp.receive  arguments: exactly one of length (bytes), delimiter (text, or {"hex": ...}),
//                length_prefix (1, 2 or 4: a big-endian length, then that many bytes);
//                timeout (s, default 5). expect: hex, text, contains, pattern; mandatory.
//   tcp.close    closes the connection (nothing when there is none).
//
// A received message includes its delimiter and excludes its length prefix; bytes beyond it
// stay buffered for the next receive. After a receive i.tcp = {hex, text, length}. Failures
// abort the instance: "TCP connect to 127.0.0.1:7000 failed: connection refused",
// "TCP receive from 127.0.0.1:7000 failed: connection closed by peer ...",
// "TCP receive from 127.0.0.1:7000 timed out after 5 seconds".
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "ops/base/hex.h"
#include "ops/base/json_numbers.h"
#include "ops/base/length_prefix.h"
#include "ops/net/plain_socket.h"
#include "ops/op_table.h"
#include "ops/protocol/op_protocol.h"
#include "ops/protocol/protocol_ops.h"
#include "ops/protocol/socket_message.h"

namespace testrund::ops {
namespace {

// What a parked tcp op is told when its stream changes (bytes, drained output, events).
class StreamWaiter {
 public:
  virtual void OnStreamChange() = 0;

 protected:
  ~StreamWaiter() = default;
};

class TcpStream final : public InstanceSocket {
 public:
  explicit TcpStream(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

  // Creates the socket and starts connecting (resolution is asynchronous). Callbacks are
  // deferred to the loop, so none runs inside Open. Error: the cause.
  Status Open(IoContext& io, bool tls, const TlsOptions& options) {
    Result<BuffereventPtr> bev =
        NewClientBufferevent(io, endpoint_.host, tls, options, BEV_OPT_DEFER_CALLBACKS);
    if (!bev.ok()) return bev.status();
    bev_ = std::move(bev.value());
    base_ = io.base();
    plain_ = !tls;
    bufferevent_setcb(bev_.get(), &TcpStream::OnRead, &TcpStream::OnWrite, &TcpStream::OnEvent,
                      this);
    // Reading pauses once a whole message (and its prefix) could be buffered.
    bufferevent_setwatermark(bev_.get(), EV_READ, 0, kMaxReadAhead);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    if (bufferevent_socket_connect_hostname(bev_.get(), io.dns(), AF_UNSPEC,
                                            endpoint_.host.c_str(), endpoint_.port) != 0) {
      return Status::Error(SocketErrorText(bev_.get(), BEV_EVENT_ERROR));
    }
    return Status::Ok();
  }

  void SetWaiter(StreamWaiter* waiter) { waiter_ = waiter; }
  const Endpoint& endpoint() const { return endpoint_; }
  bool connected() const { return connected_; }
  bool eof() const { return eof_; }
  // The cause of a socket or TLS error ("" while there is none).
  const std::string& error() const { return error_; }

  // The bytes received and not consumed yet, in one piece.
  std::string_view buffered() const {
    return std::string_view(in_.data() + in_from_, in_end_ - in_from_);
  }
  // Drops the first `n` buffered bytes (a message cut out of them).
  void Consume(size_t n) {
    in_from_ += n;
    if (in_from_ == in_end_) in_from_ = in_end_ = 0;
    if (reading_paused_ && in_end_ - in_from_ < kMaxReadAhead) {
      reading_paused_ = false;
      if (socket_) {
        socket_->ResumeReading();
      } else {
        bufferevent_enable(bev_.get(), EV_READ);
      }
    }
  }

  size_t unsent() const {
    return socket_ ? socket_->unsent() : evbuffer_get_length(bufferevent_get_output(bev_.get()));
  }
  // Writes `bytes`. True: all of them were handed to the kernel at once (a plain connection
  // whose kernel buffer had room); false: the waiter hears when they are, or of a failure.
  bool Write(std::string_view bytes) {
    if (socket_) return socket_->Send(bytes);
    bufferevent_write(bev_.get(), bytes.data(), bytes.size());
    return false;
  }

 private:
  // Bytes buffered before reading pauses: a whole message and its prefix.
  static constexpr size_t kMaxReadAhead = kMaxMessageBytes + 4;
  // Bytes one recv may add to the buffer.
  static constexpr size_t kReadChunk = 16 * 1024;

  static void OnRead(bufferevent*, void* arg) {
    auto* self = static_cast<TcpStream*>(arg);
    self->TakeInput();
    self->Notify();
  }
  // Moves what the bufferevent read (TLS, or before the connect completed) to in_, so that
  // messages are cut out of one buffer whatever the connection.
  void TakeInput() {
    evbuffer* input = bufferevent_get_input(bev_.get());
    size_t length = evbuffer_get_length(input);
    if (length == 0) return;
    MakeRoom(length);
    evbuffer_remove(input, in_.data() + in_end_, length);
    in_end_ += length;
    if (in_end_ - in_from_ >= kMaxReadAhead) {
      reading_paused_ = true;
      bufferevent_disable(bev_.get(), EV_READ);
    }
  }
  static void OnWrite(bufferevent*, void* arg) { static_cast<TcpStream*>(arg)->Notify(); }
  static void OnEvent(bufferevent* bev, short events, void* arg) {
    auto* self = static_cast<TcpStream*>(arg);
    if (events & BEV_EVENT_CONNECTED) {
      self->connected_ = true;
      if (self->plain_) self->OwnSocket();
    } else if ((events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR)) {
      self->eof_ = true;
    } else if (self->error_.empty()) {
      self->error_ = SocketErrorText(bev, events);
    }
    self->Notify();
  }

  // A plain connection connected: its descriptor moves to a PlainSocket (a recv per
  // readable event into in_, a send per tcp.send: docs/performance.md, scenario 11). Bytes
  // the bufferevent read meanwhile move along.
  void OwnSocket() {
    evutil_socket_t fd = PlainSocket::TakeSocket(bev_.get());
    TakeInput();
    bev_.reset();  // safe inside its (deferred) callback: libevent holds a reference
    socket_ = std::make_unique<PlainSocket>(base_, fd, &TcpStream::OnSocket, this);
    if (reading_paused_) socket_->StopReading();
  }

  static void OnSocket(short what, void* arg) {
    auto* self = static_cast<TcpStream*>(arg);
    if (what & EV_READ) self->ReadSocket();
    if (self->socket_->error() != 0 && self->error_.empty()) {
      self->error_ = SocketErrnoText(self->socket_->error());
    }
    self->Notify();
  }

  void ReadSocket() {
    if (eof_ || !error_.empty()) return;
    MakeRoom(kReadChunk);
    int error = 0;
    ptrdiff_t n = socket_->Receive(in_.data() + in_end_, in_.size() - in_end_, &error);
    if (n > 0) in_end_ += static_cast<size_t>(n);
    if (n == 0) {
      eof_ = true;
      socket_->StopReading();
    } else if (n == -2) {
      error_ = SocketErrnoText(error);
      socket_->StopReading();
    } else if (in_end_ - in_from_ >= kMaxReadAhead) {
      reading_paused_ = true;
      socket_->StopReading();
    }
  }

  // At least `room` bytes free after in_end_: the buffered bytes move to the front, and
  // the buffer grows only when they fill it (std::string grows geometrically).
  void MakeRoom(size_t room) {
    if (in_.size() - in_end_ >= room) return;
    if (in_from_ > 0) {
      std::memmove(in_.data(), in_.data() + in_from_, in_end_ - in_from_);
      in_end_ -= in_from_;
      in_from_ = 0;
    }
    if (in_.size() - in_end_ < room) in_.resize(in_end_ + room);
  }

  void Notify() {
    if (waiter_ != nullptr) waiter_->OnStreamChange();
  }

  Endpoint endpoint_;
  BuffereventPtr bev_;                   // while connecting, and for TLS
  std::unique_ptr<PlainSocket> socket_;  // a plain connection once connected
  event_base* base_ = nullptr;
  // The read buffer: the bytes from in_from_ to in_end_ are received and not consumed.
  std::string in_;
  size_t in_from_ = 0;
  size_t in_end_ = 0;
  bool plain_ = false;
  bool reading_paused_ = false;
  StreamWaiter* waiter_ = nullptr;
  bool connected_ = false;
  bool eof_ = false;
  std::string error_;
};

TcpStream* StreamOf(Instance& instance) {
  ProtocolIo* io = FindIo(instance);
  return io != nullptr ? static_cast<TcpStream*>(io->tcp.get()) : nullptr;
}

// A tcp op parked on the instance's stream. Stops listening before it completes, so that a
// spent wait never hears of the stream again.
class TcpPending : public PendingIo, public StreamWaiter {
 public:
  TcpPending(const OpContext& ctx, TcpStream* stream)
      : PendingIo(ctx), stream_(stream), endpoint_(stream->endpoint()) {
    stream_->SetWaiter(this);
  }
  ~TcpPending() override { Detach(); }

  // Looks at the stream on the next loop turn (never inside the executor).
  void CheckSoon(IoContext& io) {
    ready_.reset(event_new(io.base(), -1, 0, &TcpPending::OnReady, this));
    event_active(ready_.get(), EV_TIMEOUT, 1);
  }

 protected:
  static void OnReady(evutil_socket_t, short, void* arg) {
    static_cast<TcpPending*>(arg)->OnStreamChange();
  }

  void Detach() {
    if (stream_ != nullptr) stream_->SetWaiter(nullptr);
    stream_ = nullptr;
  }
  // Ends the op with an abort `text`.
  void Fail(std::string text) {
    Detach();
    Complete([this, text = std::move(text)] {
      ctx().Abort(text);
      return false;
    });
  }
  // The timeout fired: the connection is closed (the instance aborts).
  void OnTimeout() override {
    Detach();
    IoOf(ctx().instance()).tcp.reset();
  }

  TcpStream* stream_;
  Endpoint endpoint_;
  EventPtr ready_;
};

class ConnectPending final : public TcpPending {
 public:
  using TcpPending::TcpPending;

 private:
  void OnStreamChange() override {
    if (stream_->connected()) {
      Detach();
      Complete([] { return true; });
    } else if (!stream_->error().empty() || stream_->eof()) {
      std::string cause = stream_->eof() ? "connection closed by peer" : stream_->error();
      Fail(fmt::format("TCP connect to {} failed: {}", endpoint_.Text(), cause));
    }
  }
};

class SendPending final : public TcpPending {
 public:
  using TcpPending::TcpPending;

 private:
  void OnStreamChange() override {
    if (stream_ == nullptr || finished()) return;
    if (!stream_->error().empty()) {
      Fail(fmt::format("TCP send to {} failed: {}", endpoint_.Text(), stream_->error()));
    } else if (stream_->unsent() == 0) {
      Detach();
      Complete([] { return true; });
    }
  }
};

// How tcp.receive cuts a message out of the stream.
struct Framing {
  enum class Mode { kLength, kDelimiter, kLengthPrefix } mode = Mode::kLength;
  size_t length = 0;        // kLength
  std::string delimiter;    // kDelimiter
  size_t prefix_bytes = 0;  // kLengthPrefix: 1, 2 or 4
};

enum class Cut { kNeedMore, kMessage, kTooLong };

// Cuts one message off the front of `input` when it is complete: *take is every byte it
// used (the wire bytes), *skip the length prefix before the message. kTooLong: *problem
// says why it can never be complete.
Cut CutMessage(const Framing& framing, std::string_view input, size_t* take, size_t* skip,
               std::string* problem) {
  size_t have = input.size();
  *skip = 0;
  switch (framing.mode) {
    case Framing::Mode::kLength:
      if (have < framing.length) return Cut::kNeedMore;
      *take = framing.length;
      break;
    case Framing::Mode::kDelimiter: {
      size_t at = input.find(framing.delimiter);
      if (at == std::string_view::npos) {
        if (have < kMaxMessageBytes) return Cut::kNeedMore;
        *problem = fmt::format("no delimiter within {} bytes", kMaxMessageBytes);
        return Cut::kTooLong;
      }
      *take = at + framing.delimiter.size();
      break;
    }
    case Framing::Mode::kLengthPrefix: {
      if (have < framing.prefix_bytes) return Cut::kNeedMore;
      uint64_t announced = ReadBigEndian(reinterpret_cast<const unsigned char*>(input.data()),
                                         framing.prefix_bytes);
      if (announced > kMaxMessageBytes) {
        *problem = fmt::format("length prefix announces {} bytes, more than {}", announced,
                               kMaxMessageBytes);
        return Cut::kTooLong;
      }
      *skip = framing.prefix_bytes;
      *take = *skip + announced;
      if (have < *take) return Cut::kNeedMore;
      break;
    }
  }
  return Cut::kMessage;
}

// --- Arguments -----------------------------------------------------------------------------

struct ConnectArgs : OpParts {
  Endpoint endpoint;
  bool tls = false;
  TlsOptions tls_options;
  MonoNs timeout = 0;
  std::string timeout_text;
};

void ReadConnect(ParamReader& args, ParamReader& /*expect*/, ConnectArgs* out) {
  args.UnknownMembers({"host", "port", "tls", "timeout"});
  ReadEndpoint(args, &out->endpoint);
  ReadTls(args, &out->tls, &out->tls_options);
  ReadTimeout(args, kDefaultSocketTimeout, &out->timeout, &out->timeout_text);
}

struct SendArgs : OpParts {
  std::string bytes;
  MonoNs timeout = 0;
  std::string timeout_text;
};

void ReadSend(ParamReader& args, ParamReader& /*expect*/, SendArgs* out) {
  args.UnknownMembers({"hex", "text", "timeout"});
  ReadPayload(args, &out->bytes);
  ReadTimeout(args, kDefaultSocketTimeout, &out->timeout, &out->timeout_text);
}

struct ReceiveArgs : OpParts {
  Framing framing;
  MonoNs timeout = 0;
  std::string timeout_text;
};

void ReadDelimiter(ParamReader& args, std::string* out) {
  const rapidjson::Value& value = *args.Get("delimiter");
  if (args.Deferred(value)) return;
  if (value.IsString() && value.GetStringLength() > 0) {
    *out = ReadLiteral(args, "delimiter").value_or("");
    return;
  }
  if (!value.IsObject() || value.MemberCount() != 1 || !value.HasMember("hex")) {
    args.WrongType("delimiter", R"(a non-empty string or {"hex": "<hex digits>"})", value);
    return;
  }
  ParamReader delimiter(value, args, "delimiter");
  std::optional<std::string_view> hex = delimiter.OptionalString("hex");
  if (hex && (hex->empty() || !HexDecode(*hex, out))) {
    delimiter.WrongType("hex", "a non-empty, even number of hex digits", value["hex"]);
  }
}

void ReadFraming(ParamReader& args, Framing* out) {
  bool length = args.Get("length") != nullptr;
  bool delimiter = args.Get("delimiter") != nullptr;
  bool prefix = args.Get("length_prefix") != nullptr;
  int modes = length + delimiter + prefix;
  if (modes == 0) {
    args.AddProblem("", R"(needs one of "length", "delimiter" and "length_prefix")");
  } else if (modes > 1) {
    args.AddProblem("", R"(must have only one of "length", "delimiter" and "length_prefix")");
  } else if (length) {
    out->mode = Framing::Mode::kLength;
    auto n = args.OptionalInt("length", {.min = 1, .max = static_cast<int64_t>(kMaxMessageBytes)});
    if (n) out->length = static_cast<size_t>(*n);
  } else if (delimiter) {
    out->mode = Framing::Mode::kDelimiter;
    ReadDelimiter(args, &out->delimiter);
  } else if (const rapidjson::Value* value = args.Get("length_prefix");
             !args.Deferred(*value)) {
    out->mode = Framing::Mode::kLengthPrefix;
    std::optional<int64_t> bytes = ParseInteger(*value);
    if (bytes == 1 || bytes == 2 || bytes == 4) {
      out->prefix_bytes = static_cast<size_t>(*bytes);
    } else {
      args.WrongType("length_prefix", "1, 2 or 4", *value);
    }
  }
}

void ReadReceive(ParamReader& args, ParamReader& expect, ReceiveArgs* out) {
  args.UnknownMembers({"length", "delimiter", "length_prefix", "timeout"});
  ReadFraming(args, &out->framing);
  ReadTimeout(args, kDefaultSocketTimeout, &out->timeout, &out->timeout_text);
  CheckMessageExpect(expect);
}

void ReadClose(ParamReader& args, ParamReader& /*expect*/, OpParts* /*out*/) {
  args.UnknownMembers({});
}

// --- Waits ---------------------------------------------------------------------------------

class ReceivePending final : public TcpPending {
 public:
  ReceivePending(const OpContext& ctx, TcpStream* stream, std::shared_ptr<const ReceiveArgs> args)
      : TcpPending(ctx, stream), args_(std::move(args)) {}

 private:

  void OnStreamChange() override {
    if (stream_ == nullptr || finished()) return;
    std::string problem;
    std::string_view input = stream_->buffered();
    size_t take = 0;
    size_t skip = 0;
    Cut cut = CutMessage(args_->framing, input, &take, &skip, &problem);
    if (cut == Cut::kMessage) {
      wire_.assign(input.data(), take);
      stream_->Consume(take);
      Detach();
      Complete([this, skip] {
        std::string_view wire = wire_;
        return RecordReceived(ctx(), "tcp", endpoint_, wire.substr(skip), wire, args_->expect,
                              args_->mandatory);
      });
      return;
    }
    std::string from = endpoint_.Text();
    if (cut == Cut::kTooLong) {
      Fail(fmt::format("TCP receive from {} failed: {}", from, problem));
    } else if (!stream_->error().empty()) {
      Fail(fmt::format("TCP receive from {} failed: {}", from, stream_->error()));
    } else if (stream_->eof()) {
      size_t buffered = input.size();
      Fail(buffered == 0
               ? fmt::format("TCP receive from {} failed: connection closed by peer", from)
               : fmt::format("TCP receive from {} failed: connection closed by peer after {} "
                             "bytes of an incomplete message",
                             from, buffered));
    }
  }

  std::shared_ptr<const ReceiveArgs> args_;
  std::string wire_;
};

// Aborts a send or receive that has no connection.
StepOutcome NoConnection(OpContext& ctx) {
  ctx.Abort(fmt::format("{} needs a TCP connection: run tcp.connect first", ctx.op().type->name));
  return StepOutcome::kFinished;
}

// --- Executors -----------------------------------------------------------------------------

StepOutcome ExecuteTcpConnect(OpContext& ctx) {
  std::shared_ptr<const ConnectArgs> args = ReadOp(ctx, &ReadConnect);
  if (args == nullptr) return StepOutcome::kFinished;
  ProtocolIo& io = IoOf(ctx.instance());
  io.pending.reset();  // the previous op's spent wait, before the stream it knew goes
  io.tcp.reset();      // a second connect closes the first connection
  auto stream = std::make_unique<TcpStream>(args->endpoint);
  Status opened = stream->Open(*ctx.io(), args->tls, args->tls_options);
  if (!opened.ok()) {
    ctx.Abort(fmt::format("TCP connect to {} failed: {}", args->endpoint.Text(),
                          opened.message()));
    return StepOutcome::kFinished;
  }
  TcpStream* s = stream.get();
  io.tcp = std::move(stream);
  auto pending = std::make_unique<ConnectPending>(ctx, s);
  ConnectPending* p = pending.get();
  io.pending = std::move(pending);
  p->Park(args->timeout, fmt::format("TCP connect to {} timed out after {} seconds",
                                     args->endpoint.Text(), args->timeout_text));
  return StepOutcome::kParked;
}

StepOutcome ExecuteTcpSend(OpContext& ctx) {
  std::shared_ptr<const SendArgs> args = ReadOp(ctx, &ReadSend);
  if (args == nullptr) return StepOutcome::kFinished;
  TcpStream* stream = StreamOf(ctx.instance());
  if (stream == nullptr) return NoConnection(ctx);
  const Endpoint& endpoint = stream->endpoint();
  if (!stream->error().empty()) {
    ctx.Abort(fmt::format("TCP send to {} failed: {}", endpoint.Text(), stream->error()));
    return StepOutcome::kFinished;
  }
  TraceSocketMessage(ctx, "tcp", true, endpoint, args->bytes);
  auto pending = std::make_unique<SendPending>(ctx, stream);
  SendPending* p = pending.get();
  IoOf(ctx.instance()).pending = std::move(pending);
  std::string timeout_text = fmt::format("TCP send to {} timed out after {} seconds",
                                         endpoint.Text(), args->timeout_text);
  p->Park(args->timeout, std::move(timeout_text));
  // All handed to the kernel at once: the wait ends on the next loop turn (a send still
  // parks, so that its latency is recorded). Else the stream tells it when the rest is
  // written, or of a failure.
  if (stream->Write(args->bytes)) p->CheckSoon(*ctx.io());
  return StepOutcome::kParked;
}

StepOutcome ExecuteTcpReceive(OpContext& ctx) {
  std::shared_ptr<const ReceiveArgs> args = ReadOp(ctx, &ReadReceive);
  if (args == nullptr) return StepOutcome::kFinished;
  TcpStream* stream = StreamOf(ctx.instance());
  if (stream == nullptr) return NoConnection(ctx);
  std::string timeout_text = fmt::format("TCP receive from {} timed out after {} seconds",
                                         stream->endpoint().Text(), args->timeout_text);
  MonoNs timeout = args->timeout;
  auto pending = std::make_unique<ReceivePending>(ctx, stream, std::move(args));
  ReceivePending* p = pending.get();
  IoOf(ctx.instance()).pending = std::move(pending);
  p->Park(timeout, std::move(timeout_text));
  // With nothing buffered the stream's next event tells the wait; else it looks soon.
  if (!stream->buffered().empty() || stream->eof() || !stream->error().empty()) {
    p->CheckSoon(*ctx.io());
  }
  return StepOutcome::kParked;
}

StepOutcome ExecuteTcpClose(OpContext& ctx) {
  if (ReadOp(ctx, &ReadClose) == nullptr) return StepOutcome::kFinished;
  if (ProtocolIo* io = FindIo(ctx.instance())) {
    io->pending.reset();  // a spent wait may still know the stream
    io->tcp.reset();
  }
  ++ctx.instance().pc;
  return StepOutcome::kNext;
}

constexpr AttributeSpec kRequiredArguments[] = {
    {"arguments", AttrKind::kObject, true, Slot::kArguments},
};
constexpr AttributeSpec kOptionalArguments[] = {
    {"arguments", AttrKind::kObject, false, Slot::kArguments},
};
constexpr AttributeSpec kReceiveAttributes[] = {
    {"arguments", AttrKind::kObject, true, Slot::kArguments},
    {"expect", AttrKind::kObject, false, Slot::kExpect},
    {"mandatory", AttrKind::kFlag, false, Slot::kMandatory},
};

constexpr OpTypeSpec kTcpOps[] = {
    {"tcp.connect", kRequiredArguments, &ExecuteTcpConnect, true, true,
     &ValidateWith<ConnectArgs, &ReadConnect>},
    {"tcp.send", kRequiredArguments, &ExecuteTcpSend, true, true,
     &ValidateWith<SendArgs, &ReadSend>},
    {"tcp.receive", kReceiveAttributes, &ExecuteTcpReceive, true, true,
     &ValidateWith<ReceiveArgs, &ReadReceive>},
    {"tcp.close", kOptionalArguments, &ExecuteTcpClose, false, true,
     &ValidateWith<OpParts, &ReadClose>},
};

}  // namespace

std::span<const OpTypeSpec> TcpOpTypes() { return kTcpOps; }

}  // namespace testrund::ops
