// SPDX-License-Identifier: Apache-2.0
// Url: the target of an http or jsonrpc op, split by libhttp-parser's URL parser
// (http_parser_parse_url): scheme http, https, or tcp / tls (jsonrpc's length-prefixed
// framing, plain or inside TLS), host, port (default 80 / 443; required for tcp and tls),
// and the request target (path plus query, "/" when empty).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ops/base/status.h"

namespace testrund::ops {

struct Url {
  std::string scheme;  // "http", "https", "tcp" or "tls"
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;
  std::string target;  // "/path?query"
  bool tls() const { return scheme == "https" || scheme == "tls"; }
  // tcp:// or tls://: the length-prefixed framing instead of HTTP.
  bool framed() const { return scheme == "tcp" || scheme == "tls"; }
  // "host:port" as a Host header writes it (brackets around an IPv6 host).
  std::string HostHeader() const;
};

// Parses `text`. `allow_tcp`: tcp://host:port and tls://host:port are accepted (jsonrpc),
// without a path. Error: a sentence naming what is wrong ("unknown scheme \"ftp\"", "no
// host", "port 0 out of range", "tcp:// needs a port", "not a URL"); the caller adds the
// attribute and the value.
Result<Url> ParseUrl(std::string_view text, bool allow_tcp);

}  // namespace testrund::ops
