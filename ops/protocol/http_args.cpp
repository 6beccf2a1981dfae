// SPDX-License-Identifier: Apache-2.0
// Readers of the arguments http and jsonrpc share (see http_args.h).
#include "ops/protocol/http_args.h"

#include <cctype>
#include <utility>

#include <fmt/format.h>

#include "ops/base/json_writer.h"
#include "ops/protocol/op_protocol.h"

namespace testrund::ops {
namespace {

void ReadUrl(ParamReader& args, bool allow_tcp, Url* url, std::string* text) {
  if (args.Get("url") == nullptr) {
    args.Missing("url");
    return;
  }
  std::optional<std::string> given = ReadLiteral(args, "url");
  if (!given) return;
  *text = *given;
  Result<Url> parsed = ParseUrl(*text, allow_tcp);
  if (!parsed.ok()) {
    args.AddProblem("url", fmt::format("must be an {} URL: {}, got {}",
                                       allow_tcp ? "http://, https://, tcp:// or tls://"
                                                 : "http:// or https://",
                                       parsed.message(), QuoteText(*text)));
    return;
  }
  *url = std::move(parsed.value());
}

void ReadHeaders(ParamReader& args, HeaderList* out) {
  const rapidjson::Value* headers = args.OptionalObject("headers");
  if (headers == nullptr) return;
  ParamReader p(*headers, args, "headers");
  for (const auto& member : headers->GetObject()) {
    std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (!IsHttpToken(name)) {
      p.AddProblem(name, "is not an HTTP token (a header name)");
      continue;
    }
    // null is "not given", as everywhere: the header is not sent.
    if (member.value.IsNull() || p.Deferred(member.value)) continue;
    std::string value;
    if (member.value.IsString()) {
      value.assign(member.value.GetString(), member.value.GetStringLength());
    } else if (member.value.IsNumber()) {
      value = JsonText(member.value);
    } else {
      p.WrongType(name, "a string or a number", member.value);
      continue;
    }
    // CR or LF would end the header, and HTTP allows no NUL in a field value.
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      p.AddProblem(name, "must not contain CR, LF or NUL");
      continue;
    }
    out->emplace_back(std::string(name), std::move(value));
  }
}

}  // namespace

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

void ReadHttpTarget(ParamReader& args, bool allow_tcp, HttpTarget* out) {
  ReadUrl(args, allow_tcp, &out->url, &out->url_text);
  ReadTimeout(args, kDefaultHttpTimeout, &out->timeout, &out->timeout_text);
  bool tls_enabled = false;  // the URL's scheme decides; `tls` only says how
  ReadTls(args, &tls_enabled, &out->tls);
  ReadHeaders(args, &out->headers);
}

}  // namespace testrund::ops
