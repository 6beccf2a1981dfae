// SPDX-License-Identifier: Apache-2.0
// Transport addresses of the sip ops (docs/protocol-ops.md#sip): `udp://HOST:PORT` or
// `tcp://HOST:PORT`, as ExecuteTest's `sip.local` and sip.send's `target` are written.
// HOST is a numeric IPv4 address, an IPv6 address in brackets, or `localhost`
// (127.0.0.1): the sip ops resolve no names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace testrund::ops::sip {

enum class Transport : uint8_t { kUdp, kTcp };

struct TransportAddress {
  Transport transport = Transport::kUdp;
  std::string host;  // numeric, without brackets
  uint16_t port = 0;
  // "udp://127.0.0.1:5060" ("udp://[::1]:5060").
  std::string Text() const;
  // "127.0.0.1:5060" ("[::1]:5060"): the host-port of a Via or Contact.
  std::string HostPort() const;
};

// Reads `udp://HOST:PORT` / `tcp://HOST:PORT`. `port_zero_ok`: port 0 (an ephemeral one,
// for a local address) is accepted. nullopt: not such an address.
std::optional<TransportAddress> ParseTransportAddress(std::string_view text, bool port_zero_ok);

// Whether `host` is a numeric IPv4 or IPv6 address.
bool IsNumericHost(std::string_view host);

}  // namespace testrund::ops::sip
