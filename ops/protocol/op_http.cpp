// SPDX-License-Identifier: Apache-2.0
// The `http` op (docs/protocol-ops.md#http): one HTTP/1.1 request on a pooled connection
// (ops/net/http_client.h).
//
//   arguments: url* (http:// or https://), method (GET), headers (object), body (string) or
//              json (any JSON, serialised; adds Content-Type: application/json), timeout (s,
//              default 10), tls ({"verify": true, "ca_file", "server_name"})
//   expect:    status (int or list), body_contains (string), header (object: name ->
//              exact value, names case-insensitive), json (object: dotted path -> value)
//   mandatory: a failed expectation aborts the instance instead of failing it
//
// After the op, i.http = {status, headers (lower-case names; repeated ones joined with
// ", "), body, json (when the body parses as JSON), time (seconds)}. A refused, reset or
// timed-out request, a TLS error or an invalid response aborts the instance with
// "HTTP <method> <url> failed: <cause>" / "HTTP <method> <url> timed out after <s> seconds".
#include <cctype>
#include <charconv>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "ops/base/json_writer.h"
#include "ops/net/http_client.h"
#include "ops/op_table.h"
#include "ops/protocol/http_args.h"
#include "ops/protocol/op_protocol.h"
#include "ops/protocol/protocol_ops.h"

namespace testrund::ops {
namespace {

// One http op's attributes, read and ready to send: once for an op whose parts are all
// constant (Op::prepared), else for each instance.
struct HttpPlan : OpParts {
  HttpTarget target;
  std::string method = "GET";
  std::string body;
  std::shared_ptr<const PreparedHttpRequest> request;  // what is sent
  std::string timeout_text;                            // the abort text of a timeout
};

void ReadBody(ParamReader& args, HttpPlan* out) {
  const rapidjson::Value* json = args.Get("json");
  if (args.Get("body") != nullptr && json != nullptr) {
    args.AddProblem("", R"(must not have both "body" and "json")");
    return;
  }
  if (auto body = ReadLiteral(args, "body")) out->body = *body;
  if (json != nullptr && !args.Deferred(*json)) {
    out->body = JsonText(*json);
    if (!HasHeader(out->target.headers, "content-type")) {
      out->target.headers.emplace_back("Content-Type", "application/json");
    }
  }
}

bool IsStatus(const rapidjson::Value& value) {
  return value.IsInt() && value.GetInt() >= 100 && value.GetInt() <= 599;
}

void CheckHttpExpect(ParamReader& expect) {
  if (const rapidjson::Value* status = expect.Get("status"); status && !expect.Deferred(*status)) {
    bool ok = IsStatus(*status);
    if (status->IsArray() && !status->Empty()) {
      ok = true;
      for (const auto& s : status->GetArray()) ok = ok && IsStatus(s);
    }
    if (!ok) expect.WrongType("status", "an HTTP status (100-599) or a list of them", *status);
  }
  (void)expect.OptionalString("body_contains");
  (void)expect.OptionalObject("json");
  if (const rapidjson::Value* header = expect.OptionalObject("header")) {
    ParamReader headers(*header, expect, "header");
    for (const auto& member : header->GetObject()) {
      (void)headers.OptionalString(
          std::string_view(member.name.GetString(), member.name.GetStringLength()));
    }
  }
}

void ReadHttp(ParamReader& args, ParamReader& expect, HttpPlan* out) {
  ReadHttpTarget(args, /*allow_tcp=*/false, &out->target);
  if (auto method = ReadLiteral(args, "method")) {
    if (!IsHttpToken(*method)) {
      args.WrongType("method", "an HTTP method", *args.Get("method"));
    }
    for (char& c : *method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out->method = *method;
  }
  ReadBody(args, out);
  CheckHttpExpect(expect);
  HttpRequest request;
  request.method = out->method;
  request.url = out->target.url;
  request.headers = out->target.headers;
  request.body = out->body;
  request.tls = out->target.tls;
  out->request = PrepareHttpRequest(std::move(request));
  out->timeout_text = fmt::format("HTTP {} {} timed out after {} seconds", out->method,
                                  out->target.url_text, out->target.timeout_text);
}

std::string HeaderValue(const HeaderList& headers, std::string_view lower_name, bool* found) {
  std::string joined;
  *found = false;
  for (const auto& [name, value] : headers) {
    if (name != lower_name) continue;
    if (*found) joined += ", ";
    joined += value;
    *found = true;
  }
  return joined;
}

// i.http: {status, headers (repeated names joined with ", "), body, json?, time}.
rapidjson::Document Inbound(const HttpOutcome& outcome, const rapidjson::Document& json,
                            bool is_json, double elapsed) {
  rapidjson::Document inbound(rapidjson::kObjectType);
  auto& alloc = inbound.GetAllocator();
  inbound.AddMember("status", outcome.status, alloc);
  rapidjson::Value headers(rapidjson::kObjectType);
  for (const auto& [name, value] : outcome.headers) {
    auto it = headers.FindMember(name);
    if (it != headers.MemberEnd()) {
      std::string joined = std::string(it->value.GetString(), it->value.GetStringLength()) +
                           ", " + value;
      it->value.SetString(joined.data(), static_cast<rapidjson::SizeType>(joined.size()), alloc);
    } else {
      headers.AddMember(rapidjson::Value(name, alloc),
                        rapidjson::Value(value.data(),
                                         static_cast<rapidjson::SizeType>(value.size()), alloc),
                        alloc);
    }
  }
  inbound.AddMember("headers", headers, alloc);
  inbound.AddMember("body",
                    rapidjson::Value(outcome.body.data(),
                                     static_cast<rapidjson::SizeType>(outcome.body.size()), alloc),
                    alloc);
  if (is_json) inbound.AddMember("json", rapidjson::Value(json, alloc), alloc);
  inbound.AddMember("time", elapsed, alloc);
  return inbound;
}

class HttpPending final : public PendingIo {
 public:
  HttpPending(const OpContext& ctx, std::shared_ptr<const HttpPlan> plan)
      : PendingIo(ctx), plan_(std::move(plan)) {}

  void Start(IoContext& io, bool keep_raw) {
    // Headers are parsed and kept only for a run that can read i.http or expects one.
    bool keep_headers = ctx().lua().may_read_inbound() || ExpectsMember("header");
    call_ = HttpCall::Start(
        io, plan_->request, keep_raw, [this](HttpOutcome& outcome) { OnDone(outcome); },
        keep_headers);
  }
  const HttpCall& call() const { return *call_; }

 private:
  void OnTimeout() override { call_.reset(); }

  void OnDone(HttpOutcome& outcome) {
    Complete([this, &outcome] { return Finish(outcome); });
  }

  bool Finish(HttpOutcome& outcome) {
    const std::string& method = plan_->method;
    const std::string& url = plan_->target.url_text;
    if (!outcome.error.empty()) {
      ctx().Abort(fmt::format("HTTP {} {} failed: {}", method, url, outcome.error));
      return false;
    }
    TraceMessage(ctx(), "http", false, outcome.raw_response)
        .SetString("method", method)
        .SetString("url", url)
        .SetInt("status", outcome.status);
    // i.http and the body's JSON are built only when some code or expectation reads them.
    bool inbound = ctx().lua().may_read_inbound();
    rapidjson::Document json;
    bool is_json = false;
    if (inbound || ExpectsMember("json")) {
      json.Parse(outcome.body.data(), outcome.body.size());
      is_json = !json.HasParseError();
    }
    if (inbound && !SetInbound(ctx(), "http", Inbound(outcome, json, is_json, Elapsed()))) {
      return false;
    }
    return Expectations(outcome, is_json ? &json : nullptr);
  }

  // Whether the op's `expect` has member `name`, an object (header, json).
  bool ExpectsMember(std::string_view name) const {
    const rapidjson::Value& expect = plan_->expect;
    if (!expect.IsObject()) return false;
    const rapidjson::Value* member = MemberOrNull(expect, name);
    return member != nullptr && member->IsObject();
  }

  bool Expect(bool passed, std::string_view text) {
    return Expectation(ctx(), plan_->mandatory, passed, text);
  }

  bool ExpectStatus(const rapidjson::Value& status, int got) {
    bool passed = false;
    if (status.IsArray()) {
      for (const auto& s : status.GetArray()) passed = passed || s.GetInt() == got;
    } else {
      passed = status.GetInt() == got;
    }
    if (passed) {
      // Every passing instance logs it: built without fmt.
      char text[32] = "status ";
      char* end = std::to_chars(text + 7, text + 18, got).ptr;
      std::memcpy(end, " as expected", 12);
      return Expect(true, std::string_view(text, static_cast<size_t>(end + 12 - text)));
    }
    return Expect(false, status.IsArray()
                             ? fmt::format("status {}, expected one of {}", got, JsonText(status))
                             : fmt::format("status {}, expected {}", got, status.GetInt()));
  }

  bool ExpectHeaders(const rapidjson::Value& header, const HeaderList& headers) {
    for (const auto& member : header.GetObject()) {
      // null is "not given" (a {...} that gave nil too): nothing is expected of that header.
      // Every other non-string value was refused when the op was read.
      if (!member.value.IsString()) continue;
      std::string name(member.name.GetString(), member.name.GetStringLength());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view want(member.value.GetString(), member.value.GetStringLength());
      bool found = false;
      std::string got = HeaderValue(headers, name, &found);
      bool passed = found && got == want;
      std::string text =
          passed ? fmt::format("header {} is {}", JsonString(name), JsonString(got))
          : found ? fmt::format("header {} is {}, expected {}", JsonString(name), JsonString(got),
                                JsonString(want))
                  : fmt::format("header {} is missing, expected {}", JsonString(name),
                                JsonString(want));
      if (!Expect(passed, text)) return false;
    }
    return true;
  }

  bool ExpectJson(const rapidjson::Value& paths, const rapidjson::Value* json) {
    for (const auto& member : paths.GetObject()) {
      std::string_view path(member.name.GetString(), member.name.GetStringLength());
      std::string text;
      bool passed = false;
      if (json == nullptr) {
        text = fmt::format("body is not JSON, expected json {} to be {}", JsonString(path),
                           JsonText(member.value));
      } else if (const rapidjson::Value* got = AtPath(*json, path)) {
        passed = *got == member.value;
        text = passed ? fmt::format("json {} is {}", JsonString(path), JsonText(*got))
                      : fmt::format("json {} is {}, expected {}", JsonString(path),
                                    JsonText(*got), JsonText(member.value));
      } else {
        text = fmt::format("json {} is missing, expected {}", JsonString(path),
                           JsonText(member.value));
      }
      if (!Expect(passed, text)) return false;
    }
    return true;
  }

  bool Expectations(const HttpOutcome& outcome, const rapidjson::Value* json) {
    const rapidjson::Value& expect = plan_->expect;
    if (!expect.IsObject()) return true;
    if (const rapidjson::Value* status = MemberOrNull(expect, "status");
        status != nullptr && !status->IsNull() && !ExpectStatus(*status, outcome.status)) {
      return false;
    }
    if (const rapidjson::Value* contains = MemberOrNull(expect, "body_contains");
        contains != nullptr && contains->IsString()) {
      std::string_view needle(contains->GetString(), contains->GetStringLength());
      bool passed = outcome.body.find(needle) != std::string::npos;
      if (!Expect(passed, fmt::format("body {} {}", passed ? "contains" : "does not contain",
                                      JsonString(needle)))) {
        return false;
      }
    }
    if (const rapidjson::Value* header = MemberOrNull(expect, "header");
        header != nullptr && header->IsObject() && !ExpectHeaders(*header, outcome.headers)) {
      return false;
    }
    if (const rapidjson::Value* paths = MemberOrNull(expect, "json");
        paths != nullptr && paths->IsObject() && !ExpectJson(*paths, json)) {
      return false;
    }
    return true;
  }

  std::shared_ptr<const HttpPlan> plan_;
  std::unique_ptr<HttpCall> call_;
};

StepOutcome ExecuteHttp(OpContext& ctx) {
  std::shared_ptr<const HttpPlan> plan = ReadOp(ctx, &ReadHttp);
  if (plan == nullptr) return StepOutcome::kFinished;
  bool keep_raw = ctx.MessageLog() != nullptr;
  auto pending = std::make_unique<HttpPending>(ctx, plan);
  HttpPending* p = pending.get();
  IoOf(ctx.instance()).pending = std::move(pending);  // frees the previous op's (spent) wait
  p->Start(*ctx.io(), keep_raw);
  TraceMessage(ctx, "http", true, p->call().raw_request())
      .SetString("method", plan->method)
      .SetString("url", plan->target.url_text);
  p->Park(plan->target.timeout, plan->timeout_text);
  return StepOutcome::kParked;
}

constexpr AttributeSpec kHttpAttributes[] = {
    {"arguments", AttrKind::kObject, true, Slot::kArguments},
    {"expect", AttrKind::kObject, false, Slot::kExpect},
    {"mandatory", AttrKind::kFlag, false, Slot::kMandatory},
};

constexpr OpTypeSpec kHttpOps[] = {
    {"http", kHttpAttributes, &ExecuteHttp, true, true, &ValidateWith<HttpPlan, &ReadHttp>},
};

}  // namespace

std::span<const OpTypeSpec> HttpOpTypes() { return kHttpOps; }

}  // namespace testrund::ops
