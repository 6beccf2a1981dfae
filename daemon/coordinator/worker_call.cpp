// SPDX-License-Identifier: Apache-2.0
// WorkerCall (see worker_call.h).
#include "daemon/coordinator/worker_call.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace testrund::daemon {
namespace {

// Reads the response text into `answer`; a failure when it is not a JSON-RPC response.
void ParseAnswer(std::string_view body, WorkerAnswer& answer) {
  answer.response.Parse(body.data(), body.size());
  if (answer.response.HasParseError() || !answer.response.IsObject()) {
    answer.failure = "the answer is not a JSON-RPC response";
    return;
  }
  auto result = answer.response.FindMember("result");
  auto error = answer.response.FindMember("error");
  if (result != answer.response.MemberEnd()) {
    answer.result = &result->value;
  } else if (error != answer.response.MemberEnd() && error->value.IsObject() &&
             error->value.HasMember("code") && error->value["code"].IsInt()) {
    answer.error = &error->value;
  } else {
    answer.failure = "the answer is not a JSON-RPC response";
  }
}

}  // namespace

std::string WorkerRequest(std::string_view method, const rapidjson::Value& params,
                          const std::string& token) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("id");
  w.Int(1);
  w.Key("method");
  w.String(method.data(), static_cast<rapidjson::SizeType>(method.size()));
  w.Key("params");
  params.Accept(w);
  if (!token.empty()) {
    w.Key("auth");
    w.String(token.data(), static_cast<rapidjson::SizeType>(token.size()));
  }
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

std::unique_ptr<WorkerCall> WorkerCall::Start(ops::IoContext& io, const WorkerAddress& worker,
                                              std::string request, ops::MonoNs timeout,
                                              OnDone on_done) {
  std::unique_ptr<WorkerCall> call(new WorkerCall(std::move(on_done)));
  WorkerCall* self = call.get();
  self->timer_ = io.clock().NewTimer([self] { self->OnTimeout(); });
  self->timer_->ArmAt(io.clock().Now() + timeout);
  ops::FramedRequest framed;
  framed.url.scheme = "tcp";
  framed.url.host = worker.host;
  framed.url.port = worker.port;
  framed.body = std::move(request);
  self->call_ = ops::FramedCall::Start(
      io, std::move(framed), [self](ops::FramedOutcome& outcome) { self->OnFramed(outcome); });
  return call;
}

WorkerCall::~WorkerCall() = default;

void WorkerCall::OnFramed(ops::FramedOutcome& outcome) {
  if (done_) return;
  WorkerAnswer answer;
  if (!outcome.error.empty()) {
    answer.failure = outcome.error;
  } else {
    ParseAnswer(outcome.body(), answer);
  }
  Finish(answer);
}

void WorkerCall::OnTimeout() {
  if (done_) return;
  // Closes the connection; the framed call reports nothing after this.
  call_.reset();
  WorkerAnswer answer;
  answer.failure = "no answer within worker_timeout";
  Finish(answer);
}

void WorkerCall::Finish(WorkerAnswer& answer) {
  done_ = true;
  timer_->Cancel();
  OnDone on_done = std::move(on_done_);
  on_done(answer);
}

}  // namespace testrund::daemon
