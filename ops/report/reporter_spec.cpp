// SPDX-License-Identifier: Apache-2.0
// ReadReporters: ExecuteTest's `reporters` read into ReporterSpecs, every problem collected
// (see reporter_spec.h).
#include "ops/report/reporter_spec.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace testrund::ops {
namespace {

constexpr std::string_view kWebhook = "webhook";

std::string_view View(const rapidjson::Value& s) {
  return std::string_view(s.GetString(), s.GetStringLength());
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A header name: an HTTP token (RFC 9110 tchar), so no CR, LF, ':' or space can reach the
// request's head.
bool IsHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Why a reporter may not set header `name` (lower case), or nullptr when it may.
const char* ReservedHeader(std::string_view lower_name) {
  if (lower_name == "host" || lower_name == "content-length") {
    return "may not be set: the daemon writes it";
  }
  // Chunked framing over a body sent with Content-Length would desynchronise the server.
  if (lower_name == "transfer-encoding") return "may not be set: the body has a Content-Length";
  return nullptr;
}

// `url`: required, http:// or https://, its host allowed by webhook_allow.
void ReadUrl(ParamReader& r, const WebhookAllowList& allow, ReporterSpec* out) {
  if (r.Get("url") == nullptr) {
    r.Missing("url");
    return;
  }
  std::optional<std::string_view> text = r.OptionalString("url");
  if (!text) return;
  Result<Url> url = ParseUrl(*text, /*allow_tcp=*/false);
  if (!url.ok()) {
    r.AddProblem("url", fmt::format("must be an http:// or https:// URL: {}, got {}", url.message(),
                                    QuoteText(*text)));
    return;
  }
  if (!allow.Allows(url->host)) {
    r.AddProblem("url", fmt::format("host {} is not in webhook_allow", QuoteText(url->host)));
    return;
  }
  out->url = std::move(url.value());
}

// `on`: a non-empty array of distinct "final" / "repetition"; ["final"] when not given.
void ReadOn(ParamReader& r, ReporterSpec* out) {
  const rapidjson::Value* on = r.OptionalArray("on");
  if (on == nullptr) return;
  if (on->Empty()) {
    r.AddProblem("on", "must hold \"final\", \"repetition\" or both, got an empty array");
    return;
  }
  out->on_final = false;
  for (rapidjson::SizeType i = 0; i < on->Size(); ++i) {
    const rapidjson::Value& event = (*on)[i];
    std::string field = fmt::format("on[{}]", i);
    std::string_view name = event.IsString() ? View(event) : std::string_view();
    bool* flag = name == "final"        ? &out->on_final
                 : name == "repetition" ? &out->on_repetition
                                        : nullptr;
    if (flag == nullptr) {
      r.WrongType(field, "\"final\" or \"repetition\"", event);
    } else if (*flag) {
      r.AddProblem(field, fmt::format("repeats {}", QuoteValue(event)));
    } else {
      *flag = true;
    }
  }
}

// `headers`: an object of header name -> string.
void ReadHeaders(ParamReader& r, ReporterSpec* out) {
  const rapidjson::Value* headers = r.OptionalObject("headers");
  if (headers == nullptr) return;
  ParamReader h(*headers, r, "headers");
  for (const auto& member : headers->GetObject()) {
    std::string_view name = View(member.name);
    if (name.empty()) {
      h.AddProblem("", "has an empty header name");
      continue;
    }
    if (!IsHeaderName(name)) {
      h.AddProblem(name, "is not an HTTP token (a header name)");
      continue;
    }
    if (const char* reserved = ReservedHeader(Lower(name))) {
      h.AddProblem(name, reserved);
      continue;
    }
    if (!member.value.IsString()) {
      h.WrongType(name, "a string", member.value);
      continue;
    }
    std::string_view value = View(member.value);
    // CR or LF would end the header early; HTTP allows no NUL in a field value.
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      h.AddProblem(name, "must not contain CR, LF or NUL");
      continue;
    }
    out->headers.emplace_back(std::string(name), std::string(value));
  }
}

// `tls`: {verify, ca_file, server_name}, as the http op's (docs/protocol-ops.md); it only
// matters for an https:// URL.
void ReadTls(ParamReader& r, ReporterSpec* out) {
  const rapidjson::Value* tls = r.OptionalObject("tls");
  if (tls == nullptr) return;
  ParamReader t(*tls, r, "tls");
  t.UnknownMembers({"verify", "ca_file", "server_name"});
  if (std::optional<bool> verify = t.OptionalBool("verify")) out->tls.verify = *verify;
  if (auto ca_file = t.OptionalString("ca_file")) out->tls.ca_file = std::string(*ca_file);
  if (auto name = t.OptionalString("server_name")) out->tls.server_name = std::string(*name);
}

// One entry; nullopt when it has a problem (recorded).
std::optional<ReporterSpec> ReadOne(ParamReader& r, const WebhookAllowList& allow) {
  size_t problems_before = r.problems().size();
  std::string_view type = r.RequiredString("type");
  if (r.problems().size() == problems_before && type != kWebhook) {
    r.WrongType("type", "\"webhook\"", *r.Get("type"));
  }
  // The other members mean something only for a known type.
  if (r.problems().size() != problems_before) return std::nullopt;
  r.UnknownMembers({"type", "url", "on", "headers", "timeout", "include_logs", "tls"});
  ReporterSpec spec;
  ReadUrl(r, allow, &spec);
  ReadOn(r, &spec);
  ReadHeaders(r, &spec);
  spec.timeout =
      r.OptionalNumber("timeout",
                       {.min = 0, .max = ReporterSpec::kMaxTimeout, .min_exclusive = true},
                       "a number of seconds")
          .value_or(ReporterSpec::kDefaultTimeout);
  spec.include_logs = r.OptionalBool("include_logs").value_or(false);
  ReadTls(r, &spec);
  if (r.problems().size() != problems_before) return std::nullopt;
  return spec;
}

}  // namespace

std::vector<ReporterSpec> ReadReporters(ParamReader& params, const WebhookAllowList& allow) {
  std::vector<ReporterSpec> reporters;
  const rapidjson::Value* array = params.OptionalArray("reporters");
  if (array == nullptr) return reporters;
  if (array->Size() > ReporterSpec::kMaxPerRun) {
    params.AddProblem("reporters", fmt::format("has {} entries, more than the limit of {}",
                                               array->Size(), ReporterSpec::kMaxPerRun));
    return reporters;
  }
  for (rapidjson::SizeType i = 0; i < array->Size(); ++i) {
    std::string name = fmt::format("reporters[{}]", i);
    const rapidjson::Value& json = (*array)[i];
    if (!json.IsObject()) {
      params.WrongType(name, "an object", json);
      continue;
    }
    ParamReader entry(json, params, name);
    if (std::optional<ReporterSpec> spec = ReadOne(entry, allow)) {
      reporters.push_back(std::move(*spec));
    }
  }
  return reporters;
}

}  // namespace testrund::ops
