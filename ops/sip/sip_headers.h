// SPDX-License-Identifier: Apache-2.0
// Reading the SIP header fields the sip.* ops act on (RFC 3261 §20): header names in
// their compact and full forms, a field's parameters (`;tag=`, `;branch=`), CSeq, the top
// Via, the URI inside a name-addr (`"Bob" <sip:bob@host>;tag=x`), and the host and port a
// SIP URI points to. Everything here reads text from the system under test: nothing
// trusts it, and a field that does not read is reported, never guessed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace testrund::ops::sip {

// The full form of a header name given in its compact form (`i` -> `Call-ID`, any case;
// RFC 3261 §7.3.3 and the compact forms registered since), else `name` itself.
std::string_view FullName(std::string_view name);
// Whether two header names name the same header (any case, compact or full).
bool SameName(std::string_view a, std::string_view b);

// The value of parameter `name` (any case) of a header value: the `;name=value` pairs after
// the URI of a name-addr or addr-spec, or after the first `;` of a Via. `""` for a
// parameter without a value; nullopt when absent. Quoted strings are skipped whole.
std::optional<std::string_view> Param(std::string_view value, std::string_view name);

struct CSeq {
  uint32_t number = 0;
  std::string_view method;
};
// `CSeq: 314159 INVITE` (RFC 3261 §20.16: a number below 2^31 and a method token).
std::optional<CSeq> ParseCSeq(std::string_view value);

// The first element of a Via value (several may share one header line, comma-separated).
std::string_view TopVia(std::string_view value);

// The URI of a name-addr (`"A" <sip:a@h>;tag=1` -> `sip:a@h`) or an addr-spec
// (`sip:a@h;tag=1` -> `sip:a@h`: its parameters are the header's, RFC 3261 §20.10).
std::string_view AddressUri(std::string_view value);

struct HostPort {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 0;
};
// The host and port of a `sip:` or `sips:` URI (`sip:bob@10.0.0.1:5070;transport=udp`);
// without a port, 5060 (5061 for sips). nullopt: not such a URI.
std::optional<HostPort> UriHostPort(std::string_view uri);

}  // namespace testrund::ops::sip
