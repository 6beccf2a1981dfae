// SPDX-License-Identifier: Apache-2.0
// A SIP dialog and its transaction layer (see sip_dialog.h).
#include "ops/protocol/sip_dialog.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>

#include "ops/net/client_socket.h"
#include "ops/net/io_context.h"
#include "ops/sip/sip_headers.h"

namespace testrund::ops {
namespace {

// Messages a dialog keeps for its next sip.receive; more are dropped (`unmatched`).
constexpr size_t kMaxQueued = 32;

}  // namespace

Status SipDialog::Send(const std::string& bytes, const SipPeer& to, SipResend kind) {
  if (stream_) {
    // A reliable transport: nothing is resent (RFC 3261 §17.1.1.2, §17.1.2.2).
    if (bufferevent_write(stream_.get(), bytes.data(), bytes.size()) != 0) {
      return Status::Error("cannot queue the message");
    }
    return Status::Ok();
  }
  Status sent = endpoint_.Send(bytes, to);
  if (kind == SipResend::kNone || to.connection != 0) return sent;  // TCP: nothing is resent
  // A send the socket refused is covered by the retransmission, as a lost datagram is.
  retransmission_ = SipRetransmission{bytes, kind, kSipT1, clock_.Now()};
  retransmit_to_ = to;
  if (!timer_) timer_ = clock_.NewTimer([this] { OnRetransmitTimer(); });
  timer_->ArmAt(clock_.Now() + kSipT1);
  return Status::Ok();
}

void SipDialog::OnRetransmitTimer() {
  if (!retransmission_) return;
  SipRetransmission& r = *retransmission_;
  if (clock_.Now() - r.started >= 64 * kSipT1) {  // Timer B / F / H: the transaction gave up
    retransmission_.reset();
    return;
  }
  (void)endpoint_.Send(r.bytes, retransmit_to_);
  ++endpoint_.counters().retransmissions_sent;
  r.interval = r.kind == SipResend::kInvite ? r.interval * 2 : std::min(r.interval * 2, kSipT2);
  timer_->ArmAt(clock_.Now() + r.interval);
}

Status SipDialog::Connect(IoContext& io, const SipPeer& to) {
  bufferevent* bev = bufferevent_socket_new(io.base(), -1, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) return Status::Error("cannot make a socket");
  stream_.reset(bev);
  stream_peer_ = to;
  bufferevent_setcb(bev, &SipDialog::OnStreamRead, nullptr, &SipDialog::OnStreamEvent, this);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  // A numeric address: connect() is called now, so the local port is known at once (for the
  // first message's Via); what is written before the connection is up is queued.
  if (bufferevent_socket_connect(bev, reinterpret_cast<const sockaddr*>(&to.address),
                                 static_cast<int>(to.length)) != 0) {
    stream_.reset();
    return Status::Error("connection refused");
  }
  SipPeer local;
  local.length = sizeof(local.address);
  getsockname(bufferevent_getfd(bev), reinterpret_cast<sockaddr*>(&local.address), &local.length);
  stream_host_port_ = local.Text();  // "IP:PORT" / "[IP]:PORT", as HostPort() writes it
  return Status::Ok();
}

void SipDialog::OnStreamRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<SipDialog*>(arg);
  evbuffer* input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  size_t at = self->stream_in_.size();
  self->stream_in_.resize(at + length);
  evbuffer_remove(input, self->stream_in_.data() + at, length);
  while (!self->stream_in_.empty()) {
    sip::ParseResult r = sip::Parse(self->stream_in_, sip::Framing::kStream);
    if (r.kind == sip::ParseResult::Kind::kNeedMore) return;
    if (r.kind == sip::ParseResult::Kind::kMalformed) {
      ++self->endpoint_.counters().malformed;
      self->StreamFailed(
          fmt::format("malformed SIP message from {} over TCP: {} at byte {} of "
                      "the message",
                      self->stream_peer_.Text(), r.error, r.offset));
      return;
    }
    std::string raw = self->stream_in_.substr(0, r.consumed);
    self->stream_in_.erase(0, r.consumed);
    if (!r.message.Has("Call-ID") || !r.message.Has("CSeq") || !r.message.Has("Via")) {
      ++self->endpoint_.counters().malformed;
      self->StreamFailed(fmt::format("SIP message from {} over TCP without Call-ID, CSeq or Via",
                                     self->stream_peer_.Text()));
      return;
    }
    // The dialog may end its instance's wait here, never the dialog itself.
    self->OnSipMessage(std::move(r.message), raw, self->stream_peer_);
  }
}

void SipDialog::OnStreamEvent(bufferevent* bev, short events, void* arg) {
  auto* self = static_cast<SipDialog*>(arg);
  if (events & BEV_EVENT_CONNECTED) return;
  self->StreamFailed(fmt::format("SIP connection to {} failed: {}", self->stream_peer_.Text(),
                                 SocketErrorText(bev, events)));
}

void SipDialog::StreamFailed(std::string text) {
  if (!stream_error_.empty()) return;
  stream_error_ = std::move(text);
  bufferevent_disable(stream_.get(), EV_READ);
  if (waiter_ != nullptr) waiter_->Fail(stream_error_);
}

void SipDialog::OnSipMessage(sip::Message message, std::string_view raw, const SipPeer& from) {
  if (message.is_request) {
    OnRequest(std::move(message), raw, from);
  } else {
    OnResponse(std::move(message), raw, from);
  }
}

void SipDialog::OnResponse(sip::Message message, std::string_view raw, const SipPeer& from) {
  std::optional<std::string_view> branch = sip::Param(sip::TopVia(*message.Find("Via")), "branch");
  std::optional<sip::CSeq> cseq = sip::ParseCSeq(*message.Find("CSeq"));
  if (!branch || !cseq) {
    ++endpoint_.counters().unmatched;
    return;
  }
  const int status = message.status;
  const bool to_invite = *branch == invite_branch_ && cseq->method == "INVITE";
  const bool to_tx = *branch == tx_branch_ && cseq->method == tx_method_;
  if (!to_invite && !to_tx) {
    ++endpoint_.counters().unmatched;  // a wrong branch: no transaction of ours
    return;
  }
  std::set<int>& seen = to_invite ? invite_statuses_ : tx_statuses_;
  if (!seen.insert(status).second) {
    ++endpoint_.counters().retransmissions_received;
    if (to_invite && status >= 200 && status < 300 && !ack_bytes_.empty() && peer_) {
      (void)endpoint_.Send(ack_bytes_, *peer_);  // RFC 3261 §13.2.2.4
    } else if (to_invite && status >= 300 && !auto_ack_bytes_.empty()) {
      (void)endpoint_.Send(auto_ack_bytes_, from);
    }
    return;
  }
  // Timer A stops at any response to INVITE; E at a final response.
  if (retransmission_ &&
      ((to_invite && retransmission_->kind == SipResend::kInvite) ||
       (to_tx && status >= 200 && retransmission_->kind == SipResend::kNonInvite))) {
    StopRetransmitting();
  }
  if (const std::string* to = message.Find("To")) {
    if (remote_tag_.empty() && status > 100) {
      if (auto tag = sip::Param(*to, "tag")) remote_tag_ = std::string(*tag);
    }
  }
  if (to_invite && status >= 200 && status < 300) {
    if (const std::string* contact = message.Find("Contact")) {
      remote_target_ = std::string(sip::AddressUri(*contact));
    }
  }
  if (to_invite && status >= 300) AckNonSuccess(message);
  Deliver(std::move(message), raw, from);
}

void SipDialog::AckNonSuccess(const sip::Message& response) {
  // RFC 3261 §17.1.1.3: same Request-URI, Call-ID, From, top Via and CSeq number as the
  // INVITE; the To of the response.
  sip::ParseResult invite = sip::Parse(invite_bytes_, sip::Framing::kDatagram);
  if (invite.kind != sip::ParseResult::Kind::kMessage) return;
  sip::Message ack;
  ack.method = "ACK";
  ack.uri = invite.message.uri;
  if (const std::string* via = invite.message.Find("Via")) {
    ack.headers.push_back({"Via", std::string(sip::TopVia(*via))});
  }
  for (const char* name : {"From", "Call-ID", "Max-Forwards"}) {
    if (const std::string* v = invite.message.Find(name)) ack.headers.push_back({name, *v});
  }
  if (const std::string* to = response.Find("To")) ack.headers.push_back({"To", *to});
  ack.headers.push_back({"CSeq", fmt::format("{} ACK", invite_cseq_)});
  ack.headers.push_back({"Content-Length", "0"});
  auto_ack_bytes_ = sip::Serialize(ack);
  if (peer_) (void)endpoint_.Send(auto_ack_bytes_, *peer_);
}

void SipDialog::OnRequest(sip::Message message, std::string_view raw, const SipPeer& from) {
  std::optional<sip::CSeq> cseq = sip::ParseCSeq(*message.Find("CSeq"));
  if (!cseq) {
    ++endpoint_.counters().malformed;
    return;
  }
  if (message.method == "ACK") {
    if (ok_invite_cseq_ != 0 && cseq->number == ok_invite_cseq_) {
      ok_invite_cseq_ = 0;
      StopRetransmitting();  // the 2xx was received (RFC 3261 §13.3.1.4)
    } else if (last_request_ && last_request_->method == "ACK") {
      ++endpoint_.counters().retransmissions_received;
      return;
    }
  } else if (last_request_ && last_request_->method == message.method) {
    std::optional<sip::CSeq> last = sip::ParseCSeq(*last_request_->Find("CSeq"));
    if (last && last->number == cseq->number) {
      ++endpoint_.counters().retransmissions_received;
      if (!last_response_bytes_.empty()) (void)endpoint_.Send(last_response_bytes_, from);
      return;
    }
  }
  if (call_id_.empty()) {  // a UAS's first request: the dialog takes its identity
    call_id_ = *message.Find("Call-ID");
    waiting_for_request_ = false;
    if (const std::string* f = message.Find("From")) {
      if (auto tag = sip::Param(*f, "tag")) remote_tag_ = std::string(*tag);
      remote_uri_ = *f;
    }
    if (const std::string* t = message.Find("To")) local_uri_ = *t;
    peer_ = from;
  }
  if (message.method == "INVITE") {
    if (const std::string* contact = message.Find("Contact")) {
      remote_target_ = std::string(sip::AddressUri(*contact));
    }
  }
  last_request_ = message;
  last_response_bytes_.clear();
  Deliver(std::move(message), raw, from);
}

void SipDialog::Deliver(sip::Message message, std::string_view raw, const SipPeer& from) {
  if (queue_.size() >= kMaxQueued) {
    ++endpoint_.counters().unmatched;
    return;
  }
  queue_.push_back(SipReceived{std::move(message), std::string(raw), from});
  if (waiter_ != nullptr) waiter_->Offer();
}

}  // namespace testrund::ops
