// SPDX-License-Identifier: Apache-2.0
// Deferred methods (rpc/reply.h, a coordinator's rows) through Dispatcher::Handle with a
// ResponseSink, no sockets: a single call answered later, a batch answered when its last
// element is (in request order, with immediate rows and notifications mixed in), a Reply
// dropped unsent (-32603), a client that left before the answer, and the errors a deferred
// row shares with every row (unknown method, role, envelope) answered at once.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include "rpc/dispatcher.h"
#include "rpc/methods.h"
#include "rpc/reply.h"
#include "test/fakes/test_limits.h"

namespace testrund::rpc {
namespace {

Outcome Now(const rapidjson::Value& /*params*/, MethodContext& /*ctx*/) {
  return rapidjson::Value("now");
}

struct Sink : ResponseSink {
  void OnResponse(std::optional<std::string> response) override {
    responses.push_back(std::move(response));
  }
  std::vector<std::optional<std::string>> responses;
};

struct Fixture {
  Fixture() {
    REQUIRE(table.Add({"now", Role::kObserver, &Now}));
    // "later" keeps its Reply until the test sends it, echoing params.x.
    REQUIRE(table.AddDeferred("later", Role::kObserver,
                              [this](const rapidjson::Value& params, MethodContext&, Reply r) {
                                int x = params.HasMember("x") ? params["x"].GetInt() : 0;
                                waiting.emplace_back(x, std::move(r));
                              }));
    REQUIRE(table.AddDeferred("admin", Role::kOperator,
                              [](const rapidjson::Value&, MethodContext&, Reply r) {
                                r.Send(Outcome(rapidjson::Value("done")));
                              }));
    dispatcher.emplace(table, test::TestDispatchLimits(),
                       [](std::string_view token) -> std::optional<Role> {
                         if (token == "obs") return Role::kObserver;
                         return std::nullopt;
                       });
  }
  Answer Handle(std::string_view body, const Caller& caller = {}) {
    return dispatcher->Handle(body, caller, sink);
  }
  // Answers the oldest waiting request with its x * 10.
  void AnswerNext() {
    auto [x, reply] = std::move(waiting.front());
    waiting.erase(waiting.begin());
    reply.Send(Outcome(rapidjson::Value(x * 10)));
  }

  ServerState state;
  MethodTable table{state};
  std::optional<Dispatcher> dispatcher;
  Sink sink;
  std::vector<std::pair<int, Reply>> waiting;
};

TEST_CASE("a deferred call is answered through the sink once its Reply is sent", "[unit]") {
  Fixture f;
  CHECK(f.table.has_deferred());
  Answer answer = f.Handle(R"({"jsonrpc":"2.0","id":1,"method":"later","params":{"x":4}})");
  CHECK(!answer.response);
  CHECK(answer.pending);
  CHECK(f.sink.responses.empty());
  f.AnswerNext();
  REQUIRE(f.sink.responses.size() == 1);
  CHECK(f.sink.responses[0] == R"({"jsonrpc":"2.0","result":40,"id":1})");
}

TEST_CASE("a deferred row that answers at once, and immediate rows, answer at once", "[unit]") {
  Fixture f;
  Answer now = f.Handle(R"({"jsonrpc":"2.0","id":"a","method":"now"})");
  CHECK(now.response == R"({"jsonrpc":"2.0","result":"now","id":"a"})");
  CHECK(!now.pending);
  Answer admin = f.Handle(R"({"jsonrpc":"2.0","id":2,"method":"admin"})");
  CHECK(admin.response == R"({"jsonrpc":"2.0","result":"done","id":2})");
  CHECK(f.sink.responses.empty());
}

TEST_CASE("a batch is answered when its last element is, in request order", "[unit]") {
  Fixture f;
  Answer answer = f.Handle(R"([
    {"jsonrpc":"2.0","id":1,"method":"later","params":{"x":1}},
    {"jsonrpc":"2.0","id":2,"method":"now"},
    {"jsonrpc":"2.0","method":"later","params":{"x":3}},
    {"jsonrpc":"2.0","id":4,"method":"later","params":{"x":4}},
    {"jsonrpc":"2.0","id":5,"method":"nope"}])");
  CHECK(answer.pending);
  REQUIRE(f.waiting.size() == 3);
  // Answered out of order: the last first.
  auto last = std::move(f.waiting.back());
  f.waiting.pop_back();
  last.second.Send(Outcome(rapidjson::Value(last.first * 10)));
  f.AnswerNext();
  CHECK(f.sink.responses.empty());
  f.AnswerNext();  // the notification's: nothing of it is sent
  REQUIRE(f.sink.responses.size() == 1);
  INFO(f.sink.responses[0].value_or("(none)"));
  CHECK(f.sink.responses[0] ==
        R"([{"jsonrpc":"2.0","result":10,"id":1},{"jsonrpc":"2.0","result":"now","id":2},)"
        R"({"jsonrpc":"2.0","result":40,"id":4},)"
        R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found: \"nope\""},"id":5}])");
}

TEST_CASE("a batch of deferred notifications only sends nothing", "[unit]") {
  Fixture f;
  Answer answer = f.Handle(R"([{"jsonrpc":"2.0","method":"later"},{"jsonrpc":"2.0","method":"later"}])");
  CHECK(answer.pending);
  f.AnswerNext();
  f.AnswerNext();
  REQUIRE(f.sink.responses.size() == 1);
  CHECK(!f.sink.responses[0]);
}

TEST_CASE("a Reply dropped unsent answers -32603", "[unit]") {
  Fixture f;
  Answer answer = f.Handle(R"({"jsonrpc":"2.0","id":7,"method":"later"})");
  f.waiting.clear();
  REQUIRE(f.sink.responses.size() == 1);
  CHECK(f.sink.responses[0]->find(R"("code":-32603)") != std::string::npos);
  CHECK(f.sink.responses[0]->find(R"("id":7)") != std::string::npos);
}

TEST_CASE("a client that left first: the late answer is dropped", "[unit]") {
  Fixture f;
  {
    Answer answer = f.Handle(R"({"jsonrpc":"2.0","id":8,"method":"later"})");
    CHECK(answer.pending);
  }  // the connection is gone: its PendingResponse with it
  f.AnswerNext();
  CHECK(f.sink.responses.empty());
}

TEST_CASE("deferred rows keep the envelope's checks: role, parse error", "[unit]") {
  Fixture f;
  Caller framed{true, std::nullopt};
  Answer role = f.Handle(R"({"jsonrpc":"2.0","id":1,"method":"admin","auth":"obs"})", framed);
  REQUIRE(role.response);
  CHECK(role.response->find(R"("code":-32011)") != std::string::npos);
  Answer bad = f.Handle(R"({"jsonrpc":)");
  REQUIRE(bad.response);
  CHECK(bad.response->find(R"("code":-32700)") != std::string::npos);
  CHECK(f.waiting.empty());
}

}  // namespace
}  // namespace testrund::rpc
