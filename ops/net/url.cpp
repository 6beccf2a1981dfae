// SPDX-License-Identifier: Apache-2.0
// ParseUrl (see url.h) on libhttp-parser's URL parser.
#include "ops/net/url.h"

#include <http_parser.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace testrund::ops {

std::string Url::HostHeader() const {
  bool ipv6 = host.find(':') != std::string::npos;
  bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  std::string h = ipv6 ? "[" + host + "]" : host;
  return default_port ? h : fmt::format("{}:{}", h, port);
}

namespace {

// "scheme://" followed by no host ("http://:8080/", "http:///path"), which libhttp-parser
// refuses as a whole: worth its own text rather than "not a URL".
bool HostMissing(std::string_view text) {
  size_t sep = text.find("://");
  if (sep == 0 || sep == std::string_view::npos) return false;
  for (char c : text.substr(0, sep)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  size_t after = sep + 3;
  return after == text.size() || std::string_view(":/?#").find(text[after]) != std::string_view::npos;
}

}  // namespace

Result<Url> ParseUrl(std::string_view text, bool allow_tcp) {
  http_parser_url parsed;
  http_parser_url_init(&parsed);
  if (text.empty() || http_parser_parse_url(text.data(), text.size(), 0, &parsed) != 0) {
    return Status::Error(HostMissing(text) ? "no host" : "not a URL");
  }
  auto field = [&](int f) -> std::string_view {
    if (!(parsed.field_set & (1 << f))) return {};
    return text.substr(parsed.field_data[f].off, parsed.field_data[f].len);
  };
  Url url;
  url.scheme = std::string(field(UF_SCHEMA));
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (url.scheme.empty()) return Status::Error("no scheme (http:// or https://)");
  bool known = url.scheme == "http" || url.scheme == "https" || (allow_tcp && url.framed());
  if (!known) return Status::Error(fmt::format("unknown scheme \"{}\"", url.scheme));
  url.host = std::string(field(UF_HOST));
  if (url.host.empty()) return Status::Error("no host");
  if (parsed.field_set & (1 << UF_USERINFO)) return Status::Error("user info is not supported");
  if (parsed.field_set & (1 << UF_PORT)) {
    if (parsed.port == 0) return Status::Error("port 0 out of range (1-65535)");
    url.port = parsed.port;
  } else if (url.framed()) {
    return Status::Error(fmt::format("{}:// needs a port", url.scheme));
  } else {
    url.port = url.scheme == "https" ? 443 : 80;
  }
  std::string_view path = field(UF_PATH);
  std::string_view query = field(UF_QUERY);
  if (url.framed() && ((!path.empty() && path != "/") || !query.empty())) {
    return Status::Error(fmt::format("{}:// takes no path", url.scheme));
  }
  url.target = fmt::format("{}{}{}", path.empty() ? std::string_view("/") : path,
                           query.empty() ? "" : "?", query);
  return url;
}

}  // namespace testrund::ops
