// SPDX-License-Identifier: Apache-2.0
// WebhookAllowList: parsing the option's entries and matching a URL host (see
// webhook_allow.h).
#include "ops/report/webhook_allow.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace testrund::ops {
namespace {

using Network = WebhookAllowList::Network;

constexpr std::string_view kSeparators = ", \t\r\n";

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `text` as a network of its full length, or nullopt when it is not an IPv4 or IPv6
// literal. inet_pton takes dotted-quad IPv4 only: "127.1" or "0x7f.0.0.1" are not literals
// here (so they can only match a name, which they never are).
std::optional<Network> ParseAddress(std::string_view text) {
  std::string z(text);  // inet_pton reads a C string
  Network address;
  if (inet_pton(AF_INET, z.c_str(), address.bytes.data()) == 1) {
    address.prefix = 32;
    return address;
  }
  if (inet_pton(AF_INET6, z.c_str(), address.bytes.data()) == 1) {
    address.v6 = true;
    address.prefix = 128;
    return address;
  }
  return std::nullopt;
}

std::string AddressText(const Network& network) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(network.v6 ? AF_INET6 : AF_INET, network.bytes.data(), text, sizeof(text));
  return text;
}

// The bits of byte `i` inside a prefix of `prefix` bits.
uint8_t PrefixMask(int prefix, int i) {
  int bits = std::clamp(prefix - 8 * i, 0, 8);
  return static_cast<uint8_t>(0xff00 >> bits);
}

// `network` with every bit past its prefix cleared.
Network Masked(Network network) {
  for (int i = 0; i < 16; ++i) network.bytes[i] &= PrefixMask(network.prefix, i);
  return network;
}

bool Contains(const Network& network, const Network& address) {
  if (network.v6 != address.v6) return false;
  for (int i = 0; i < 16; ++i) {
    uint8_t mask = PrefixMask(network.prefix, i);
    if ((network.bytes[i] & mask) != (address.bytes[i] & mask)) return false;
  }
  return true;
}

// The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), or nullopt.
std::optional<Network> MappedV4(const Network& address) {
  static constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0,    0,
                                                            0, 0, 0, 0, 0xff, 0xff};
  if (!address.v6 ||
      !std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), address.bytes.begin())) {
    return std::nullopt;
  }
  Network v4;
  std::copy(address.bytes.begin() + 12, address.bytes.end(), v4.bytes.begin());
  v4.prefix = 32;
  return v4;
}

Result<Network> ParseCidr(std::string_view entry, size_t slash) {
  auto bad = [&](std::string_view why) {
    return Status::Error(fmt::format("\"{}\" is not a CIDR network: {}", entry, why));
  };
  std::string_view address_text = entry.substr(0, slash);
  std::optional<Network> network = ParseAddress(address_text);
  if (!network) {
    return bad(fmt::format("\"{}\" is not an IPv4 or IPv6 address", address_text));
  }
  int max = network->prefix;
  std::string_view prefix_text = entry.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] =
      std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
  bool digits_only =
      !prefix_text.empty() && std::all_of(prefix_text.begin(), prefix_text.end(),
                                          [](char c) { return c >= '0' && c <= '9'; });
  if (!digits_only || ec != std::errc() || prefix < 0 || prefix > max) {
    return bad(fmt::format("the prefix length must be 0 to {}", max));
  }
  network->prefix = prefix;
  // 10.0.0.1/8 is most likely a typo (of 10.0.0.1/32 or of 10.0.0.0/8): refuse it rather
  // than guess which was meant.
  Network masked = Masked(*network);
  if (masked != *network) {
    return bad(fmt::format("bits are set past the /{} prefix (the network is {}/{})", prefix,
                           AddressText(masked), prefix));
  }
  return *network;
}

// A DNS host name: labels of letters, digits, '-' and '_' joined by dots, at most 253
// characters. A last label of digits only is refused: such a text is a mistyped address
// ("10.0.0") that the resolver would read as one, not a name.
bool IsHostName(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::string_view last_label;
  for (std::string_view rest = text;;) {
    size_t dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (label.empty() || label.size() > 63) return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    last_label = label;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  return !std::all_of(last_label.begin(), last_label.end(),
                      [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<WebhookAllowList> WebhookAllowList::Parse(std::string_view text) {
  WebhookAllowList list;
  list.networks_.clear();
  list.names_.clear();
  for (std::string_view rest = text; !rest.empty();) {
    size_t end = rest.find_first_of(kSeparators);
    std::string_view entry = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (entry.empty()) continue;  // "a, b": a comma and a space
    if (size_t slash = entry.find('/'); slash != std::string_view::npos) {
      Result<Network> network = ParseCidr(entry, slash);
      if (!network.ok()) return network.status();
      list.networks_.push_back(network.value());
    } else if (std::optional<Network> address = ParseAddress(entry)) {
      list.networks_.push_back(*address);
    } else if (IsHostName(entry)) {
      list.names_.push_back(Lower(entry));
    } else {
      return Status::Error(
          fmt::format("\"{}\" is not an IP address, a CIDR network or a host name", entry));
    }
  }
  return list;
}

bool WebhookAllowList::Allows(std::string_view host) const {
  if (std::optional<Network> address = ParseAddress(host)) {
    std::optional<Network> v4 = MappedV4(*address);
    for (const Network& network : networks_) {
      if (Contains(network, *address) || (v4 && Contains(network, *v4))) return true;
    }
    return false;
  }
  // A name is matched as written, never resolved: the addresses a name has when
  // ExecuteTest is checked need not be the ones it has when the POST connects (seconds or
  // hours later, and on every retry), and whoever controls the name's DNS could switch
  // them in between (DNS rebinding). So the operator lists the names they trust.
  std::string lower = Lower(host);
  return std::find(names_.begin(), names_.end(), lower) != names_.end();
}

}  // namespace testrund::ops
