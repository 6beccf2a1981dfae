// SPDX-License-Identifier: Apache-2.0
// The `jsonrpc` op (docs/protocol-ops.md#jsonrpc): one JSON-RPC 2.0 request, over HTTP (http:// and https:// URLs:
// a POST on the pooled HTTP client of the http op) or over the N2SVCD length-prefixed
// framing (tcp:// and tls:// URLs: ops/net/framed_client.h, one connection per request).
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

#include "ops/base/json_writer.h"
#include "ops/net/framed_client.h"
#include "ops/net/http_client.h"
#include "ops/op_table.h"
#include "ops/protocol/http_args.h"
#include "ops/protocol/op_protocol.h"
#include "ops/protocol/protocol_ops.h"

namespace testrund::ops {
namespace {

struct JsonRpcArgs : OpParts {
  HttpTarget target;
  std::string method;
  const rapidjson::Value* params = nullptr;  // points into `arguments`
  const rapidjson::Value* id = nullptr;      // points into `arguments`; nullptr: instance id
  bool notification = false;
  bool has_auth = false;
  std::string auth;
};

void ReadIds(ParamReader& args, JsonRpcArgs* out) {
  if (auto notification = args.OptionalBool("notification")) out->notification = *notification;
  const rapidjson::Value* id = args.Get("id");
  if (id == nullptr || args.Deferred(*id)) return;
  if (out->notification) {
    args.AddProblem("id", "is not allowed in a notification");
  } else if (id->IsString() || id->IsInt64()) {
    out->id = id;
  } else {
    args.WrongType("id", "a string or an integer", *id);
  }
}

void CheckJsonRpcExpect(ParamReader& expect, bool notification) {
  if (!expect.object().IsObject()) return;
  if (notification) {
    expect.AddProblem("", R"(is not allowed with "arguments.notification": true (a )"
                          "notification gets no response)");
    return;
  }
  if (const rapidjson::Value* code = MemberOrNull(expect.object(), "error_code");
      code != nullptr && !expect.Deferred(*code) && !code->IsNull() && !code->IsInt()) {
    expect.WrongType("error_code", "an integer or null", *code);
  }
  (void)expect.OptionalObject("result");
}

void ReadJsonRpc(ParamReader& args, ParamReader& expect, JsonRpcArgs* out) {
  ReadHttpTarget(args, /*allow_tcp=*/true, &out->target);
  if (args.Get("headers") != nullptr && out->target.url.framed()) {
    args.AddProblem("headers", fmt::format("apply to http:// and https:// URLs only, not to "
                                           "{}:// ones",
                                           out->target.url.scheme));
  }
  if (auto method = ReadLiteral(args, "method")) {
    if (method->empty()) args.AddProblem("method", "must not be empty");
    out->method = *method;
  } else if (args.Get("method") == nullptr) {
    args.Missing("method");
  }
  if (const rapidjson::Value* params = args.Get("params");
      params != nullptr && !args.Deferred(*params)) {
    if (params->IsObject() || params->IsArray()) {
      out->params = params;
    } else {
      args.WrongType("params", "an object or an array", *params);
    }
  }
  ReadIds(args, out);
  if (auto auth = ReadLiteral(args, "auth")) {
    out->has_auth = true;
    out->auth = *auth;
  }
  CheckJsonRpcExpect(expect, out->notification);
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
  if (args.has_auth && args.target.url.framed()) {
    doc.AddMember("auth", rapidjson::Value(args.auth, alloc), alloc);
  }
  return JsonText(doc);
}

HttpRequest HttpRequestOf(const JsonRpcArgs& args, std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.url = args.target.url;
  request.tls = args.target.tls;
  request.headers = args.target.headers;
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
  const rapidjson::Value* version = MemberOrNull(doc, "jsonrpc");
  if (version == nullptr || !version->IsString() ||
      std::string_view(version->GetString(), version->GetStringLength()) != "2.0") {
    return shape("\"jsonrpc\" is not \"2.0\"");
  }
  *result = MemberOrNull(doc, "result");
  *error = MemberOrNull(doc, "error");
  if (*result != nullptr && *error != nullptr) return shape("both \"result\" and \"error\"");
  if (*result == nullptr && *error == nullptr) return shape("neither \"result\" nor \"error\"");
  if (*error != nullptr) {
    const rapidjson::Value* code = MemberOrNull(**error, "code");
    const rapidjson::Value* message = MemberOrNull(**error, "message");
    if (code == nullptr || !code->IsInt() || message == nullptr || !message->IsString()) {
      return shape("\"error\" is not {\"code\": integer, \"message\": string, ...}");
    }
  }
  const rapidjson::Value* got = MemberOrNull(doc, "id");
  if (got == nullptr) return shape("no \"id\"");
  // A server that could not read the request's id answers an error with id null.
  bool unread_id = got->IsNull() && *error != nullptr;
  if (!(*got == id) && !unread_id) {
    return fmt::format("response id {} does not match the request id {}", JsonText(*got),
                       JsonText(id));
  }
  return std::nullopt;
}

std::string ErrorText(const rapidjson::Value& error) {
  return fmt::format("error code {} ({})", error["code"].GetInt(), JsonText(error["message"]));
}

class JsonRpcPending final : public PendingIo {
 public:
  JsonRpcPending(const OpContext& ctx, std::shared_ptr<const JsonRpcArgs> args)
      : PendingIo(ctx),
        args_(std::move(args)),
        method_(args_->method),
        url_(args_->target.url_text) {
    if (args_->id != nullptr) {
      id_.CopyFrom(*args_->id, id_.GetAllocator());
    } else {
      id_.SetInt64(PendingIo::ctx().instance().id);
    }
  }

  // Sends `body`; returns the bytes written (for the trace).
  const std::string& Start(IoContext& io, std::string body, bool keep_raw) {
    const JsonRpcArgs& args = *args_;
    if (args.target.url.framed()) {
      FramedRequest request{args.target.url, args.target.tls, std::move(body),
                            !args.notification};
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
      if (args_->notification) return Done(nullptr, nullptr);
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
      if (args_->notification) return Done(nullptr, nullptr);
      Trace(outcome.frame, 0);
      return Answer(outcome.body(), 0);
    });
  }

  bool Failed(std::string_view cause) {
    ctx().Abort(fmt::format("JSON-RPC {} {} failed: {}", method_, url_, cause));
    return false;
  }

  void Trace(std::string_view bytes, int http_status) {
    TraceLog::EntryRef entry = TraceMessage(ctx(), "jsonrpc", false, bytes);
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
    if (!SetInbound(ctx(), "jsonrpc", inbound)) return false;
    return Expectations(result, error);
  }

  bool Expectations(const rapidjson::Value* result, const rapidjson::Value* error) {
    const rapidjson::Value& expect = args_->expect;
    if (!expect.IsObject()) return true;
    if (const rapidjson::Value* code = MemberOrNull(expect, "error_code")) {
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
      if (!Expectation(ctx(), args_->mandatory, passed, text)) return false;
    }
    if (const rapidjson::Value* paths = MemberOrNull(expect, "result");
        paths != nullptr && paths->IsObject()) {
      for (const auto& member : paths->GetObject()) {
        std::string_view path(member.name.GetString(), member.name.GetStringLength());
        std::string what = path.empty() ? "result" : fmt::format("result {}", JsonString(path));
        std::string text;
        bool passed = false;
        if (result == nullptr) {
          text = fmt::format("no result ({}), expected {} to be {}", ErrorText(*error), what,
                             JsonText(member.value));
        } else if (const rapidjson::Value* got = path.empty() ? result : AtPath(*result, path)) {
          passed = *got == member.value;
          text = passed ? fmt::format("{} is {}", what, JsonText(*got))
                        : fmt::format("{} is {}, expected {}", what, JsonText(*got),
                                      JsonText(member.value));
        } else {
          text = fmt::format("{} is missing, expected {}", what, JsonText(member.value));
        }
        if (!Expectation(ctx(), args_->mandatory, passed, text)) return false;
      }
    }
    return true;
  }

  std::shared_ptr<const JsonRpcArgs> args_;
  const std::string& method_;
  const std::string& url_;
  rapidjson::Document id_;  // the request's, as the response must echo it
  std::unique_ptr<HttpCall> http_;
  std::unique_ptr<FramedCall> framed_;
};

StepOutcome ExecuteJsonRpc(OpContext& ctx) {
  std::shared_ptr<const JsonRpcArgs> args = ReadOp(ctx, &ReadJsonRpc);
  if (args == nullptr) return StepOutcome::kFinished;
  std::string body = RequestBody(*args, ctx.instance().id);
  std::string timeout_text = fmt::format("JSON-RPC {} {} timed out after {} seconds",
                                         args->method, args->target.url_text,
                                         args->target.timeout_text);
  auto pending = std::make_unique<JsonRpcPending>(ctx, args);
  JsonRpcPending* p = pending.get();
  IoOf(ctx.instance()).pending = std::move(pending);  // frees the previous op's (spent) wait
  bool keep_raw = ctx.MessageLog() != nullptr;
  const std::string& sent = p->Start(*ctx.io(), std::move(body), keep_raw);
  TraceMessage(ctx, "jsonrpc", true, sent)
      .SetString("method", args->method)
      .SetString("url", args->target.url_text);
  p->Park(args->target.timeout, std::move(timeout_text));
  return StepOutcome::kParked;
}

constexpr AttributeSpec kJsonRpcAttributes[] = {
    {"arguments", AttrKind::kObject, true, Slot::kArguments},
    {"expect", AttrKind::kObject, false, Slot::kExpect},
    {"mandatory", AttrKind::kFlag, false, Slot::kMandatory},
};

constexpr OpTypeSpec kJsonRpcOps[] = {
    {"jsonrpc", kJsonRpcAttributes, &ExecuteJsonRpc, true, true,
     &ValidateWith<JsonRpcArgs, &ReadJsonRpc>},
};

}  // namespace

std::span<const OpTypeSpec> JsonRpcOpTypes() { return kJsonRpcOps; }

}  // namespace testrund::ops
