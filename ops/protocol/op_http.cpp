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

#include "ops/protocol/http_args.h"
#include "ops/net/http_client.h"
#include "ops/protocol/op_protocol.h"
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

// One http op's evaluated attributes, ready to send: built once for an op whose
// attributes are all constant (Op::prepared), else for each instance.
struct HttpPlan {
  HttpArgs args;
  std::shared_ptr<const PreparedHttpRequest> request;  // args.request, ready to send
  rapidjson::Document expect;  // null when absent
  bool mandatory = false;
  std::string timeout_text;    // the abort text of a timeout
};

// The plan of `args`, `expect` and `mandatory` (each may be null), or the first problem in
// `check`.
std::shared_ptr<HttpPlan> BuildPlan(ArgCheck& check, const rapidjson::Value& args,
                                    const rapidjson::Value& expect,
                                    const rapidjson::Value& mandatory) {
  auto plan = std::make_shared<HttpPlan>();
  if (!args.IsObject()) {
    check.Add("arguments", fmt::format("\"arguments\" must be an object, got {}", Quoted(args)));
  } else {
    ReadHttpArgs(check, args, &plan->args);
  }
  if (!expect.IsNull() && !expect.IsObject()) {
    check.Add("expect", fmt::format("\"expect\" must be an object, got {}", Quoted(expect)));
  } else if (expect.IsObject()) {
    CheckHttpExpect(check, expect);
    plan->expect.CopyFrom(expect, plan->expect.GetAllocator());
  }
  if (!mandatory.IsBool() && !mandatory.IsNull()) {
    check.Add("mandatory",
              fmt::format("\"mandatory\" must be true or false, got {}", Quoted(mandatory)));
  }
  if (!check.ok()) return nullptr;
  plan->mandatory = mandatory.IsBool() && mandatory.GetBool();
  plan->request = PrepareHttpRequest(plan->args.request);
  plan->timeout_text = fmt::format("HTTP {} {} timed out after {} seconds",
                                   plan->args.request.method, plan->args.url_text,
                                   plan->args.timeout_text);
  return plan;
}

// The op's plan: the prepared one when every attribute is constant, else one evaluated for
// this instance (nullptr: the instance has been aborted).
std::shared_ptr<const HttpPlan> PlanFor(Run& run, Instance& instance, const Op& op) {
  if (op.prepared) return std::static_pointer_cast<const HttpPlan>(op.prepared);
  const rapidjson::Value null_value;
  auto constant = [&](Slot slot) -> const rapidjson::Value* {
    const ValueTemplate& t = op.Template(slot);
    if (t.empty()) return &null_value;
    return t.is_constant() ? &t.constant() : nullptr;
  };
  const rapidjson::Value* args = constant(Slot::kArguments);
  const rapidjson::Value* expect = constant(Slot::kExpect);
  const rapidjson::Value* mandatory = constant(Slot::kMandatory);
  ArgCheck check;
  if (args != nullptr && expect != nullptr && mandatory != nullptr) {
    std::shared_ptr<HttpPlan> plan = BuildPlan(check, *args, *expect, *mandatory);
    if (plan == nullptr) {
      run.Abort(instance, op, check.first());
      return nullptr;
    }
    op.prepared = plan;
    return plan;
  }
  rapidjson::Document args_doc;
  rapidjson::Document expect_doc;
  rapidjson::Document mandatory_doc;
  if (!EvaluateSlot(run, instance, op, Slot::kArguments, &args_doc) ||
      !EvaluateSlot(run, instance, op, Slot::kExpect, &expect_doc) ||
      !EvaluateSlot(run, instance, op, Slot::kMandatory, &mandatory_doc)) {
    return nullptr;
  }
  std::shared_ptr<HttpPlan> plan = BuildPlan(check, args_doc, expect_doc, mandatory_doc);
  if (plan == nullptr) run.Abort(instance, op, check.first());
  return plan;
}

class HttpPending final : public PendingIo {
 public:
  HttpPending(Run& run, Instance& instance, const Op& op, std::shared_ptr<const HttpPlan> plan)
      : PendingIo(run, instance, op),
        plan_(std::move(plan)),
        method_(plan_->args.request.method),
        url_(plan_->args.url_text),
        expect_(plan_->expect),
        mandatory_(plan_->mandatory) {}

  void Start(IoContext& io, bool keep_raw) {
    call_ = HttpCall::Start(io, plan_->request, keep_raw,
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

  std::shared_ptr<const HttpPlan> plan_;
  const std::string& method_;
  const std::string& url_;
  const rapidjson::Value& expect_;
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
  std::shared_ptr<const HttpPlan> plan = PlanFor(run, instance, op);
  if (plan == nullptr) return StepOutcome::kFinished;
  bool keep_raw = run.MessageLog(instance) != nullptr;
  auto pending = std::make_unique<HttpPending>(run, instance, op, plan);
  HttpPending* p = pending.get();
  IoOf(instance).pending = std::move(pending);  // frees the previous op's (spent) wait
  p->Start(*run.io(), keep_raw);
  TraceMessage(run, instance, op, "http", true, p->call().raw_request())
      .SetString("method", plan->args.request.method)
      .SetString("url", plan->args.url_text);
  p->Park(plan->args.timeout, plan->timeout_text);
  return StepOutcome::kParked;
}

}  // namespace testrund::ops
