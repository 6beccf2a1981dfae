// SPDX-License-Identifier: Apache-2.0
// SipDialog: one instance's SIP dialog and its transaction layer (docs/protocol-ops.md#sip),
// the InstanceSocket of the sip.* ops (ops/protocol/op_sip.cpp). It sends through the run's
// SipEndpoint, or over the instance's own TCP connection, and takes the messages of its
// Call-ID from the endpoint.
//
// The transaction layer (RFC 3261 §17), over UDP:
//   - it retransmits its requests: Timer A/E, T1 = 500 ms doubling, to T2 = 4 s for
//     non-INVITE, 64×T1 at most;
//   - as a UAS, it retransmits its 2xx to INVITE until the ACK comes (§13.3.1.4);
//   - it ACKs a non-2xx final response to INVITE itself (§17.1.1.3);
//   - it sends its ACK again when a 2xx comes again (§13.2.2.4);
//   - it sends its last response again when a request comes again;
//   - it absorbs the SUT's retransmissions.
// The run's `sip` counters tell each kind apart.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "ops/base/clock.h"
#include "ops/base/event_handles.h"
#include "ops/base/status.h"
#include "ops/protocol/op_protocol.h"
#include "ops/protocol/sip_endpoint.h"
#include "ops/sip/sip_message.h"

namespace testrund::ops {

class IoContext;

// A message the dialog received, as the waiting sip.receive takes it.
struct SipReceived {
  sip::Message message;
  std::string raw;
  SipPeer from;
};

// The sip.receive waiting on a dialog (op_sip.cpp's SipReceivePending).
class SipWaiter {
 public:
  virtual ~SipWaiter() = default;
  // Messages were queued: take what ends the wait.
  virtual void Offer() = 0;
  // The instance's TCP connection failed or brought what is not SIP: the instance aborts.
  virtual void Fail(const std::string& text) = 0;
};

// Something the dialog re-sends until it is answered: a request (client transaction) or a
// UAS's 2xx to INVITE.
enum class SipResend : uint8_t {
  kNone,
  kInvite,     // Timer A: doubles without a cap; stops at any response
  kNonInvite,  // Timer E: doubles up to T2; stops at a final response
  kOk,         // a UAS's 2xx to INVITE: doubles up to T2; stops at the ACK
};

// RFC 3261 §17.1.1.1: T1 (the round-trip estimate) and T2 (the longest interval).
constexpr MonoNs kSipT1 = kNsPerSecond / 2;
constexpr MonoNs kSipT2 = 4 * kNsPerSecond;

struct SipRetransmission {
  std::string bytes;
  SipResend kind = SipResend::kNone;
  MonoNs interval = kSipT1;
  MonoNs started = 0;
};

class SipDialog final : public InstanceSocket, public SipSink {
 public:
  SipDialog(SipEndpoint& endpoint, Clock& clock) : endpoint_(endpoint), clock_(clock) {}
  ~SipDialog() override {
    if (!call_id_.empty()) endpoint_.Unregister(call_id_, this);
    if (waiting_for_request_) endpoint_.Unwait(this);  // a linear walk: only when listed
    if (stream_ && stream_error_.empty()) endpoint_.Linger(std::move(stream_));
  }

  void OnSipMessage(sip::Message message, std::string_view raw, const SipPeer& from) override;

  // Sends `bytes` (a request of this dialog, or a response) to `to`, and re-sends them as
  // `kind` says until answered.
  Status Send(const std::string& bytes, const SipPeer& to, SipResend kind);

  // The message the waiting sip.receive takes next, if one is queued.
  std::optional<SipReceived> Take() {
    if (queue_.empty()) return std::nullopt;
    SipReceived out = std::move(queue_.front());
    queue_.pop_front();
    return out;
  }
  void set_waiter(SipWaiter* waiter) { waiter_ = waiter; }

  // Over TCP: the instance's own connection to `to` (RFC 3261 §18: responses come back on
  // it). Error: the socket cannot be made.
  Status Connect(IoContext& io, const SipPeer& to);
  bool streaming() const { return stream_ != nullptr; }
  // Where the connection's messages come from: its local "IP:PORT" (for Via and Contact).
  const std::string& stream_host_port() const { return stream_host_port_; }
  // Why the connection ended, once it did (the next sip op aborts with it).
  const std::string& stream_error() const { return stream_error_; }
  void WaitForRequest() {
    if (call_id_.empty() && !waiting_for_request_) {
      waiting_for_request_ = true;
      endpoint_.Wait(this);
    }
  }

  SipEndpoint& endpoint_;
  Clock& clock_;
  std::string call_id_;
  std::string local_tag_;
  std::string remote_tag_;
  std::string local_uri_;        // From of our requests
  std::string remote_uri_;       // To of our requests
  std::string remote_target_;    // the Contact of the peer (in-dialog requests' Request-URI)
  std::optional<SipPeer> peer_;  // where the dialog's messages go
  uint32_t cseq_ = 0;
  uint32_t invite_cseq_ = 0;
  std::string invite_uri_;
  std::string invite_branch_;
  std::string invite_bytes_;       // for the ACK of a non-2xx
  std::set<int> invite_statuses_;  // responses to the INVITE seen
  std::string ack_bytes_;          // the scenario's ACK of a 2xx, re-sent if the 2xx comes again
  std::string auto_ack_bytes_;     // our ACK of a non-2xx final response
  std::string tx_branch_;          // the client transaction in progress (not the INVITE)
  std::string tx_method_;
  std::set<int> tx_statuses_;
  std::optional<sip::Message> last_request_;  // what a response answers
  std::string last_response_bytes_;
  uint32_t ok_invite_cseq_ = 0;  // a UAS's 2xx to INVITE waits for its ACK
  bool waiting_for_request_ = false;

  // Whether a final response to the INVITE is still awaited.
  bool AwaitingInviteFinal() const {
    return !invite_branch_.empty() && !invite_statuses_.empty() ? *invite_statuses_.rbegin() < 200
                                                                : !invite_branch_.empty();
  }

 private:
  void OnResponse(sip::Message message, std::string_view raw, const SipPeer& from);
  void OnRequest(sip::Message message, std::string_view raw, const SipPeer& from);
  void Deliver(sip::Message message, std::string_view raw, const SipPeer& from);
  void AckNonSuccess(const sip::Message& response);
  void StopRetransmitting() {
    if (timer_) timer_->Cancel();
    retransmission_.reset();
  }
  void OnRetransmitTimer();

  static void OnStreamRead(bufferevent* bev, void* arg);
  static void OnStreamEvent(bufferevent* bev, short events, void* arg);
  void StreamFailed(std::string text);

  std::deque<SipReceived> queue_;
  SipWaiter* waiter_ = nullptr;
  BuffereventPtr stream_;
  SipPeer stream_peer_;
  std::string stream_host_port_;
  std::string stream_in_;
  std::string stream_error_;
  std::optional<SipRetransmission> retransmission_;
  SipPeer retransmit_to_;
  std::unique_ptr<Timer> timer_;
};

}  // namespace testrund::ops
