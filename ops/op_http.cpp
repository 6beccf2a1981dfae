// SPDX-License-Identifier: Apache-2.0
// The `http` op (issue 4): one HTTP/1.1 request on a pooled connection (ops/http_client.h).
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
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "ops/http_args.h"
#include "ops/http_client.h"
#include "ops/op_protocol.h"
#include "ops/op_table.h"
#include "ops/run.h"

namespace testrund::ops {
namespace {

struct HttpArgs {
  HttpRequest request;
  std::string url_text;
  MonoNs timeout = 0;
  std::string timeout_text;
};

void ReadHttpArgs(ArgCheck& check, const rapidjson::Value& args, HttpArgs* out) {
  HttpRequest& request = out->request;
  ReadHttpTarget(check, args, /*allow_tcp=*/false, &request.url, &out->url_text, &out->timeout,
                 &out->timeout_text, &request.tls, &request.headers);
  if (ReadString(check, args, "method", "arguments.method", &request.method)) {
    if (!IsHttpToken(request.method)) {
      check.Add("arguments.method", fmt::format("\"arguments.method\" must be an HTTP method, "
                                                "got {}",
                                                QuotedString(request.method)));
    }
    for (char& c : request.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  const rapidjson::Value* body = Member(args, "body");
  const rapidjson::Value* json = Member(args, "json");
  if (body != nullptr && json != nullptr) {
    check.Add("arguments", "\"arguments\" must not have both \"body\" and \"json\"");
    return;
  }
  ReadString(check, args, "body", "arguments.body", &request.body);
  if (json != nullptr && !check.Deferred(*json)) {
    request.body = Quoted(*json);
    bool has_type = false;
    for (const auto& [name, value] : request.headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      has_type = has_type || lower == "content-type";
    }
    if (!has_type) request.headers.emplace_back("Content-Type", "application/json");
  }
}

bool IsStatus(const rapidjson::Value& value) {
  return value.IsInt() && value.GetInt() >= 100 && value.GetInt() <= 599;
}

void CheckHttpExpect(ArgCheck& check, const rapidjson::Value& expect) {
  if (const rapidjson::Value* status = Member(expect, "status"); status && !check.Deferred(*status)) {
    bool ok = IsStatus(*status);
    if (status->IsArray() && !status->Empty()) {
      ok = true;
      for (const auto& s : status->GetArray()) ok = ok && IsStatus(s);
    }
    if (!ok) {
      check.Add("expect.status",
                fmt::format("\"expect.status\" must be an HTTP status (100-599) or a list of "
                            "them, got {}",
                            Quoted(*status)));
    }
  }
  std::string ignored;
  ReadString(check, expect, "body_contains", "expect.body_contains", &ignored);
  for (const char* name : {"header", "json"}) {
    const rapidjson::Value* value = Member(expect, name);
    if (value == nullptr || check.Deferred(*value)) continue;
    std::string field = fmt::format("expect.{}", name);
    if (!value->IsObject()) {
      check.Add(field, fmt::format("\"{}\" must be an object, got {}", field, Quoted(*value)));
      continue;
    }
    if (std::string_view(name) == "header") {
      for (const auto& member : value->GetObject()) {
        if (!member.value.IsString() && !check.Deferred(member.value)) {
          check.Add(fmt::format("{}.{}", field, member.name.GetString()),
                    fmt::format("expected header values must be strings, got {}",
                                Quoted(member.value)));
        }
      }
    }
  }
}

std::string StatusList(const rapidjson::Value& status) { return Quoted(status); }

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

class HttpPending final : public PendingIo {
 public:
  HttpPending(Run& run, Instance& instance, const Op& op, HttpArgs args,
              rapidjson::Document expect, bool mandatory)
      : PendingIo(run, instance, op),
        method_(args.request.method),
        url_(args.url_text),
        expect_(std::move(expect)),
        mandatory_(mandatory) {}

  void Start(IoContext& io, HttpRequest request, bool keep_raw) {
    call_ = HttpCall::Start(io, std::move(request), keep_raw,
                            [this](HttpOutcome& outcome) { OnDone(outcome); });
  }
  const HttpCall& call() const { return *call_; }

 private:
  void OnTimeout() override { call_.reset(); }

  void OnDone(HttpOutcome& outcome) {
    Complete([this, &outcome] { return Finish(outcome); });
  }

  bool Finish(HttpOutcome& outcome) {
    Run& r = run();
    Instance& inst = instance();
    if (!outcome.error.empty()) {
      r.Abort(inst, op(), fmt::format("HTTP {} {} failed: {}", method_, url_, outcome.error));
      return false;
    }
    TraceMessage(r, inst, op(), "http", false, outcome.raw_response)
        .SetString("method", method_)
        .SetString("url", url_)
        .SetInt("status", outcome.status);
    rapidjson::Document json;
    json.Parse(outcome.body.data(), outcome.body.size());
    bool is_json = !json.HasParseError();

    rapidjson::Document inbound(rapidjson::kObjectType);
    auto& alloc = inbound.GetAllocator();
    inbound.AddMember("status", outcome.status, alloc);
    rapidjson::Value headers(rapidjson::kObjectType);
    for (const auto& [name, value] : outcome.headers) {
      auto it = headers.FindMember(name);
      if (it != headers.MemberEnd()) {
        std::string joined = std::string(it->value.GetString(), it->value.GetStringLength()) +
                             ", " + value;
        it->value.SetString(joined.data(), static_cast<rapidjson::SizeType>(joined.size()),
                            alloc);
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
                                       static_cast<rapidjson::SizeType>(outcome.body.size()),
                                       alloc),
                      alloc);
    if (is_json) inbound.AddMember("json", rapidjson::Value(json, alloc), alloc);
    inbound.AddMember("time", Elapsed(), alloc);
    if (!SetInbound(r, inst, op(), "http", inbound)) return false;
    return Expectations(outcome, is_json ? &json : nullptr);
  }

  bool Expectations(const HttpOutcome& outcome, const rapidjson::Value* json) {
    if (!expect_.IsObject()) return true;
    Run& r = run();
    Instance& inst = instance();
    if (const rapidjson::Value* status = Member(expect_, "status")) {
      bool passed = false;
      if (status->IsArray()) {
        for (const auto& s : status->GetArray()) passed = passed || s.GetInt() == outcome.status;
      } else {
        passed = status->GetInt() == outcome.status;
      }
      std::string text =
          passed ? fmt::format("status {} as expected", outcome.status)
          : status->IsArray()
              ? fmt::format("status {}, expected one of {}", outcome.status, StatusList(*status))
              : fmt::format("status {}, expected {}", outcome.status, status->GetInt());
      if (!Expectation(r, inst, op(), mandatory_, passed, text)) return false;
    }
    if (const rapidjson::Value* contains = Member(expect_, "body_contains")) {
      std::string_view needle(contains->GetString(), contains->GetStringLength());
      bool passed = outcome.body.find(needle) != std::string::npos;
      std::string text = fmt::format("body {} {}", passed ? "contains" : "does not contain",
                                     QuotedString(needle));
      if (!Expectation(r, inst, op(), mandatory_, passed, text)) return false;
    }
    if (const rapidjson::Value* header = Member(expect_, "header")) {
      for (const auto& member : header->GetObject()) {
        std::string name(member.name.GetString(), member.name.GetStringLength());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view want(member.value.GetString(), member.value.GetStringLength());
        bool found = false;
        std::string got = HeaderValue(outcome.headers, name, &found);
        bool passed = found && got == want;
        std::string text =
            passed ? fmt::format("header {} is {}", QuotedString(name), QuotedString(got))
            : found ? fmt::format("header {} is {}, expected {}", QuotedString(name),
                                  QuotedString(got), QuotedString(want))
                    : fmt::format("header {} is missing, expected {}", QuotedString(name),
                                  QuotedString(want));
        if (!Expectation(r, inst, op(), mandatory_, passed, text)) return false;
      }
    }
    if (const rapidjson::Value* paths = Member(expect_, "json")) {
      for (const auto& member : paths->GetObject()) {
        std::string_view path(member.name.GetString(), member.name.GetStringLength());
        std::string text;
        bool passed = false;
        if (json == nullptr) {
          text = fmt::format("body is not JSON, expected json {} to be {}", QuotedString(path),
                             Quoted(member.value));
        } else if (const rapidjson::Value* got = AtPath(*json, path)) {
          passed = *got == member.value;
          text = passed ? fmt::format("json {} is {}", QuotedString(path), Quoted(*got))
                        : fmt::format("json {} is {}, expected {}", QuotedString(path),
                                      Quoted(*got), Quoted(member.value));
        } else {
          text = fmt::format("json {} is missing, expected {}", QuotedString(path),
                             Quoted(member.value));
        }
        if (!Expectation(r, inst, op(), mandatory_, passed, text)) return false;
      }
    }
    return true;
  }

  std::string method_;
  std::string url_;
  rapidjson::Document expect_;
  bool mandatory_;
  std::unique_ptr<HttpCall> call_;
};

}  // namespace

void ValidateHttp(const rapidjson::Value& op_json, int op_idx, Problems* problems) {
  ArgCheck check(op_idx, problems);
  if (const rapidjson::Value* args = ObjectAttribute(check, op_json, "arguments", true)) {
    HttpArgs ignored;
    ReadHttpArgs(check, *args, &ignored);
  }
  if (const rapidjson::Value* expect = ObjectAttribute(check, op_json, "expect", false)) {
    CheckHttpExpect(check, *expect);
  }
  ValidateMandatory(check, op_json);
}

StepOutcome ExecuteHttp(Run& run, Instance& instance, const Op& op) {
  if (run.io() == nullptr) {
    run.Abort(instance, op, "protocol ops need an event loop (this engine has no IoContext)");
    return StepOutcome::kFinished;
  }
  rapidjson::Document args;
  rapidjson::Document expect;
  bool mandatory = false;
  if (!EvaluateSlot(run, instance, op, Slot::kArguments, &args) ||
      !EvaluateSlot(run, instance, op, Slot::kExpect, &expect) ||
      !EvaluateMandatory(run, instance, op, &mandatory)) {
    return StepOutcome::kFinished;
  }
  ArgCheck check;
  HttpArgs parsed;
  if (!args.IsObject()) {
    check.Add("arguments", fmt::format("\"arguments\" must be an object, got {}", Quoted(args)));
  } else {
    ReadHttpArgs(check, args, &parsed);
  }
  if (!expect.IsNull() && !expect.IsObject()) {
    check.Add("expect", fmt::format("\"expect\" must be an object, got {}", Quoted(expect)));
  } else if (expect.IsObject()) {
    CheckHttpExpect(check, expect);
  }
  if (!check.ok()) {
    run.Abort(instance, op, check.first());
    return StepOutcome::kFinished;
  }
  bool keep_raw = run.MessageLog(instance) != nullptr;
  std::string timeout_text = fmt::format("HTTP {} {} timed out after {} seconds",
                                         parsed.request.method, parsed.url_text,
                                         parsed.timeout_text);
  MonoNs timeout = parsed.timeout;
  HttpRequest request = parsed.request;
  std::string url_text = parsed.url_text;
  auto pending = std::make_unique<HttpPending>(run, instance, op, std::move(parsed),
                                               std::move(expect), mandatory);
  HttpPending* p = pending.get();
  IoOf(instance).pending = std::move(pending);  // frees the previous op's (spent) wait
  std::string method = request.method;
  p->Start(*run.io(), std::move(request), keep_raw);
  TraceMessage(run, instance, op, "http", true, p->call().raw_request())
      .SetString("method", method)
      .SetString("url", url_text);
  p->Park(timeout, std::move(timeout_text));
  return StepOutcome::kParked;
}

}  // namespace testrund::ops
