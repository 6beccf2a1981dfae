// SPDX-License-Identifier: Apache-2.0
// The tcp.* ops (issue 4): one TCP connection per instance, plain or TLS, kept in its
// InstanceIo from tcp.connect to tcp.close or the end of the instance, whatever the end.
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

#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "ops/base/length_prefix.h"
#include "ops/protocol/op_protocol.h"
#include "ops/op_table.h"
#include "ops/run.h"
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
    bufferevent_setcb(bev_.get(), &TcpStream::OnRead, &TcpStream::OnWrite, &TcpStream::OnEvent,
                      this);
    // Reading pauses once a whole message (and its prefix) could be buffered.
    bufferevent_setwatermark(bev_.get(), EV_READ, 0, kMaxMessageBytes + 4);
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
  evbuffer* input() const { return bufferevent_get_input(bev_.get()); }
  size_t unsent() const { return evbuffer_get_length(bufferevent_get_output(bev_.get())); }
  void Write(std::string_view bytes) { bufferevent_write(bev_.get(), bytes.data(), bytes.size()); }

 private:
  static void OnRead(bufferevent*, void* arg) { static_cast<TcpStream*>(arg)->Notify(); }
  static void OnWrite(bufferevent*, void* arg) { static_cast<TcpStream*>(arg)->Notify(); }
  static void OnEvent(bufferevent* bev, short events, void* arg) {
    auto* self = static_cast<TcpStream*>(arg);
    if (events & BEV_EVENT_CONNECTED) {
      self->connected_ = true;
    } else if ((events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR)) {
      self->eof_ = true;
    } else if (self->error_.empty()) {
      self->error_ = SocketErrorText(bev, events);
    }
    self->Notify();
  }
  void Notify() {
    if (waiter_ != nullptr) waiter_->OnStreamChange();
  }

  Endpoint endpoint_;
  BuffereventPtr bev_;
  StreamWaiter* waiter_ = nullptr;
  bool connected_ = false;
  bool eof_ = false;
  std::string error_;
};

TcpStream* StreamOf(Instance& instance) {
  if (!instance.io) return nullptr;
  return static_cast<TcpStream*>(instance.io->tcp.get());
}

// A tcp op parked on the instance's stream. Stops listening before it completes, so that a
// spent wait never hears of the stream again.
class TcpPending : public PendingIo, public StreamWaiter {
 public:
  TcpPending(Run& run, Instance& instance, const Op& op, TcpStream* stream)
      : PendingIo(run, instance, op), stream_(stream), endpoint_(stream->endpoint()) {
    stream_->SetWaiter(this);
  }
  ~TcpPending() override { Detach(); }

 protected:
  void Detach() {
    if (stream_ != nullptr) stream_->SetWaiter(nullptr);
    stream_ = nullptr;
  }
  // Ends the op with an abort `text`.
  void Fail(std::string text) {
    Detach();
    Complete([this, text = std::move(text)] {
      run().Abort(instance(), op(), text);
      return false;
    });
  }
  // The timeout fired: the connection is closed (the instance aborts).
  void OnTimeout() override {
    Detach();
    IoOf(instance()).tcp.reset();
  }

  TcpStream* stream_;
  Endpoint endpoint_;
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

// Takes one message off `input` when it is complete: *wire is every byte it used, *message
// the message itself. kTooLong: *problem says why it can never be complete.
Cut CutMessage(const Framing& framing, evbuffer* input, std::string* message,
               std::string* wire, std::string* problem) {
  size_t have = evbuffer_get_length(input);
  size_t take = 0;
  size_t skip = 0;
  switch (framing.mode) {
    case Framing::Mode::kLength:
      if (have < framing.length) return Cut::kNeedMore;
      take = framing.length;
      break;
    case Framing::Mode::kDelimiter: {
      evbuffer_ptr at = evbuffer_search(input, framing.delimiter.data(), framing.delimiter.size(),
                                        nullptr);
      if (at.pos < 0) {
        if (have < kMaxMessageBytes) return Cut::kNeedMore;
        *problem = fmt::format("no delimiter within {} bytes", kMaxMessageBytes);
        return Cut::kTooLong;
      }
      take = static_cast<size_t>(at.pos) + framing.delimiter.size();
      break;
    }
    case Framing::Mode::kLengthPrefix: {
      if (have < framing.prefix_bytes) return Cut::kNeedMore;
      unsigned char prefix[4];
      evbuffer_copyout(input, prefix, framing.prefix_bytes);
      uint64_t announced = ReadBigEndian(prefix, framing.prefix_bytes);
      if (announced > kMaxMessageBytes) {
        *problem = fmt::format("length prefix announces {} bytes, more than {}", announced,
                               kMaxMessageBytes);
        return Cut::kTooLong;
      }
      skip = framing.prefix_bytes;
      take = skip + announced;
      if (have < take) return Cut::kNeedMore;
      break;
    }
  }
  wire->resize(take);
  evbuffer_remove(input, wire->data(), take);
  message->assign(*wire, skip);
  return Cut::kMessage;
}

class ReceivePending final : public TcpPending {
 public:
  ReceivePending(Run& run, Instance& instance, const Op& op, TcpStream* stream, Framing framing,
                 rapidjson::Document expect, bool mandatory)
      : TcpPending(run, instance, op, stream),
        framing_(std::move(framing)),
        expect_(std::move(expect)),
        mandatory_(mandatory) {}

  // Looks at what is buffered already on the next loop turn (never inside the executor).
  void CheckSoon(IoContext& io) {
    ready_.reset(event_new(io.base(), -1, 0, &ReceivePending::OnReady, this));
    event_active(ready_.get(), EV_TIMEOUT, 1);
  }

 private:
  static void OnReady(evutil_socket_t, short, void* arg) {
    static_cast<ReceivePending*>(arg)->OnStreamChange();
  }

  void OnStreamChange() override {
    if (stream_ == nullptr || finished()) return;
    std::string problem;
    Cut cut = CutMessage(framing_, stream_->input(), &message_, &wire_, &problem);
    std::string from = endpoint_.Text();
    if (cut == Cut::kMessage) {
      Detach();
      Complete([this] {
        return RecordReceived(run(), instance(), op(), "tcp", endpoint_, message_, wire_,
                              expect_, mandatory_);
      });
    } else if (cut == Cut::kTooLong) {
      Fail(fmt::format("TCP receive from {} failed: {}", from, problem));
    } else if (!stream_->error().empty()) {
      Fail(fmt::format("TCP receive from {} failed: {}", from, stream_->error()));
    } else if (stream_->eof()) {
      size_t buffered = evbuffer_get_length(stream_->input());
      Fail(buffered == 0
               ? fmt::format("TCP receive from {} failed: connection closed by peer", from)
               : fmt::format("TCP receive from {} failed: connection closed by peer after {} "
                             "bytes of an incomplete message",
                             from, buffered));
    }
  }

  Framing framing_;
  rapidjson::Document expect_;
  bool mandatory_;
  std::string message_;
  std::string wire_;
  EventPtr ready_;
};

// --- Arguments -----------------------------------------------------------------------------

struct ConnectArgs {
  Endpoint endpoint;
  bool tls = false;
  TlsOptions tls_options;
  MonoNs timeout = 0;
  std::string timeout_text;
};

void ReadConnectArgs(ArgCheck& check, const rapidjson::Value& args, ConnectArgs* out) {
  CheckKnownKeys(check, args, "arguments", {"host", "port", "tls", "timeout"});
  ReadEndpoint(check, args, &out->endpoint);
  ReadTls(check, args, "arguments.tls", &out->tls, &out->tls_options);
  ReadTimeout(check, args, "arguments.timeout", kDefaultSocketTimeout, &out->timeout,
              &out->timeout_text);
}

struct SendArgs {
  std::string bytes;
  MonoNs timeout = 0;
  std::string timeout_text;
};

void ReadSendArgs(ArgCheck& check, const rapidjson::Value& args, SendArgs* out) {
  CheckKnownKeys(check, args, "arguments", {"hex", "text", "timeout"});
  ReadPayload(check, args, &out->bytes);
  ReadTimeout(check, args, "arguments.timeout", kDefaultSocketTimeout, &out->timeout,
              &out->timeout_text);
}

struct ReceiveArgs {
  Framing framing;
  MonoNs timeout = 0;
  std::string timeout_text;
};

void ReadLength(ArgCheck& check, const rapidjson::Value& value, size_t* out) {
  if (check.Deferred(value)) return;
  if (!value.IsUint64() || value.GetUint64() < 1 || value.GetUint64() > kMaxMessageBytes) {
    check.Add("arguments.length",
              fmt::format("\"arguments.length\" must be an integer from 1 to {}, got {}",
                          kMaxMessageBytes, Quoted(value)));
    return;
  }
  *out = value.GetUint64();
}

void ReadDelimiter(ArgCheck& check, const rapidjson::Value& value, std::string* out) {
  if (check.Deferred(value)) return;
  if (value.IsString() && value.GetStringLength() > 0) {
    std::string_view s(value.GetString(), value.GetStringLength());
    if (s.size() >= 2 && s[0] == '\\' && s[1] == '{') s.remove_prefix(1);  // escaped `\{`
    out->assign(s);
    return;
  }
  const rapidjson::Value* hex = value.IsObject() && value.MemberCount() == 1
                                    ? Member(value, "hex")
                                    : nullptr;
  if (hex == nullptr) {
    check.Add("arguments.delimiter",
              fmt::format("\"arguments.delimiter\" must be a non-empty string or "
                          "{{\"hex\": \"<hex digits>\"}}, got {}",
                          Quoted(value)));
    return;
  }
  if (check.Deferred(*hex)) return;
  if (!hex->IsString() || hex->GetStringLength() == 0 ||
      !HexDecode(std::string_view(hex->GetString(), hex->GetStringLength()), out)) {
    check.Add("arguments.delimiter.hex",
              fmt::format("\"arguments.delimiter.hex\" must be a non-empty, even number of hex "
                          "digits, got {}",
                          Quoted(*hex)));
  }
}

void ReadReceiveArgs(ArgCheck& check, const rapidjson::Value& args, ReceiveArgs* out) {
  CheckKnownKeys(check, args, "arguments", {"length", "delimiter", "length_prefix", "timeout"});
  const rapidjson::Value* length = Member(args, "length");
  const rapidjson::Value* delimiter = Member(args, "delimiter");
  const rapidjson::Value* prefix = Member(args, "length_prefix");
  int modes = (length != nullptr) + (delimiter != nullptr) + (prefix != nullptr);
  Framing& framing = out->framing;
  if (modes == 0) {
    check.Add("arguments",
              "\"arguments\" needs one of \"length\", \"delimiter\" and \"length_prefix\"");
  } else if (modes > 1) {
    check.Add("arguments", "\"arguments\" must have only one of \"length\", \"delimiter\" and "
                           "\"length_prefix\"");
  } else if (length != nullptr) {
    framing.mode = Framing::Mode::kLength;
    ReadLength(check, *length, &framing.length);
  } else if (delimiter != nullptr) {
    framing.mode = Framing::Mode::kDelimiter;
    ReadDelimiter(check, *delimiter, &framing.delimiter);
  } else if (!check.Deferred(*prefix)) {
    framing.mode = Framing::Mode::kLengthPrefix;
    if (!prefix->IsUint() ||
        (prefix->GetUint() != 1 && prefix->GetUint() != 2 && prefix->GetUint() != 4)) {
      check.Add("arguments.length_prefix",
                fmt::format("\"arguments.length_prefix\" must be 1, 2 or 4, got {}",
                            Quoted(*prefix)));
    } else {
      framing.prefix_bytes = prefix->GetUint();
    }
  }
  ReadTimeout(check, args, "arguments.timeout", kDefaultSocketTimeout, &out->timeout,
              &out->timeout_text);
}

// Aborts a send or receive that has no connection.
StepOutcome NoConnection(Run& run, Instance& instance, const Op& op) {
  run.Abort(instance, op,
            fmt::format("{} needs a TCP connection: run tcp.connect first", op.type->name));
  return StepOutcome::kFinished;
}

}  // namespace

// --- Validators ----------------------------------------------------------------------------

void ValidateTcpConnect(const rapidjson::Value& op_json, int op_idx, Problems* problems) {
  ArgCheck check(op_idx, problems);
  if (const rapidjson::Value* args = ObjectAttribute(check, op_json, "arguments", true)) {
    ConnectArgs ignored;
    ReadConnectArgs(check, *args, &ignored);
  }
  CheckUnused(check, op_json, "expect", "tcp.connect");
  CheckUnused(check, op_json, "mandatory", "tcp.connect");
}

void ValidateTcpSend(const rapidjson::Value& op_json, int op_idx, Problems* problems) {
  ArgCheck check(op_idx, problems);
  if (const rapidjson::Value* args = ObjectAttribute(check, op_json, "arguments", true)) {
    SendArgs ignored;
    ReadSendArgs(check, *args, &ignored);
  }
  CheckUnused(check, op_json, "expect", "tcp.send");
  CheckUnused(check, op_json, "mandatory", "tcp.send");
}

void ValidateTcpReceive(const rapidjson::Value& op_json, int op_idx, Problems* problems) {
  ArgCheck check(op_idx, problems);
  if (const rapidjson::Value* args = ObjectAttribute(check, op_json, "arguments", true)) {
    ReceiveArgs ignored;
    ReadReceiveArgs(check, *args, &ignored);
  }
  if (const rapidjson::Value* expect = ObjectAttribute(check, op_json, "expect", false)) {
    CheckMessageExpect(check, *expect);
  }
  CheckMandatory(check, op_json);
}

void ValidateTcpClose(const rapidjson::Value& op_json, int op_idx, Problems* problems) {
  ArgCheck check(op_idx, problems);
  if (const rapidjson::Value* args = ObjectAttribute(check, op_json, "arguments", false)) {
    CheckKnownKeys(check, *args, "arguments", {});
  }
  CheckUnused(check, op_json, "expect", "tcp.close");
  CheckUnused(check, op_json, "mandatory", "tcp.close");
}

// --- Executors -----------------------------------------------------------------------------

StepOutcome ExecuteTcpConnect(Run& run, Instance& instance, const Op& op) {
  rapidjson::Document args;
  rapidjson::Document expect;
  bool mandatory = false;
  if (!EvaluateSocketOp(run, instance, op, &args, &expect, &mandatory)) {
    return StepOutcome::kFinished;
  }
  ArgCheck check;
  ConnectArgs parsed;
  ReadConnectArgs(check, args, &parsed);
  if (!AbortOnProblem(run, instance, op, check)) return StepOutcome::kFinished;
  InstanceIo& io = IoOf(instance);
  io.pending.reset();  // the previous op's spent wait, before the stream it knew goes
  io.tcp.reset();      // a second connect closes the first connection
  auto stream = std::make_unique<TcpStream>(parsed.endpoint);
  Status opened = stream->Open(*run.io(), parsed.tls, parsed.tls_options);
  if (!opened.ok()) {
    run.Abort(instance, op, fmt::format("TCP connect to {} failed: {}",
                                        parsed.endpoint.Text(), opened.message()));
    return StepOutcome::kFinished;
  }
  TcpStream* s = stream.get();
  io.tcp = std::move(stream);
  auto pending = std::make_unique<ConnectPending>(run, instance, op, s);
  ConnectPending* p = pending.get();
  io.pending = std::move(pending);
  p->Park(parsed.timeout, fmt::format("TCP connect to {} timed out after {} seconds",
                                      parsed.endpoint.Text(), parsed.timeout_text));
  return StepOutcome::kParked;
}

StepOutcome ExecuteTcpSend(Run& run, Instance& instance, const Op& op) {
  rapidjson::Document args;
  rapidjson::Document expect;
  bool mandatory = false;
  if (!EvaluateSocketOp(run, instance, op, &args, &expect, &mandatory)) {
    return StepOutcome::kFinished;
  }
  ArgCheck check;
  SendArgs parsed;
  ReadSendArgs(check, args, &parsed);
  if (!AbortOnProblem(run, instance, op, check)) return StepOutcome::kFinished;
  TcpStream* stream = StreamOf(instance);
  if (stream == nullptr) return NoConnection(run, instance, op);
  const Endpoint& endpoint = stream->endpoint();
  if (!stream->error().empty()) {
    run.Abort(instance, op,
              fmt::format("TCP send to {} failed: {}", endpoint.Text(), stream->error()));
    return StepOutcome::kFinished;
  }
  TraceSocketMessage(run, instance, op, "tcp", true, endpoint, parsed.bytes);
  auto pending = std::make_unique<SendPending>(run, instance, op, stream);
  SendPending* p = pending.get();
  IoOf(instance).pending = std::move(pending);
  std::string timeout_text = fmt::format("TCP send to {} timed out after {} seconds",
                                         endpoint.Text(), parsed.timeout_text);
  stream->Write(parsed.bytes);  // the write callback reports the drained output later
  p->Park(parsed.timeout, std::move(timeout_text));
  return StepOutcome::kParked;
}

StepOutcome ExecuteTcpReceive(Run& run, Instance& instance, const Op& op) {
  rapidjson::Document args;
  rapidjson::Document expect;
  bool mandatory = false;
  if (!EvaluateSocketOp(run, instance, op, &args, &expect, &mandatory)) {
    return StepOutcome::kFinished;
  }
  ArgCheck check;
  ReceiveArgs parsed;
  ReadReceiveArgs(check, args, &parsed);
  if (expect.IsObject()) CheckMessageExpect(check, expect);
  if (!AbortOnProblem(run, instance, op, check)) return StepOutcome::kFinished;
  TcpStream* stream = StreamOf(instance);
  if (stream == nullptr) return NoConnection(run, instance, op);
  std::string timeout_text = fmt::format("TCP receive from {} timed out after {} seconds",
                                         stream->endpoint().Text(), parsed.timeout_text);
  auto pending = std::make_unique<ReceivePending>(run, instance, op, stream,
                                                  std::move(parsed.framing), std::move(expect),
                                                  mandatory);
  ReceivePending* p = pending.get();
  IoOf(instance).pending = std::move(pending);
  p->Park(parsed.timeout, std::move(timeout_text));
  p->CheckSoon(*run.io());
  return StepOutcome::kParked;
}

StepOutcome ExecuteTcpClose(Run& run, Instance& instance, const Op& op) {
  (void)run;
  (void)op;
  if (instance.io) {
    instance.io->pending.reset();  // a spent wait may still know the stream
    instance.io->tcp.reset();
  }
  ++instance.pc;
  return StepOutcome::kNext;
}

}  // namespace testrund::ops
