// SPDX-License-Identifier: Apache-2.0
// The `jsonrpc` op (issue 4): one JSON-RPC 2.0 request, over HTTP (http:// and https:// URLs:
// a POST on the pooled HTTP client of the http op) or over the N2SVCD length-prefixed
// framing (tcp:// and tls:// URLs: ops/framed_client.h, one connection per request).
//
//   arguments: url*, method*, params (object or array), id (string or integer; default the
//              instance id), notification (bool: no id, no response awaited), auth (token:
//              Authorization: Bearer over HTTP, the top-level "auth" member when framed),
//              headers (http(s) only), timeout (s, default 10), tls (as http)
//   expect:    error_code (int, or null: success expected), result (object: dotted path ->
//              value; "" is the whole result)
//   mandatory: a failed expectation aborts the instance instead of failing it
//
// After the op, i.jsonrpc = {result, error, time}. A refused, reset or timed-out request, a
// TLS error, or a response that is not a JSON-RPC 2.0 response to this request (not JSON,
// wrong shape, another id) aborts the instance with "JSON-RPC <method> <url> failed:
// <cause>" / "JSON-RPC <method> <url> timed out after <s> seconds". A notification is over
// when its HTTP response arrives, whatever it holds, or, framed, once its frame is written.
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "ops/net/framed_client.h"
#include "ops/protocol/http_args.h"
#include "ops/net/http_client.h"
#include "ops/base/json_writer.h"
#include "ops/protocol/op_protocol.h"
#include "ops/op_table.h"
#include "ops/run.h"

namespace testrund::ops {
namespace {

struct JsonRpcArgs {
  Url url;
  std::string url_text;
  MonoNs timeout = 0;
  std::string timeout_text;
  TlsOptions tls;
  HeaderList headers;
  std::string method;
  const rapidjson::Value* params = nullptr;  // borrowed from the arguments
  const rapidjson::Value* id = nullptr;      // borrowed; nullptr: the instance id
  bool notification = false;
  bool has_auth = false;
  std::string auth;
};

// A member even when it is null (`expect.error_code: null` means "no error expected").
const rapidjson::Value* Present(const rapidjson::Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

void ReadJsonRpcArgs(ArgCheck& check, const rapidjson::Value& args, JsonRpcArgs* out) {
  ReadHttpTarget(check, args, /*allow_tcp=*/true, &out->url, &out->url_text, &out->timeout,
                 &out->timeout_text, &out->tls, &out->headers);
  if (const rapidjson::Value* headers = Member(args, "headers");
      headers != nullptr && out->url.framed()) {
    check.Add("arguments.headers",
              fmt::format("\"arguments.headers\" apply to http:// and https:// URLs only, not "
                          "to {}:// ones",
                          out->url.scheme));
  }
  if (Member(args, "method") == nullptr) {
    check.Add("arguments.method", "missing required attribute \"arguments.method\"");
  } else if (ReadString(check, args, "method", "arguments.method", &out->method) &&
             out->method.empty()) {
    check.Add("arguments.method", "\"arguments.method\" must not be empty");
  }
  if (const rapidjson::Value* params = Member(args, "params");
      params != nullptr && !check.Deferred(*params)) {
    if (params->IsObject() || params->IsArray()) {
      out->params = params;
    } else {
      check.Add("arguments.params",
                fmt::format("\"arguments.params\" must be an object or an array, got {}",
                            Quoted(*params)));
    }
  }
  if (const rapidjson::Value* notification = Member(args, "notification");
      notification != nullptr && !check.Deferred(*notification)) {
    if (notification->IsBool()) {
      out->notification = notification->GetBool();
    } else {
      check.Add("arguments.notification",
                fmt::format("\"arguments.notification\" must be true or false, got {}",
                            Quoted(*notification)));
    }
  }
  if (const rapidjson::Value* id = Member(args, "id"); id != nullptr && !check.Deferred(*id)) {
    if (out->notification) {
      check.Add("arguments.id", "\"arguments.id\" is not allowed in a notification");
    } else if (id->IsString() || id->IsInt64()) {
      out->id = id;
    } else {
      check.Add("arguments.id", fmt::format("\"arguments.id\" must be a string or an integer, "
                                            "got {}",
                                            Quoted(*id)));
    }
  }
  out->has_auth = ReadString(check, args, "auth", "arguments.auth", &out->auth);
}

void CheckJsonRpcExpect(ArgCheck& check, const rapidjson::Value& expect, bool notification) {
  if (notification) {
    check.Add("expect", "\"expect\" is not allowed with \"arguments.notification\": true (a "
                        "notification gets no response)");
    return;
  }
  if (const rapidjson::Value* code = Present(expect, "error_code");
      code != nullptr && !check.Deferred(*code) && !code->IsNull() && !code->IsInt()) {
    check.Add("expect.error_code",
              fmt::format("\"expect.error_code\" must be an integer or null, got {}",
                          Quoted(*code)));
  }
  if (const rapidjson::Value* result = Member(expect, "result");
      result != nullptr && !check.Deferred(*result) && !result->IsObject()) {
    check.Add("expect.result",
              fmt::format("\"expect.result\" must be an object, got {}", Quoted(*result)));
  }
}

// The JSON text of the request (the framed `auth` member included).
std::string RequestBody(const JsonRpcArgs& args, int64_t instance_id) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  doc.AddMember("jsonrpc", "2.0", alloc);
  doc.AddMember("method", rapidjson::Value(args.method, alloc), alloc);
  if (args.params != nullptr) doc.AddMember("params", rapidjson::Value(*args.params, alloc), alloc);
  if (!args.notification) {
    rapidjson::Value id;
    if (args.id != nullptr) {
      id.CopyFrom(*args.id, alloc);
    } else {
      id.SetInt64(instance_id);
    }
    doc.AddMember("id", id, alloc);
  }
  if (args.has_auth && args.url.framed()) {
    doc.AddMember("auth", rapidjson::Value(args.auth, alloc), alloc);
  }
  return JsonText(doc);
}

bool HasHeader(const HeaderList& headers, std::string_view lower_name) {
  for (const auto& [name, value] : headers) {
    if (name.size() != lower_name.size()) continue;
    bool same = true;
    for (size_t k = 0; k < name.size() && same; ++k) {
      same = std::tolower(static_cast<unsigned char>(name[k])) == lower_name[k];
    }
    if (same) return true;
  }
  return false;
}

HttpRequest HttpRequestOf(const JsonRpcArgs& args, std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.url = args.url;
  request.tls = args.tls;
  request.headers = args.headers;
  if (!HasHeader(request.headers, "content-type")) {
    request.headers.emplace_back("Content-Type", "application/json");
  }
  if (args.has_auth && !HasHeader(request.headers, "authorization")) {
    request.headers.emplace_back("Authorization", "Bearer " + args.auth);
  }
  request.body = std::move(body);
  return request;
}

// Why `doc` is not a JSON-RPC 2.0 response to the request with id `id` (nullptr: it is).
// On success *result or *error points into `doc`.
std::optional<std::string> ResponseProblem(const rapidjson::Value& doc, const rapidjson::Value& id,
                                           const rapidjson::Value** result,
                                           const rapidjson::Value** error) {
  auto shape = [](std::string_view what) {
    return fmt::format("not a JSON-RPC 2.0 response ({})", what);
  };
  if (!doc.IsObject()) return shape(doc.IsArray() ? "an array" : "not an object");
  const rapidjson::Value* version = Present(doc, "jsonrpc");
  if (version == nullptr || !version->IsString() ||
      std::string_view(version->GetString(), version->GetStringLength()) != "2.0") {
    return shape("\"jsonrpc\" is not \"2.0\"");
  }
  *result = Present(doc, "result");
  *error = Present(doc, "error");
  if (*result != nullptr && *error != nullptr) return shape("both \"result\" and \"error\"");
  if (*result == nullptr && *error == nullptr) return shape("neither \"result\" nor \"error\"");
  if (*error != nullptr) {
    const rapidjson::Value* code = Present(**error, "code");
    const rapidjson::Value* message = Present(**error, "message");
    if (code == nullptr || !code->IsInt() || message == nullptr || !message->IsString()) {
      return shape("\"error\" is not {\"code\": integer, \"message\": string, ...}");
    }
  }
  const rapidjson::Value* got = Present(doc, "id");
  if (got == nullptr) return shape("no \"id\"");
  // A server that could not read the request's id answers an error with id null.
  bool unread_id = got->IsNull() && *error != nullptr;
  if (!(*got == id) && !unread_id) {
    return fmt::format("response id {} does not match the request id {}", Quoted(*got),
                       Quoted(id));
  }
  return std::nullopt;
}

std::string ErrorText(const rapidjson::Value& error) {
  return fmt::format("error code {} ({})", error["code"].GetInt(), Quoted(error["message"]));
}

class JsonRpcPending final : public PendingIo {
 public:
  JsonRpcPending(Run& run, Instance& instance, const Op& op, const JsonRpcArgs& args,
                 rapidjson::Document expect, bool mandatory)
      : PendingIo(run, instance, op),
        method_(args.method),
        url_(args.url_text),
        notification_(args.notification),
        expect_(std::move(expect)),
        mandatory_(mandatory) {
    if (args.id != nullptr) {
      id_.CopyFrom(*args.id, id_.GetAllocator());
    } else {
      id_.SetInt64(instance.id);
    }
  }

  // Sends `body`; returns the bytes written (for the trace).
  const std::string& Start(IoContext& io, const JsonRpcArgs& args, std::string body,
                           bool keep_raw) {
    if (args.url.framed()) {
      FramedRequest request{args.url, args.tls, std::move(body), !args.notification};
      framed_ = FramedCall::Start(io, std::move(request),
                                  [this](FramedOutcome& outcome) { OnFramed(outcome); });
      return framed_->raw_request();
    }
    http_ = HttpCall::Start(io, PrepareHttpRequest(HttpRequestOf(args, std::move(body))), keep_raw,
                            [this](HttpOutcome& outcome) { OnHttp(outcome); });
    return http_->raw_request();
  }

 private:
  void OnTimeout() override {
    http_.reset();
    framed_.reset();
  }

  void OnHttp(HttpOutcome& outcome) {
    Complete([this, &outcome] {
      if (!outcome.error.empty()) return Failed(outcome.error);
      Trace(outcome.raw_response, outcome.status);
      if (notification_) return Done(nullptr, nullptr);
      std::string_view body = outcome.body;
      if (body.empty()) {
        return Failed(fmt::format("empty response (HTTP status {})", outcome.status));
      }
      return Answer(body, outcome.status);
    });
  }

  void OnFramed(FramedOutcome& outcome) {
    Complete([this, &outcome] {
      if (!outcome.error.empty()) return Failed(outcome.error);
      if (notification_) return Done(nullptr, nullptr);
      Trace(outcome.frame, 0);
      return Answer(outcome.body(), 0);
    });
  }

  bool Failed(std::string_view cause) {
    run().Abort(instance(), op(), fmt::format("JSON-RPC {} {} failed: {}", method_, url_, cause));
    return false;
  }

  void Trace(std::string_view bytes, int http_status) {
    TraceLog::EntryRef entry = TraceMessage(run(), instance(), op(), "jsonrpc", false, bytes);
    entry.SetString("method", method_).SetString("url", url_);
    if (http_status != 0) entry.SetInt("status", http_status);
  }

  // A response body: must be a JSON-RPC 2.0 response to this request.
  bool Answer(std::string_view body, int http_status) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError()) {
      // A proxy's or server's own error page says more through its status.
      if (http_status != 0 && (http_status < 200 || http_status > 299)) {
        return Failed(fmt::format("HTTP status {}, not a JSON-RPC response", http_status));
      }
      return Failed("response is not JSON");
    }
    const rapidjson::Value* result = nullptr;
    const rapidjson::Value* error = nullptr;
    if (std::optional<std::string> problem = ResponseProblem(doc, id_, &result, &error)) {
      return Failed(*problem);
    }
    return Done(result, error);
  }

  bool Done(const rapidjson::Value* result, const rapidjson::Value* error) {
    rapidjson::Document inbound(rapidjson::kObjectType);
    auto& alloc = inbound.GetAllocator();
    if (result != nullptr) inbound.AddMember("result", rapidjson::Value(*result, alloc), alloc);
    if (error != nullptr) inbound.AddMember("error", rapidjson::Value(*error, alloc), alloc);
    inbound.AddMember("time", Elapsed(), alloc);
    if (!SetInbound(run(), instance(), op(), "jsonrpc", inbound)) return false;
    return Expectations(result, error);
  }

  bool Expectations(const rapidjson::Value* result, const rapidjson::Value* error) {
    if (!expect_.IsObject()) return true;
    Run& r = run();
    Instance& inst = instance();
    if (const rapidjson::Value* code = Present(expect_, "error_code")) {
      bool passed = false;
      std::string text;
      if (code->IsNull()) {
        passed = error == nullptr;
        text = passed ? "no error as expected" : fmt::format("{}, expected no error",
                                                             ErrorText(*error));
      } else if (error == nullptr) {
        text = fmt::format("no error, expected error code {}", code->GetInt());
      } else {
        passed = (*error)["code"].GetInt() == code->GetInt();
        text = passed ? fmt::format("error code {} as expected", code->GetInt())
                      : fmt::format("{}, expected {}", ErrorText(*error), code->GetInt());
      }
      if (!Expectation(r, inst, op(), mandatory_, passed, text)) return false;
    }
    if (const rapidjson::Value* paths = Member(expect_, "result")) {
      for (const auto& member : paths->GetObject()) {
        std::string_view path(member.name.GetString(), member.name.GetStringLength());
        std::string what = path.empty() ? "result" : fmt::format("result {}", QuotedString(path));
        std::string text;
        bool passed = false;
        if (result == nullptr) {
          text = fmt::format("no result ({}), expected {} to be {}", ErrorText(*error), what,
                             Quoted(member.value));
        } else if (const rapidjson::Value* got = path.empty() ? result : AtPath(*result, path)) {
          passed = *got == member.value;
          text = passed ? fmt::format("{} is {}", what, Quoted(*got))
                        : fmt::format("{} is {}, expected {}", what, Quoted(*got),
                                      Quoted(member.value));
        } else {
          text = fmt::format("{} is missing, expected {}", what, Quoted(member.value));
        }
        if (!Expectation(r, inst, op(), mandatory_, passed, text)) return false;
      }
    }
    return true;
  }

  std::string method_;
  std::string url_;
  bool notification_;
  rapidjson::Document id_;  // the request's, as the response must echo it
  rapidjson::Document expect_;
  bool mandatory_;
  std::unique_ptr<HttpCall> http_;
  std::unique_ptr<FramedCall> framed_;
};

}  // namespace

void ValidateJsonRpc(const rapidjson::Value& op_json, int op_idx, Problems* problems) {
  ArgCheck check(op_idx, problems);
  JsonRpcArgs parsed;
  if (const rapidjson::Value* args = ObjectAttribute(check, op_json, "arguments", true)) {
    ReadJsonRpcArgs(check, *args, &parsed);
  }
  if (const rapidjson::Value* expect = ObjectAttribute(check, op_json, "expect", false)) {
    CheckJsonRpcExpect(check, *expect, parsed.notification);
  }
  ValidateMandatory(check, op_json);
}

StepOutcome ExecuteJsonRpc(Run& run, Instance& instance, const Op& op) {
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
  JsonRpcArgs parsed;
  if (!args.IsObject()) {
    check.Add("arguments", fmt::format("\"arguments\" must be an object, got {}", Quoted(args)));
  } else {
    ReadJsonRpcArgs(check, args, &parsed);
  }
  if (!expect.IsNull() && !expect.IsObject()) {
    check.Add("expect", fmt::format("\"expect\" must be an object, got {}", Quoted(expect)));
  } else if (expect.IsObject()) {
    CheckJsonRpcExpect(check, expect, parsed.notification);
  }
  if (!check.ok()) {
    run.Abort(instance, op, check.first());
    return StepOutcome::kFinished;
  }
  std::string body = RequestBody(parsed, instance.id);
  std::string timeout_text = fmt::format("JSON-RPC {} {} timed out after {} seconds",
                                         parsed.method, parsed.url_text, parsed.timeout_text);
  auto pending = std::make_unique<JsonRpcPending>(run, instance, op, parsed, std::move(expect),
                                                  mandatory);
  JsonRpcPending* p = pending.get();
  IoOf(instance).pending = std::move(pending);  // frees the previous op's (spent) wait
  bool keep_raw = run.MessageLog(instance) != nullptr;
  const std::string& sent = p->Start(*run.io(), parsed, std::move(body), keep_raw);
  TraceMessage(run, instance, op, "jsonrpc", true, sent)
      .SetString("method", parsed.method)
      .SetString("url", parsed.url_text);
  p->Park(parsed.timeout, std::move(timeout_text));
  return StepOutcome::kParked;
}

}  // namespace testrund::ops
