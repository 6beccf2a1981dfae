// SPDX-License-Identifier: Apache-2.0
// Readers of the arguments http and jsonrpc share (see http_args.h).
#include "ops/protocol/http_args.h"

#include <cctype>
#include <utility>

#include <fmt/format.h>

namespace testrund::ops {

bool IsHttpToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string::npos)) {
      return false;
    }
  }
  return true;
}

void ReadUrl(ArgCheck& check, const rapidjson::Value& args, bool allow_tcp, Url* url,
             std::string* text) {
  const rapidjson::Value* value = Member(args, "url");
  if (value == nullptr) {
    check.Add("arguments.url", "missing required attribute \"arguments.url\"");
    return;
  }
  if (!ReadString(check, args, "url", "arguments.url", text)) return;
  Result<Url> parsed = ParseUrl(*text, allow_tcp);
  if (!parsed.ok()) {
    check.Add("arguments.url",
              fmt::format("\"arguments.url\" must be an {} URL: {}, got {}",
                          allow_tcp ? "http://, https://, tcp:// or tls://" : "http:// or https://",
                          parsed.message(), QuotedString(*text)));
    return;
  }
  *url = std::move(parsed.value());
}

void ReadHeaders(ArgCheck& check, const rapidjson::Value& args, HeaderList* out) {
  const rapidjson::Value* headers = Member(args, "headers");
  if (headers == nullptr || check.Deferred(*headers)) return;
  if (!headers->IsObject()) {
    check.Add("arguments.headers",
              fmt::format("\"arguments.headers\" must be an object, got {}", Quoted(*headers)));
    return;
  }
  for (const auto& member : headers->GetObject()) {
    std::string_view name(member.name.GetString(), member.name.GetStringLength());
    std::string field = fmt::format("arguments.headers.{}", name);
    if (!IsHttpToken(name)) {
      check.Add(field, fmt::format("header name {} is not an HTTP token", QuotedString(name)));
      continue;
    }
    if (check.Deferred(member.value)) continue;
    std::string value;
    if (member.value.IsString()) {
      value.assign(member.value.GetString(), member.value.GetStringLength());
    } else if (member.value.IsNumber()) {
      value = Quoted(member.value);
    } else {
      check.Add(field, fmt::format("header {} must be a string, got {}", QuotedString(name),
                                   Quoted(member.value)));
      continue;
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      check.Add(field, fmt::format("header {} must not contain CR or LF", QuotedString(name)));
      continue;
    }
    out->emplace_back(std::string(name), std::move(value));
  }
}

void ReadHttpTarget(ArgCheck& check, const rapidjson::Value& args, bool allow_tcp, Url* url,
                    std::string* url_text, MonoNs* timeout, std::string* timeout_text,
                    TlsOptions* tls, HeaderList* headers) {
  ReadUrl(check, args, allow_tcp, url, url_text);
  ReadTimeout(check, args, "arguments.timeout", kDefaultHttpTimeout, timeout, timeout_text);
  bool tls_enabled = false;
  ReadTls(check, args, "arguments.tls", &tls_enabled, tls);
  ReadHeaders(check, args, headers);
}

}  // namespace testrund::ops
