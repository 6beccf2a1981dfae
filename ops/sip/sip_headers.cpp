// SPDX-License-Identifier: Apache-2.0
// Reading SIP header fields (see sip_headers.h).
#include "ops/sip/sip_headers.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace testrund::ops::sip {
namespace {

// The compact forms (RFC 3261 §7.3.3 and IANA's SIP parameter registry).
constexpr std::array<std::pair<char, std::string_view>, 17> kCompactForms = {{
    {'a', "Accept-Contact"},
    {'b', "Referred-By"},
    {'c', "Content-Type"},
    {'d', "Request-Disposition"},
    {'e', "Content-Encoding"},
    {'f', "From"},
    {'i', "Call-ID"},
    {'j', "Reject-Contact"},
    {'k', "Supported"},
    {'l', "Content-Length"},
    {'m', "Contact"},
    {'o', "Event"},
    {'r', "Refer-To"},
    {'s', "Subject"},
    {'t', "To"},
    {'u', "Allow-Events"},
    {'v', "Via"},
}};

// ASCII only (header names and parameter names are tokens): no locale lookup per byte.
char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EqualNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (LowerAscii(a[k]) != LowerAscii(b[k])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The index of the first `stop` in `s` at or after `from` that is outside a quoted string
// (and, when `angles`, outside <...>), or npos.
size_t FindOutside(std::string_view s, char stop, size_t from, bool angles) {
  // Most values quote nothing (and most have no <...>): then a plain search, which is
  // memchr, is the answer.
  if (s.find('"', from) == std::string_view::npos &&
      (!angles || s.find('<', from) == std::string_view::npos)) {
    return s.find(stop, from);
  }
  bool quoted = false;
  bool in_angle = false;
  for (size_t k = from; k < s.size(); ++k) {
    char c = s[k];
    if (quoted) {
      if (c == '\\')
        ++k;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (c == '"')
      quoted = true;
    else if (angles && c == '<')
      in_angle = true;
    else if (angles && c == '>')
      in_angle = false;
    else if (c == stop && !in_angle)
      return k;
  }
  return std::string_view::npos;
}

// Where a header value's own parameters start: after the name-addr's `>` or, for an
// addr-spec or a Via, at the first `;` outside quotes.
size_t ParamsStart(std::string_view value) {
  size_t open = FindOutside(value, '<', 0, false);
  if (open != std::string_view::npos) {
    size_t close = value.find('>', open);
    if (close == std::string_view::npos) return std::string_view::npos;
    return value.find(';', close);
  }
  return FindOutside(value, ';', 0, false);
}

}  // namespace

std::string_view FullName(std::string_view name) {
  if (name.size() != 1) return name;
  char c = LowerAscii(name[0]);
  for (const auto& [compact, full] : kCompactForms) {
    if (compact == c) return full;
  }
  return name;
}

bool SameName(std::string_view a, std::string_view b) {
  // Only a one-letter (compact) name can equal a name of another length.
  if (a.size() != b.size() && a.size() != 1 && b.size() != 1) return false;
  return EqualNoCase(FullName(a), FullName(b));
}

std::optional<std::string_view> Param(std::string_view value, std::string_view name) {
  // Only the first element of a list (`Via: a;branch=1, b;branch=2`) is read.
  value = value.substr(0, FindOutside(value, ',', 0, true));
  size_t at = ParamsStart(value);
  while (at != std::string_view::npos) {
    size_t next = FindOutside(value, ';', at + 1, false);
    std::string_view param = value.substr(
        at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1);
    size_t equals = param.find('=');
    std::string_view key = Trim(param.substr(0, equals));
    if (EqualNoCase(key, name)) {
      return equals == std::string_view::npos ? std::string_view() : Trim(param.substr(equals + 1));
    }
    at = next;
  }
  return std::nullopt;
}

std::optional<CSeq> ParseCSeq(std::string_view value) {
  value = Trim(value);
  size_t space = value.find_first_of(" \t");
  if (space == std::string_view::npos || space == 0 || space > 10) return std::nullopt;
  uint32_t number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + space, number);
  if (error != std::errc() || end != value.data() + space || number >= (1u << 31)) {
    return std::nullopt;
  }
  std::string_view method = Trim(value.substr(space));
  if (method.empty()) return std::nullopt;
  for (char c : method) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("-.!%*_+`'~").find(c) == std::string_view::npos) {
      return std::nullopt;
    }
  }
  return CSeq{number, method};
}

std::string_view TopVia(std::string_view value) {
  size_t comma = FindOutside(value, ',', 0, false);
  return Trim(value.substr(0, comma));
}

std::string_view AddressUri(std::string_view value) {
  value = Trim(value);
  size_t open = FindOutside(value, '<', 0, false);
  if (open != std::string_view::npos) {
    size_t close = value.find('>', open);
    if (close == std::string_view::npos) return {};
    return Trim(value.substr(open + 1, close - open - 1));
  }
  size_t semicolon = value.find(';');
  return Trim(value.substr(0, semicolon));
}

std::optional<HostPort> UriHostPort(std::string_view uri) {
  uint16_t port = 5060;
  if (uri.size() > 4 && EqualNoCase(uri.substr(0, 4), "sip:")) {
    uri.remove_prefix(4);
  } else if (uri.size() > 5 && EqualNoCase(uri.substr(0, 5), "sips:")) {
    uri.remove_prefix(5);
    port = 5061;
  } else {
    return std::nullopt;
  }
  // userinfo ends at the last '@' before any parameter or header part.
  size_t end = uri.find_first_of(";?");
  std::string_view hostport = uri.substr(0, end);
  size_t at = hostport.rfind('@');
  if (at != std::string_view::npos) hostport.remove_prefix(at + 1);
  HostPort out;
  std::string_view port_text;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    out.host = std::string(hostport.substr(1, close - 1));
    std::string_view rest = hostport.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    size_t colon = hostport.find(':');
    out.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = hostport.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  if (out.host.empty()) return std::nullopt;
  for (char c : out.host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':') {
      return std::nullopt;
    }
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [p, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (error != std::errc() || p != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return std::nullopt;
    }
    port = static_cast<uint16_t>(value);
  }
  out.port = port;
  return out;
}

}  // namespace testrund::ops::sip
