// SPDX-License-Identifier: Apache-2.0
// Transport addresses (see sip_address.h).
#include "ops/sip/sip_address.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

namespace testrund::ops::sip {

std::string TransportAddress::HostPort() const {
  bool v6 = host.find(':') != std::string::npos;
  return v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::string TransportAddress::Text() const {
  return fmt::format("{}://{}", transport == Transport::kUdp ? "udp" : "tcp", HostPort());
}

bool IsNumericHost(std::string_view host) {
  std::string text(host);
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

std::optional<TransportAddress> ParseTransportAddress(std::string_view text, bool port_zero_ok) {
  TransportAddress out;
  if (text.starts_with("udp://")) {
    out.transport = Transport::kUdp;
  } else if (text.starts_with("tcp://")) {
    out.transport = Transport::kTcp;
  } else {
    return std::nullopt;
  }
  text.remove_prefix(6);
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) return std::nullopt;
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
    port = text.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  if (!IsNumericHost(host)) return std::nullopt;
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value > 65535 ||
      (value == 0 && !port_zero_ok)) {
    return std::nullopt;
  }
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(value);
  return out;
}

}  // namespace testrund::ops::sip
