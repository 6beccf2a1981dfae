// SPDX-License-Identifier: Apache-2.0
// The sip.* ops (docs/protocol-ops.md#sip): each instance holds one dialog (SipDialog, its
// InstanceSocket) on the run's one UDP socket (SipEndpoint).
//
//   sip.send     arguments: a request (method*, uri, target, headers, body) or a response to
//                the last request received (status*, reason, headers, body). The daemon
//                fills Via (a fresh branch), From (a tag), To, Call-ID, CSeq, Max-Forwards,
//                Contact, Content-Length (Content-Type application/sdp for a body); a header
//                given by the user wins. Sends at once (no wait).
//   sip.receive  arguments: timeout (s, default 5). expect: status (a number or a list),
//                method, header ({name: text it contains}), body_contains; mandatory.
//                i.sip = {status, reason, method, uri, headers, body}.
//
// The dialog and its transaction layer are ops/protocol/sip_dialog.h.
#include <event2/event.h>
#include <fmt/format.h>

#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ops/base/concat.h"
#include "ops/base/json_numbers.h"
#include "ops/base/json_writer.h"
#include "ops/op_table.h"
#include "ops/protocol/op_protocol.h"
#include "ops/protocol/protocol_ops.h"
#include "ops/protocol/sip_dialog.h"
#include "ops/protocol/sip_endpoint.h"
#include "ops/sip/sip_address.h"
#include "ops/sip/sip_headers.h"
#include "ops/sip/sip_message.h"
#include "ops/sip/sip_writer.h"

namespace testrund::ops {
namespace {

constexpr double kDefaultSipTimeout = 5;

// A sip.tester_to_sut / sip.sut_to_tester trace entry: the message's hex and text, and its
// peer. The peer's text is written only when the entry is kept (an instance that is no
// candidate for a summary keeps none).
void TraceSip(OpContext& ctx, bool to_sut, std::string_view bytes, const SipPeer& peer) {
  TraceLog::EntryRef entry = TraceMessage(ctx, "sip", to_sut, bytes);
  if (!entry) return;
  entry.SetString("text", bytes).SetString("peer", peer.Text());
}

// --- sip.receive's wait ---------------------------------------------------------------

struct ReceiveArgs : OpParts {
  MonoNs timeout = 0;
  std::string timeout_text;
  std::vector<int> statuses;
  std::optional<std::string> method;
  std::vector<std::pair<std::string, std::string>> header;
  std::optional<std::string> body_contains;
};

class SipReceivePending final : public PendingIo, public SipWaiter {
 public:
  SipReceivePending(const OpContext& ctx, std::shared_ptr<const ReceiveArgs> args,
                    SipDialog& dialog)
      : PendingIo(ctx), args_(std::move(args)), dialog_(dialog) {}
  ~SipReceivePending() override {
    if (!finished()) dialog_.set_waiter(nullptr);
  }

  // Takes queued messages: a 1xx not asked for is passed over; anything else ends the wait.
  void Offer() override {
    if (finished()) return;
    while (std::optional<SipReceived> next = dialog_.Take()) {
      const sip::Message& m = next->message;
      if (!m.is_request && m.status < 200 && !Listed(m.status)) {
        // While parked, the instance's step already counts the next op (Run::Execute); a
        // message of this op's wait belongs to the op's own step, as FinishIo has it.
        Instance& instance = ctx().instance();
        --instance.step;
        TraceReceived(*next);
        ++instance.step;
        continue;
      }
      dialog_.set_waiter(nullptr);
      // Kept here, so that the callback captures only `this` (no allocation of its own).
      received_ = std::move(next);
      Complete([this] { return Record(*received_); });
      return;
    }
  }

  // The instance's TCP connection failed or brought what is not SIP: the instance aborts.
  void Fail(const std::string& text) override {
    if (finished()) return;
    dialog_.set_waiter(nullptr);
    Complete([this, text] {
      ctx().Abort(text);
      return false;
    });
  }

  // Messages already queued are offered from the loop, after the instance parked.
  void Start(event_base* base) {
    soon_.reset(event_new(base, -1, 0, &SipReceivePending::OnSoon, this));
    event_active(soon_.get(), EV_TIMEOUT, 1);
  }

 private:
  static void OnSoon(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<SipReceivePending*>(arg);
    self->Offer();
    if (!self->finished() && !self->dialog_.stream_error().empty()) {
      self->Fail(self->dialog_.stream_error());
    }
  }
  bool Listed(int status) const {
    for (int s : args_->statuses) {
      if (s == status) return true;
    }
    return false;
  }
  void TraceReceived(const SipReceived& r) { TraceSip(ctx(), false, r.raw, r.from); }
  bool Record(const SipReceived& r);
  void OnTimeout() override {
    dialog_.set_waiter(nullptr);
    soon_.reset();
  }

  std::shared_ptr<const ReceiveArgs> args_;
  SipDialog& dialog_;
  EventPtr soon_;
  std::optional<SipReceived> received_;  // the message that ended the wait
};

std::string StatusList(const std::vector<int>& statuses) {
  std::string out;
  for (size_t k = 0; k < statuses.size(); ++k) {
    if (k > 0) out += k + 1 == statuses.size() ? " or " : ", ";
    out += std::to_string(statuses[k]);
  }
  return out;
}

// i.sip's `headers`: {name: value}, compact names in their full form, repeated headers
// joined by ", " (RFC 3261 §7.3.1).
rapidjson::Value HeadersObject(const sip::Message& m, rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Value headers(rapidjson::kObjectType);
  for (const sip::Header& h : m.headers) {
    std::string_view name = sip::FullName(h.name);
    rapidjson::Value key(name.data(), static_cast<rapidjson::SizeType>(name.size()), alloc);
    auto it = headers.FindMember(key);
    if (it != headers.MemberEnd()) {
      std::string joined = fmt::format("{}, {}", it->value.GetString(), h.value);
      it->value.SetString(joined.data(), static_cast<rapidjson::SizeType>(joined.size()), alloc);
      continue;
    }
    headers.AddMember(
        key,
        rapidjson::Value(h.value.data(), static_cast<rapidjson::SizeType>(h.value.size()), alloc),
        alloc);
  }
  return headers;
}

bool SipReceivePending::Record(const SipReceived& r) {
  OpContext& c = ctx();
  TraceReceived(r);
  const sip::Message& m = r.message;
  // i.sip is built only when some code of the run may read it.
  if (c.lua().may_read_inbound()) {
    rapidjson::Document inbound(rapidjson::kObjectType);
    auto& alloc = inbound.GetAllocator();
    auto text = [&](const std::string& s) {
      return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
    };
    if (m.is_request) {
      inbound.AddMember("method", text(m.method), alloc);
      inbound.AddMember("uri", text(m.uri), alloc);
    } else {
      inbound.AddMember("status", m.status, alloc);
      inbound.AddMember("reason", text(m.reason), alloc);
    }
    inbound.AddMember("headers", HeadersObject(m, alloc), alloc);
    inbound.AddMember("body", text(m.body), alloc);
    if (!SetInbound(c, "sip", inbound)) return false;
  }

  const ReceiveArgs& a = *args_;
  const bool mandatory = a.mandatory;
  if (!a.statuses.empty()) {
    std::string wanted = StatusList(a.statuses);
    if (m.is_request) {
      if (!Expectation(c, mandatory, false,
                       fmt::format("SIP {} request received where status {} was expected", m.method,
                                   wanted))) {
        return false;
      }
    } else if (!Expectation(c, mandatory, Listed(m.status),
                            Concat("SIP status ", std::to_string(m.status),
                                   Listed(m.status) ? " is " : " is not ", wanted))) {
      return false;
    }
  }
  if (a.method) {
    bool passed = m.is_request && m.method == *a.method;
    std::string got = m.is_request ? m.method : fmt::format("a {} response", m.status);
    if (!Expectation(
            c, mandatory, passed,
            fmt::format("SIP method {} {} {}", got, passed ? "is" : "is not", *a.method))) {
      return false;
    }
  }
  for (const auto& [name, contains] : a.header) {
    const std::string* value = m.Find(name);
    bool passed = value != nullptr && value->find(contains) != std::string::npos;
    std::string text = value == nullptr ? fmt::format("SIP header {} is absent", name)
                                        : fmt::format("SIP header {} {} {}", name,
                                                      passed ? "contains" : "does not contain",
                                                      JsonString(contains));
    if (!Expectation(c, mandatory, passed, text)) return false;
  }
  if (a.body_contains) {
    bool passed = m.body.find(*a.body_contains) != std::string::npos;
    if (!Expectation(c, mandatory, passed,
                     fmt::format("SIP body {} {}", passed ? "contains" : "does not contain",
                                 JsonString(*a.body_contains)))) {
      return false;
    }
  }
  return true;
}

// --- sip.send -----------------------------------------------------------------------------

struct SendArgs : OpParts {
  std::string method;  // a request, or
  int status = 0;      // a response
  std::string reason;
  std::optional<std::string> uri;
  std::optional<sip::TransportAddress> target;
  std::vector<sip::Header> headers;
  std::string body;
};

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("-.!%*_+`'~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// The reason phrase of the usual statuses (RFC 3261 §21).
std::string_view DefaultReason(int status) {
  switch (status) {
    case 100:
      return "Trying";
    case 180:
      return "Ringing";
    case 181:
      return "Call Is Being Forwarded";
    case 182:
      return "Queued";
    case 183:
      return "Session Progress";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 480:
      return "Temporarily Unavailable";
    case 481:
      return "Call/Transaction Does Not Exist";
    case 486:
      return "Busy Here";
    case 487:
      return "Request Terminated";
    case 488:
      return "Not Acceptable Here";
    case 500:
      return "Server Internal Error";
    case 503:
      return "Service Unavailable";
    case 603:
      return "Decline";
    default:
      return status < 200 ? "Session Progress" : status < 300 ? "OK" : "Error";
  }
}

void ReadSend(ParamReader& args, ParamReader& /*expect*/, SendArgs* out) {
  args.UnknownMembers({"method", "uri", "target", "status", "reason", "headers", "body"});
  const bool has_method = args.Get("method") != nullptr;
  const bool has_status = args.Get("status") != nullptr;
  if (has_method && has_status) {
    args.AddProblem("status",
                    "and method exclude each other: a request has a method, a "
                    "response a status");
  } else if (!has_method && !has_status) {
    args.AddProblem("method", "is required (a request), or status (a response)");
  }
  if (auto method = ReadLiteral(args, "method")) {
    if (IsToken(*method))
      out->method = *method;
    else
      args.WrongType("method", "a SIP method (a token such as \"INVITE\")", *args.Get("method"));
  }
  if (auto status = args.OptionalInt("status", {.min = 100, .max = 699})) {
    out->status = static_cast<int>(*status);
  }
  if (auto reason = ReadLiteral(args, "reason")) {
    if (has_method)
      args.AddProblem("reason", "is for a response (with status)");
    else if (HasLineBreak(*reason))
      args.AddProblem("reason", "must not contain CR or LF");
    else
      out->reason = *reason;
  }
  if (auto uri = ReadLiteral(args, "uri")) {
    if (has_status) {
      args.AddProblem("uri", "is for a request (with method)");
    } else if (!sip::UriHostPort(*uri) &&
               (uri->find(':') == std::string::npos || HasLineBreak(*uri) ||
                uri->find(' ') != std::string::npos)) {
      args.WrongType("uri", "a SIP URI (\"sip:user@host:port\")", *args.Get("uri"));
    } else {
      out->uri = *uri;
    }
  }
  if (auto target = ReadLiteral(args, "target")) {
    auto address = sip::ParseTransportAddress(*target, false);
    if (!address) {
      args.WrongType("target", "an address \"udp://IP:PORT\" or \"tcp://IP:PORT\"",
                     *args.Get("target"));
    } else {
      out->target = *address;
    }
  }
  if (const rapidjson::Value* headers = args.OptionalObject("headers")) {
    ParamReader h(*headers, args, "headers");
    for (auto it = headers->MemberBegin(); it != headers->MemberEnd(); ++it) {
      std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (!IsToken(name)) {
        h.AddProblem(name, "is not a header name (a token)");
        continue;
      }
      auto value = ReadLiteral(h, name);
      if (!value) continue;
      if (HasLineBreak(*value)) {
        h.AddProblem(name, "must not contain CR or LF");
        continue;
      }
      out->headers.push_back({std::string(name), *value});
    }
  }
  if (auto body = ReadLiteral(args, "body")) out->body = *body;
}

StepOutcome Abort(OpContext& ctx, const std::string& text) {
  ctx.Abort(text);
  return StepOutcome::kFinished;
}

// The instance's dialog on the run's endpoint, each made on first use; nullptr when the
// socket cannot be opened (the instance is then aborted).
SipDialog* DialogOrAbort(OpContext& ctx) {
  Result<SipEndpoint*> endpoint = EndpointOf(ctx);
  if (!endpoint.ok()) {
    ctx.Abort(fmt::format("SIP socket cannot be opened: {}", endpoint.message()));
    return nullptr;
  }
  ProtocolIo& io = IoOf(ctx.instance());
  if (!io.sip) io.sip = std::make_unique<SipDialog>(**endpoint, ctx.clock());
  return static_cast<SipDialog*>(io.sip.get());
}

StepOutcome SendRequest(OpContext& ctx, const SendArgs& args, SipEndpoint& endpoint, SipDialog& d) {
  const std::string& method = args.method;
  const bool ack = method == "ACK";
  const bool cancel = method == "CANCEL";
  std::string uri;
  if (args.uri)
    uri = *args.uri;
  else if (cancel)
    uri = d.invite_uri_;  // RFC 3261 §9.1: the INVITE's Request-URI
  else if (!d.remote_target_.empty())
    uri = d.remote_target_;
  else
    uri = d.invite_uri_;
  if (uri.empty()) {
    return Abort(ctx, fmt::format("sip.send of {} needs arguments.uri: the dialog has no remote "
                                  "target yet",
                                  method));
  }
  SipPeer to;
  if (args.target) {
    Result<SipPeer> peer = PeerAt(args.target->host, args.target->port);
    if (!peer.ok()) return Abort(ctx, peer.message());
    to = *peer;
  } else if (d.peer_) {
    to = *d.peer_;
  } else {
    std::optional<sip::HostPort> hp = sip::UriHostPort(uri);
    if (!hp || !sip::IsNumericHost(hp->host)) {
      return Abort(ctx, fmt::format("sip.send of {} needs arguments.target: the host of {} is "
                                    "not a numeric address",
                                    method, JsonString(uri)));
    }
    Result<SipPeer> peer = PeerAt(hp->host, hp->port);
    if (!peer.ok()) return Abort(ctx, peer.message());
    to = *peer;
  }

  if (!d.stream_error().empty()) return Abort(ctx, d.stream_error());
  // A dialog that came on a connection the run accepted answers on it.
  const bool accepted = !args.target && d.peer_ && d.peer_->connection != 0;
  const bool tcp =
      accepted || (args.target ? args.target->transport == sip::Transport::kTcp : d.streaming());
  if (tcp && !accepted && !d.streaming()) {
    if (Status connected = d.Connect(*ctx.io(), to); !connected.ok()) {
      return Abort(ctx,
                   fmt::format("SIP connection to {} failed: {}", to.Text(), connected.message()));
    }
  }
  const std::string& local = d.streaming() ? d.stream_host_port() : endpoint.local_host_port();
  const std::string_view via_transport = tcp ? "TCP" : "UDP";
  const std::string_view contact_suffix = tcp ? ";transport=tcp" : "";
  if (d.local_tag_.empty()) d.local_tag_ = endpoint.ids().Tag();
  if (d.local_uri_.empty()) d.local_uri_ = Concat("<sip:testrund@", local, ">");
  if (d.remote_uri_.empty()) d.remote_uri_ = Concat("<", uri, ">");
  const bool first = d.call_id_.empty();
  std::string call_id = first ? endpoint.ids().CallId(endpoint.local().host) : d.call_id_;
  uint32_t cseq = ack || cancel ? d.invite_cseq_ : ++d.cseq_;
  std::string branch = cancel ? d.invite_branch_ : endpoint.ids().Branch();

  sip::MessageWriter w(args.headers, args.body.size());
  w.RequestLine(method, uri);
  w.Field("Via", "SIP/2.0/", via_transport, " ", local, ";branch=", branch, ";rport");
  w.Field("From", d.local_uri_, ";tag=", d.local_tag_);
  if (d.remote_tag_.empty() || cancel) {
    w.Field("To", d.remote_uri_);
  } else {
    w.Field("To", d.remote_uri_, ";tag=", d.remote_tag_);
  }
  w.Field("Call-ID", call_id);
  w.Field("CSeq", std::to_string(cseq), " ", method);
  w.Field("Max-Forwards", "70");
  if (!ack && !cancel && method != "BYE") {
    w.Field("Contact", "<sip:testrund@", local, contact_suffix, ">");
  }
  if (!args.body.empty()) w.Field("Content-Type", "application/sdp");
  w.Field("Content-Length", std::to_string(args.body.size()));

  // What the user wrote wins, and the dialog follows it.
  if (const std::string* user_call_id = w.User("Call-ID")) call_id = *user_call_id;
  if (const std::string* via = w.User("Via")) {
    if (auto b = sip::Param(sip::TopVia(*via), "branch")) branch = std::string(*b);
  }
  if (const std::string* c = w.User("CSeq")) {
    if (auto parsed = sip::ParseCSeq(*c)) cseq = parsed->number;
  }
  if (first || call_id != d.call_id_) {
    if (!d.call_id_.empty()) d.endpoint_.Unregister(d.call_id_, &d);
    d.call_id_ = call_id;
    endpoint.Register(call_id, &d);
  }
  std::string bytes = w.Finish(args.body);
  if (bytes.size() > sip::kMaxMessageBytes) {
    return Abort(ctx, fmt::format("sip.send of {}: a message of {} bytes is over the {}-byte limit",
                                  method, bytes.size(), sip::kMaxMessageBytes));
  }
  d.peer_ = to;
  if (method == "INVITE") {
    d.invite_cseq_ = cseq;
    d.invite_uri_ = uri;
    d.invite_branch_ = branch;
    d.invite_bytes_ = bytes;
    d.invite_statuses_.clear();
    d.ack_bytes_.clear();
    d.auto_ack_bytes_.clear();
  } else if (ack) {
    d.ack_bytes_ = bytes;
  } else {
    d.tx_branch_ = branch;
    d.tx_method_ = method;
    d.tx_statuses_.clear();
  }
  Status sent = d.Send(bytes, to,
                       ack                  ? SipResend::kNone
                       : method == "INVITE" ? SipResend::kInvite
                                            : SipResend::kNonInvite);
  if (!sent.ok()) {
    return Abort(ctx,
                 fmt::format("SIP send of {} to {} failed: {}", method, to.Text(), sent.message()));
  }
  TraceSip(ctx, true, bytes, to);
  ++ctx.instance().pc;
  return StepOutcome::kNext;
}

StepOutcome SendResponse(OpContext& ctx, const SendArgs& args, SipEndpoint& endpoint,
                         SipDialog& d) {
  if (!d.last_request_ || d.last_request_->method == "ACK") {
    return Abort(ctx, "sip.send of a response needs a request to answer: run sip.receive first");
  }
  const sip::Message& request = *d.last_request_;
  if (d.local_tag_.empty()) d.local_tag_ = endpoint.ids().Tag();
  const bool invite = request.method == "INVITE";
  sip::MessageWriter w(args.headers, args.body.size());
  w.StatusLine(args.status, args.reason.empty() ? DefaultReason(args.status) : args.reason);
  w.Fields("Via", request.FindAll("Via"));
  if (const std::string* from = request.Find("From")) w.Field("From", *from);
  if (const std::string* to = request.Find("To")) {
    if (args.status > 100 && !sip::Param(*to, "tag")) {
      w.Field("To", *to, ";tag=", d.local_tag_);
    } else {
      w.Field("To", *to);
    }
  }
  w.Field("Call-ID", *request.Find("Call-ID"));
  w.Field("CSeq", *request.Find("CSeq"));
  if (invite && args.status < 300) {
    const bool tcp = d.peer_ && d.peer_->connection != 0;
    w.Field("Contact", "<sip:testrund@", endpoint.local_host_port(), tcp ? ";transport=tcp" : "",
            ">");
  }
  if (!args.body.empty()) w.Field("Content-Type", "application/sdp");
  w.Field("Content-Length", std::to_string(args.body.size()));
  std::string bytes = w.Finish(args.body);
  if (bytes.size() > sip::kMaxMessageBytes) {
    return Abort(ctx, fmt::format("sip.send of {}: a message of {} bytes is over the {}-byte limit",
                                  args.status, bytes.size(), sip::kMaxMessageBytes));
  }
  const SipPeer to = d.peer_.value_or(SipPeer{});
  const bool retransmit = invite && args.status >= 200 && args.status < 300;
  if (retransmit) {
    if (auto cseq = sip::ParseCSeq(*request.Find("CSeq"))) d.ok_invite_cseq_ = cseq->number;
  }
  d.last_response_bytes_ = bytes;
  Status sent = d.Send(bytes, to, retransmit ? SipResend::kOk : SipResend::kNone);
  if (!sent.ok()) {
    return Abort(ctx, fmt::format("SIP send of {} to {} failed: {}", args.status, to.Text(),
                                  sent.message()));
  }
  TraceSip(ctx, true, bytes, to);
  ++ctx.instance().pc;
  return StepOutcome::kNext;
}

StepOutcome ExecuteSipSend(OpContext& ctx) {
  std::shared_ptr<const SendArgs> args = ReadOp(ctx, &ReadSend);
  if (args == nullptr) return StepOutcome::kFinished;
  SipDialog* dialog = DialogOrAbort(ctx);
  if (dialog == nullptr) return StepOutcome::kFinished;
  return args->status != 0 ? SendResponse(ctx, *args, dialog->endpoint_, *dialog)
                           : SendRequest(ctx, *args, dialog->endpoint_, *dialog);
}

// --- sip.receive --------------------------------------------------------------------------

void ReadReceive(ParamReader& args, ParamReader& expect, ReceiveArgs* out) {
  args.UnknownMembers({"timeout"});
  ReadTimeout(args, kDefaultSipTimeout, &out->timeout, &out->timeout_text);
  expect.UnknownMembers({"status", "method", "header", "body_contains"});
  if (const rapidjson::Value* status = expect.Get("status"); status && !expect.Deferred(*status)) {
    if (status->IsArray()) {
      if (status->Empty()) expect.AddProblem("status", "must list at least one status");
      for (rapidjson::SizeType k = 0; k < status->Size(); ++k) {
        const rapidjson::Value& s = (*status)[k];
        if (s.IsInt() && s.GetInt() >= 100 && s.GetInt() <= 699) {
          out->statuses.push_back(s.GetInt());
        } else if (!expect.Deferred(s)) {
          expect.AddProblem(fmt::format("status.{}", k),
                            fmt::format("must be a status 100-699, got {}", QuoteValue(s)));
        }
      }
    } else if (auto single = expect.OptionalInt("status", {.min = 100, .max = 699})) {
      out->statuses.push_back(static_cast<int>(*single));
    }
  }
  if (auto method = ReadLiteral(expect, "method")) {
    if (IsToken(*method))
      out->method = *method;
    else
      expect.WrongType("method", "a SIP method (a token such as \"BYE\")", *expect.Get("method"));
  }
  if (const rapidjson::Value* header = expect.OptionalObject("header")) {
    ParamReader h(*header, expect, "header");
    for (auto it = header->MemberBegin(); it != header->MemberEnd(); ++it) {
      std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (auto text = ReadLiteral(h, name)) out->header.emplace_back(std::string(name), *text);
    }
  }
  if (auto body = ReadLiteral(expect, "body_contains")) out->body_contains = *body;
}

StepOutcome ExecuteSipReceive(OpContext& ctx) {
  std::shared_ptr<const ReceiveArgs> args = ReadOp(ctx, &ReadReceive);
  if (args == nullptr) return StepOutcome::kFinished;
  SipDialog* found = DialogOrAbort(ctx);
  if (found == nullptr) return StepOutcome::kFinished;
  SipDialog& dialog = *found;
  std::string waiting_for;
  // A connection that already failed is reported by the wait (OnSoon), after it parked.
  if (dialog.call_id_.empty()) {
    dialog.WaitForRequest();
    waiting_for = "a new request";
  } else if (dialog.AwaitingInviteFinal()) {
    waiting_for = "a final response to INVITE";
  } else {
    waiting_for = Concat("a message of call ", dialog.call_id_);
  }
  std::string timeout_text = Concat("SIP receive timed out after ", args->timeout_text,
                                    " seconds waiting for ", waiting_for);
  MonoNs timeout = args->timeout;
  auto pending = std::make_unique<SipReceivePending>(ctx, std::move(args), dialog);
  SipReceivePending* p = pending.get();
  IoOf(ctx.instance()).pending = std::move(pending);
  dialog.set_waiter(p);
  p->Start(ctx.io()->base());
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

constexpr OpTypeSpec kSipOps[] = {
    {"sip.send", kSendAttributes, &ExecuteSipSend, false, true, &ValidateWith<SendArgs, &ReadSend>},
    {"sip.receive", kReceiveAttributes, &ExecuteSipReceive, true, true,
     &ValidateWith<ReceiveArgs, &ReadReceive>},
};

}  // namespace

std::span<const OpTypeSpec> SipOpTypes() { return kSipOps; }

}  // namespace testrund::ops
