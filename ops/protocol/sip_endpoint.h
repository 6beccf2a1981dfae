// SPDX-License-Identifier: Apache-2.0
// SipEndpoint: a run's one SIP socket (docs/protocol-ops.md#sip). Every instance of the run
// sends from it and receives on it, so 100,000 concurrent calls need one descriptor, not
// 100,000. What arrives is parsed once and handed by Call-ID to the instance whose dialog
// it belongs to (a SipSink). What belongs to no one is answered or dropped here, and
// counted:
//   - bytes that are not SIP, or over 64 KiB: dropped (`malformed`);
//   - a request with a To tag for an unknown Call-ID (a stray BYE): 481 (RFC 3261 §12.2.2);
//   - a new request (no To tag) with no instance waiting to answer one: 503 (`rejected`),
//     else it goes to the instance that has waited longest in such a sip.receive;
//   - a response for an unknown Call-ID, an ACK for one: dropped (`unmatched`).
// With a tcp:// local address it also accepts TCP connections: their messages are read as a
// stream and dispatched the same way, and answers go back on the connection.
// It is the run's RunIo: created by the first sip op, destroyed after the run's instances.
#pragma once

#include <event2/bufferevent.h>
#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ops/base/event_handles.h"
#include "ops/base/status.h"
#include "ops/instance.h"
#include "ops/sip/sip_address.h"
#include "ops/sip/sip_ids.h"
#include "ops/sip/sip_message.h"
#include "ops/stats/run_snapshot.h"

namespace testrund::ops {

// A peer address; over TCP also the accepted connection it came on (0: none, UDP).
struct SipPeer {
  sockaddr_storage address{};
  socklen_t length = 0;
  uint64_t connection = 0;
  // "127.0.0.1:5060".
  std::string Text() const;
};
// The peer at numeric `host` and `port`; error: `host` is not a numeric address.
Result<SipPeer> PeerAt(const std::string& host, uint16_t port);

using SipCounters = SipSummary;  // ops/stats/run_snapshot.h

// An instance's side of the endpoint: its dialog (ops/protocol/op_sip.cpp).
class SipSink {
 public:
  virtual ~SipSink() = default;
  // A message of this sink's Call-ID (or a new request given to it as a waiting UAS).
  // `raw` are its bytes as received.
  virtual void OnSipMessage(sip::Message message, std::string_view raw, const SipPeer& from) = 0;
};

class SipEndpoint final : public RunIo {
 public:
  // Binds a UDP socket to `local` (port 0: an ephemeral port) on `base`, and for a tcp://
  // `local` also listens there for TCP connections (the same port number). Error: the
  // cause.
  static Result<std::unique_ptr<SipEndpoint>> Open(event_base* base,
                                                   const sip::TransportAddress& local);
  ~SipEndpoint() override;
  void AddTo(RunSnapshot& out) const override { out.sip = counters_; }

  // The bound address (its real port).
  const sip::TransportAddress& local() const { return local_; }
  // local().HostPort(), made once: every message's Via and Contact name it.
  const std::string& local_host_port() const { return local_host_port_; }
  sip::IdSource& ids() { return ids_; }
  SipCounters& counters() { return counters_; }
  const SipCounters& counters() const { return counters_; }

  // Messages of `call_id` go to `sink` until Unregister (the sink must unregister before
  // it is destroyed). A Call-ID already taken is taken over.
  void Register(const std::string& call_id, SipSink* sink);
  void Unregister(const std::string& call_id, SipSink* sink);
  // `sink` waits for a new request (a UAS's first sip.receive): the longest waiting gets the
  // next one. Unwait: it stopped waiting (or is going away).
  void Wait(SipSink* sink);
  void Unwait(SipSink* sink);

  // Keeps a TCP connection an ended instance opened (RFC 3261 §18: the peer may still be
  // in a call's last state on it; SIPp counts a call whose connection closes during its
  // final pause as failed) until the peer closes it, or for kLingerSeconds without traffic.
  // What arrives on it is dropped (`unmatched`).
  void Linger(BuffereventPtr stream);
  static constexpr int kLingerSeconds = 32;  // 64×T1

  // Sends one datagram to `to`, or over `to.connection` when it came on an accepted TCP
  // connection. Error: the cause (a full socket buffer included: the transaction's
  // retransmission covers it over UDP; a connection that is gone).
  Status Send(std::string_view bytes, const SipPeer& to);

 private:
  SipEndpoint(int fd, sip::TransportAddress local);
  static void OnReadable(evutil_socket_t fd, short, void* arg);
  void Dispatch(std::string_view bytes, const SipPeer& from);
  void DispatchOrphan(sip::Message message, std::string_view raw, const SipPeer& from);
  // A stateless answer to `request`: its Via, From, To (with a tag), Call-ID and CSeq.
  void Answer(const sip::Message& request, int status, std::string_view reason, const SipPeer& to);

  int fd_;
  sip::TransportAddress local_;
  std::string local_host_port_;
  sip::IdSource ids_;
  SipCounters counters_;
  EventPtr readable_;
  std::unordered_map<std::string, SipSink*> sinks_;
  std::deque<SipSink*> waiting_;
  static void OnAccept(evconnlistener* listener, evutil_socket_t fd, sockaddr* peer, int length,
                       void* arg);
  static void OnConnectionRead(bufferevent* bev, void* arg);
  static void OnConnectionEvent(bufferevent* bev, short events, void* arg);
  struct Connection {
    BuffereventPtr bev;
    SipPeer peer;
    std::string in;
  };
  ListenerPtr listener_;
  std::unordered_map<uint64_t, Connection> connections_;
  std::unordered_map<bufferevent*, uint64_t> connection_ids_;
  uint64_t next_connection_ = 1;
  void Dispatch(sip::Message message, std::string_view raw, const SipPeer& from);
  static void OnLingerRead(bufferevent* bev, void* arg);
  static void OnLingerEvent(bufferevent* bev, short events, void* arg);
  std::unordered_map<bufferevent*, BuffereventPtr> lingering_;
  std::string buffer_;
};

// The endpoint of the run `ctx` executes in, opened on first use at the run's `sip.local`.
// Error: the socket cannot be opened (the text names the address).
class OpContext;
Result<SipEndpoint*> EndpointOf(OpContext& ctx);

}  // namespace testrund::ops
