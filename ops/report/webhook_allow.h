// SPDX-License-Identifier: Apache-2.0
// WebhookAllowList: where a run's webhook reporters may POST, from the daemon's
// `webhook_allow` option (docs/configuration.md). A reporter's URL comes from whoever may
// call ExecuteTest; without this list that caller could make the daemon send requests to
// any address it can reach (the metadata service of a cloud host, an internal admin port).
// So ExecuteTest refuses a reporter whose URL host the list does not allow.
//
// The list holds IPv4/IPv6 addresses, networks in CIDR form (10.0.0.0/8, fd00::/8) and host
// names. A URL host that is an IP literal is matched against the addresses and networks
// only; any other host against the names only, exactly and ignoring case. Names are never
// resolved to be matched (see Allows in webhook_allow.cpp for why).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/status.h"

namespace testrund::ops {

class WebhookAllowList {
 public:
  // One address or network of the list: an address is a network of its full length.
  struct Network {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};  // network byte order; IPv4 in the first 4
    int prefix = 0;                   // 0-32 or 0-128
    bool operator==(const Network&) const = default;
  };

  // The option's default: loopback only, so that a daemon nobody configured posts nowhere
  // else.
  static constexpr std::string_view kDefaultText = "127.0.0.0/8,::1,localhost";

  // Parses the option's text: entries separated by commas and/or white space (an empty
  // text allows nothing). Each is an IPv4 or IPv6 address (no brackets, no zone), a CIDR
  // network whose address has no bits set past its prefix, or a host name (letters, digits,
  // '-', '_' and '.'; no empty label; not all digits after the last dot). Error: one
  // sentence quoting the first bad entry, e.g. "\"10.0.0.0/33\" is not a CIDR network: the
  // prefix length must be 0 to 32".
  static Result<WebhookAllowList> Parse(std::string_view text);

  // The default list, kDefaultText, built without parsing so that every holder of the
  // engine's limits (ops/engine_limits.h) has it without linking this folder; the unit test
  // checks that it equals Parse(kDefaultText).
  WebhookAllowList()
      : networks_{{.v6 = false, .bytes = {127}, .prefix = 8},
                  {.v6 = true,
                   .bytes = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                   .prefix = 128}},
        names_{"localhost"} {}

  // Whether a reporter may POST to `host`, a URL's host as ops/net/url.h gives it (IPv6
  // without brackets). An IPv4-mapped IPv6 address (::ffff:127.0.0.1) also matches the
  // IPv4 entries: it reaches the same host.
  bool Allows(std::string_view host) const;

  // Nothing is allowed (the option was set empty).
  bool empty() const { return networks_.empty() && names_.empty(); }

  bool operator==(const WebhookAllowList&) const = default;

 private:
  std::vector<Network> networks_;
  std::vector<std::string> names_;  // lower case
};

}  // namespace testrund::ops
