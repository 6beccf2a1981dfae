// SPDX-License-Identifier: Apache-2.0
// The JSON-RPC 2.0 envelope through Dispatcher::Handle, with no sockets: every example of the
// JSON-RPC 2.0 specification (positional params adapted to by-name, since
// docs/api.md#2-the-json-rpc-20-envelope makes a non-empty array -32602), the error table, ids
// echoed with their type, the depth limit, bad UTF-8, and authorisation by token and role.
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "rpc/dispatcher.h"
#include "rpc/errors.h"
#include "rpc/methods.h"
#include "ops/base/param_reader.h"
#include "rpc/params.h"
#include "test/fakes/test_limits.h"

namespace testrund::rpc {
namespace {

// Calls made to notification-style methods, so tests can see a notification ran.
int g_update_calls = 0;
int g_hello_calls = 0;

// subtract by name; errors are built in the context's allocator, as handlers must.
Outcome SubtractChecked(const rapidjson::Value& params, MethodContext& ctx) {
  ops::ParamReader p(params);
  int64_t minuend = p.RequiredInt("minuend");
  int64_t subtrahend = p.RequiredInt("subtrahend");
  if (!p.ok()) return InvalidParams(p.problems(), ctx.allocator);
  return rapidjson::Value(minuend - subtrahend);
}

// Sums every member of params (the by-name form of the spec's sum([1,2,4])).
Outcome Sum(const rapidjson::Value& params, MethodContext& /*ctx*/) {
  int64_t total = 0;
  for (const auto& m : params.GetObject()) {
    if (m.value.IsInt64()) total += m.value.GetInt64();
  }
  return rapidjson::Value(total);
}

Outcome NotifyHello(const rapidjson::Value& /*params*/, MethodContext& /*ctx*/) {
  ++g_hello_calls;
  return rapidjson::Value();
}

Outcome Update(const rapidjson::Value& /*params*/, MethodContext& /*ctx*/) {
  ++g_update_calls;
  return rapidjson::Value();
}

Outcome GetData(const rapidjson::Value& /*params*/, MethodContext& ctx) {
  rapidjson::Value r(rapidjson::kArrayType);
  r.PushBack("hello", ctx.allocator).PushBack(5, ctx.allocator);
  return r;
}

// Returns a deep copy of its params.
Outcome Echo(const rapidjson::Value& params, MethodContext& ctx) {
  return rapidjson::Value(params, ctx.allocator);
}

// Fails with the code given as `code`, the table's default message and data {"code"}.
Outcome Fail(const rapidjson::Value& params, MethodContext& ctx) {
  ops::ParamReader p(params);
  int64_t code = p.RequiredInt("code");
  if (!p.ok()) return InvalidParams(p.problems(), ctx.allocator);
  const ErrorInfo* info = FindError(static_cast<int>(code));
  REQUIRE(info != nullptr);
  rapidjson::Value data(rapidjson::kObjectType);
  data.AddMember("code", static_cast<int>(code), ctx.allocator);
  return RpcError(info->code, std::string(info->message), std::move(data));
}

Outcome Throw(const rapidjson::Value& /*params*/, MethodContext& /*ctx*/) {
  throw std::runtime_error("boom");
}

// A 1 MiB string.
Outcome Big(const rapidjson::Value& /*params*/, MethodContext& ctx) {
  std::string big(1 << 20, 'x');
  return rapidjson::Value(big, ctx.allocator);
}

// Throws with text that is not UTF-8, as a Lua error or a peer's bytes may be.
Outcome ThrowBytes(const rapidjson::Value& /*params*/, MethodContext& /*ctx*/) {
  throw std::runtime_error("bad \xff\xfe byte \xe2\x82");
}

Outcome NotANumber(const rapidjson::Value& /*params*/, MethodContext& /*ctx*/) {
  return rapidjson::Value(std::numeric_limits<double>::quiet_NaN());
}

Outcome WhoAmI(const rapidjson::Value& /*params*/, MethodContext& ctx) {
  return rapidjson::Value(ctx.role == Role::kOperator ? "operator" : "observer",
                          ctx.allocator);
}

// A table of the spec's example methods plus test helpers. "ReadOnly" stands for the
// observer methods (QueryTest, ListTests, GetServerInfo); everything else needs operator.
struct Fixture {
  ServerState state;
  MethodTable table{state};
  std::optional<Dispatcher> dispatcher;

  explicit Fixture(DispatchLimits limits = test::TestDispatchLimits()) {
    REQUIRE(table.Add({"subtract", Role::kOperator, &SubtractChecked}));
    REQUIRE(table.Add({"sum", Role::kOperator, &Sum}));
    REQUIRE(table.Add({"notify_hello", Role::kOperator, &NotifyHello}));
    REQUIRE(table.Add({"notify_sum", Role::kOperator, &Sum}));
    REQUIRE(table.Add({"update", Role::kOperator, &Update}));
    REQUIRE(table.Add({"get_data", Role::kOperator, &GetData}));
    REQUIRE(table.Add({"echo", Role::kOperator, &Echo}));
    REQUIRE(table.Add({"fail", Role::kOperator, &Fail}));
    REQUIRE(table.Add({"throw", Role::kOperator, &Throw}));
    REQUIRE(table.Add({"throw_bytes", Role::kOperator, &ThrowBytes}));
    REQUIRE(table.Add({"nan", Role::kOperator, &NotANumber}));
    REQUIRE(table.Add({"big", Role::kObserver, &Big}));
    REQUIRE(table.Add({"ReadOnly", Role::kObserver, &WhoAmI}));
    dispatcher.emplace(table, limits, [](std::string_view token) -> std::optional<Role> {
      if (token == "op-token") return Role::kOperator;
      if (token == "obs-token") return Role::kObserver;
      return std::nullopt;
    });
  }

  std::optional<std::string> Raw(std::string_view body, const Caller& caller = {}) {
    return dispatcher->Handle(body, caller);
  }

  // The response, parsed; fails the test when there is none or it is not JSON.
  rapidjson::Document Call(std::string_view body, const Caller& caller = {}) {
    std::optional<std::string> out = Raw(body, caller);
    REQUIRE(out.has_value());
    rapidjson::Document d;
    d.Parse(out->data(), out->size());
    INFO(*out);
    REQUIRE_FALSE(d.HasParseError());
    return d;
  }
};

rapidjson::Document ParseDoc(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

// Exactly {"jsonrpc":"2.0","result":<result>,"id":<id>}.
void RequireResult(const rapidjson::Value& r, std::string_view result, std::string_view id) {
  REQUIRE(r.IsObject());
  CHECK(r.MemberCount() == 3);
  REQUIRE(r.HasMember("jsonrpc"));
  CHECK(r["jsonrpc"] == "2.0");
  REQUIRE(r.HasMember("result"));
  CHECK(r["result"] == ParseDoc(result));
  REQUIRE(r.HasMember("id"));
  CHECK(r["id"] == ParseDoc(id));
}

// Exactly {"jsonrpc":"2.0","error":{"code":<code>,"message":<default...>,"data"?},"id":<id>}.
void RequireError(const rapidjson::Value& r, ErrorCode code, std::string_view id) {
  REQUIRE(r.IsObject());
  CHECK(r.MemberCount() == 3);
  REQUIRE(r.HasMember("jsonrpc"));
  CHECK(r["jsonrpc"] == "2.0");
  REQUIRE(r.HasMember("id"));
  CHECK(r["id"] == ParseDoc(id));
  REQUIRE(r.HasMember("error"));
  const rapidjson::Value& e = r["error"];
  REQUIRE(e.IsObject());
  REQUIRE(e.HasMember("code"));
  CHECK(e["code"].GetInt() == ToInt(code));
  REQUIRE(e.HasMember("message"));
  REQUIRE(e["message"].IsString());
  // The message opens with the table's default, then may say more.
  CHECK_THAT(e["message"].GetString(), Catch::StartsWith(std::string(DefaultMessage(code))));
  CHECK(e.MemberCount() == (e.HasMember("data") ? 3u : 2u));
}

std::string Message(const rapidjson::Value& r) { return r["error"]["message"].GetString(); }

// Finds the batch response with this id (order is free, docs/api.md#2-the-json-rpc-20-envelope).
const rapidjson::Value& ById(const rapidjson::Value& batch, const rapidjson::Value& id) {
  for (const rapidjson::Value& r : batch.GetArray()) {
    if (r["id"] == id) return r;
  }
  FAIL("no response with that id");
  return batch;
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call with named parameters", "[unit]") {
  Fixture f;
  RequireResult(
      f.Call(R"({"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3})"),
      "19", "3");
  RequireResult(
      f.Call(R"({"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4})"),
      "19", "4");
}

TEST_CASE("JSON-RPC 2.0 spec: positional parameters, adapted to by-name", "[unit]") {
  Fixture f;
  // The spec's {"params": [42, 23], "id": 1} -> 19 and [23, 42], id 2 -> -19, by name:
  RequireResult(
      f.Call(R"({"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 1})"),
      "19", "1");
  RequireResult(
      f.Call(R"({"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 23, "subtrahend": 42}, "id": 2})"),
      "-19", "2");
  // ... and positional params themselves are -32602 for every method
  // (docs/api.md#2-the-json-rpc-20-envelope).
  rapidjson::Document r =
      f.Call(R"({"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1})");
  RequireError(r, ErrorCode::kInvalidParams, "1");
  CHECK(Message(r) ==
        "Invalid params: params must be an object (by-name); positional params are not "
        "supported");
  CHECK(r["error"]["data"] == ParseDoc(R"([{"field": "params", "problem":
      "must be an object (by-name); positional params are not supported"}])"));
  RequireError(f.Call(R"({"jsonrpc": "2.0", "method": "get_data", "params": [1], "id": 7})"),
               ErrorCode::kInvalidParams, "7");
}

TEST_CASE("JSON-RPC 2.0 spec: notifications get no response", "[unit]") {
  Fixture f;
  g_update_calls = 0;
  CHECK_FALSE(f.Raw(R"({"jsonrpc": "2.0", "method": "update", "params": {"a": 1}})"));
  CHECK(g_update_calls == 1);  // executed
  // The spec's positional form: an invalid-params notification, still not answered.
  CHECK_FALSE(f.Raw(R"({"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]})"));
  CHECK(g_update_calls == 1);
  // A notification of a method that does not exist: not answered either.
  CHECK_FALSE(f.Raw(R"({"jsonrpc": "2.0", "method": "foobar"})"));
  // A failing notification is not answered.
  CHECK_FALSE(f.Raw(R"({"jsonrpc": "2.0", "method": "fail", "params": {"code": -32001}})"));
  CHECK_FALSE(f.Raw(R"({"jsonrpc": "2.0", "method": "throw"})"));
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call of non-existent method", "[unit]") {
  Fixture f;
  rapidjson::Document r = f.Call(R"({"jsonrpc": "2.0", "method": "foobar", "id": "1"})");
  RequireError(r, ErrorCode::kMethodNotFound, R"("1")");
  CHECK(Message(r) == R"(Method not found: "foobar")");
}

TEST_CASE("A method name with NUL is quoted whole, the NUL escaped", "[unit]") {
  Fixture f;
  std::optional<std::string> out =
      f.Raw(R"({"jsonrpc":"2.0","method":"Query\u0000Test","id":1})");
  REQUIRE(out);
  CHECK(*out ==
        R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found: \"Query\u0000Test\""},"id":1})");
  out = f.Raw(R"({"jsonrpc":"2.0","method":"sub\u0000tract","id":1,"auth":"obs-token"})",
              Caller{true, std::nullopt});
  REQUIRE(out);
  CHECK(*out ==
        R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found: \"sub\u0000tract\""},"id":1})");
}

TEST_CASE("An error message that is not UTF-8 is written with U+FFFD", "[unit]") {
  Fixture f;
  std::optional<std::string> out = f.Raw(R"({"jsonrpc":"2.0","method":"throw_bytes","id":1})");
  REQUIRE(out);
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(out->data(), out->size());
  INFO(*out);
  REQUIRE_FALSE(d.HasParseError());
  RequireError(d, ErrorCode::kInternalError, "1");
  CHECK(Message(d) == "Internal error: bad \xEF\xBF\xBD\xEF\xBF\xBD byte \xEF\xBF\xBD");
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call with invalid JSON", "[unit]") {
  Fixture f;
  rapidjson::Document r =
      f.Call(R"({"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz])");
  RequireError(r, ErrorCode::kParseError, "null");
  CHECK(Message(r) == "Parse error: Missing a comma or '}' after an object member at offset 39");
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call with invalid Request object", "[unit]") {
  Fixture f;
  rapidjson::Document r = f.Call(R"({"jsonrpc": "2.0", "method": 1, "params": "bar"})");
  RequireError(r, ErrorCode::kInvalidRequest, "null");
  CHECK(Message(r) == R"(Invalid Request: "method" must be a string)");
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call Batch, invalid JSON", "[unit]") {
  Fixture f;
  rapidjson::Document r = f.Call(R"([
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
])");
  RequireError(r, ErrorCode::kParseError, "null");
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call with an empty Array", "[unit]") {
  Fixture f;
  rapidjson::Document r = f.Call("[]");
  RequireError(r, ErrorCode::kInvalidRequest, "null");
  CHECK(Message(r) == "Invalid Request: empty batch");
  RequireError(f.Call(" [ ] "), ErrorCode::kInvalidRequest, "null");
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call with an invalid Batch (but not empty)", "[unit]") {
  Fixture f;
  rapidjson::Document r = f.Call("[1]");
  REQUIRE(r.IsArray());
  REQUIRE(r.Size() == 1);
  RequireError(r[0], ErrorCode::kInvalidRequest, "null");
  CHECK(Message(r[0]) == "Invalid Request: a request must be an object");
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call with invalid Batch", "[unit]") {
  Fixture f;
  rapidjson::Document r = f.Call("[1,2,3]");
  REQUIRE(r.IsArray());
  REQUIRE(r.Size() == 3);
  for (const rapidjson::Value& e : r.GetArray()) {
    RequireError(e, ErrorCode::kInvalidRequest, "null");
  }
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call Batch", "[unit]") {
  Fixture f;
  g_hello_calls = 0;
  // The spec's batch with the positional params written by name.
  rapidjson::Document r = f.Call(R"([
    {"jsonrpc": "2.0", "method": "sum", "params": {"a": 1, "b": 2, "c": 4}, "id": "1"},
    {"jsonrpc": "2.0", "method": "notify_hello", "params": {"n": 7}},
    {"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": "2"},
    {"foo": "boo"},
    {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
    {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
  ])");
  CHECK(g_hello_calls == 1);
  REQUIRE(r.IsArray());
  REQUIRE(r.Size() == 5);
  RequireResult(ById(r, ParseDoc(R"("1")")), "7", R"("1")");
  RequireResult(ById(r, ParseDoc(R"("2")")), "19", R"("2")");
  RequireError(ById(r, ParseDoc("null")), ErrorCode::kInvalidRequest, "null");
  CHECK(Message(ById(r, ParseDoc("null"))) ==
        R"(Invalid Request: "jsonrpc" must be exactly "2.0")");
  RequireError(ById(r, ParseDoc(R"("5")")), ErrorCode::kMethodNotFound, R"("5")");
  RequireResult(ById(r, ParseDoc(R"("9")")), R"(["hello", 5])", R"("9")");
  // We answer in request order (the spec allows any).
  CHECK(r[0]["id"] == "1");
  CHECK(r[1]["id"] == "2");
  CHECK(r[2]["id"].IsNull());
  CHECK(r[3]["id"] == "5");
  CHECK(r[4]["id"] == "9");
}

TEST_CASE("A batch stops executing requests once its responses pass 64 MiB", "[unit]") {
  Fixture f;
  g_update_calls = 0;
  std::string body = "[";
  for (int k = 0; k < 70; ++k) {
    body += fmt::format(R"({{"jsonrpc": "2.0", "method": "big", "id": {}}},)", k);
  }
  body += R"({"jsonrpc": "2.0", "method": "update"}, {"jsonrpc": "2.0", "method": "nosuch", "id": 99}])";
  rapidjson::Document r = f.Call(body);
  REQUIRE(r.IsArray());
  REQUIRE(r.Size() == 71);
  // 64 responses of 1 MiB reach the limit; the requests after them are answered, not run.
  for (int k = 0; k < 64; ++k) {
    CHECK(r[k]["result"].GetStringLength() == 1u << 20);
  }
  for (int k = 64; k < 70; ++k) {
    RequireError(r[k], ErrorCode::kServerLimit, std::to_string(k));
    CHECK(Message(r[k]) == "Server limit reached: the batch's responses are over 67108864 "
                           "bytes; request not executed");
  }
  CHECK(g_update_calls == 0);  // a notification past the limit is not run either
  // Envelope errors and unknown methods are still told as such.
  RequireError(r[70], ErrorCode::kMethodNotFound, "99");
  // The next body starts afresh.
  CHECK(f.Call(R"({"jsonrpc": "2.0", "method": "big", "id": 1})")["result"].IsString());
}

TEST_CASE("JSON-RPC 2.0 spec: rpc call Batch (all notifications)", "[unit]") {
  Fixture f;
  g_hello_calls = 0;
  CHECK_FALSE(f.Raw(R"([
    {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
    {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
  ])"));
  CHECK(g_hello_calls == 0);  // positional params: -32602, which a notification never hears
  CHECK_FALSE(f.Raw(R"([
    {"jsonrpc": "2.0", "method": "notify_sum", "params": {"a": 1}},
    {"jsonrpc": "2.0", "method": "notify_hello", "params": {"n": 7}}
  ])"));
  CHECK(g_hello_calls == 1);
}

TEST_CASE("Request validation", "[unit]") {
  Fixture f;
  SECTION("jsonrpc must be exactly \"2.0\"") {
    for (const char* body : {R"({"method": "sum", "id": 1})",
                             R"({"jsonrpc": "2.00", "method": "sum", "id": 1})",
                             R"({"jsonrpc": 2.0, "method": "sum", "id": 1})",
                             R"({"jsonrpc": "1.0", "method": "sum", "id": 1})",
                             R"({"jsonrpc": "2.0 ", "method": "sum", "id": 1})"}) {
      INFO(body);
      rapidjson::Document r = f.Call(body);
      RequireError(r, ErrorCode::kInvalidRequest, "1");  // the id was readable: echoed
      CHECK(Message(r) == R"(Invalid Request: "jsonrpc" must be exactly "2.0")");
    }
  }
  SECTION("method must be a string") {
    for (const char* body : {R"({"jsonrpc": "2.0", "id": 1})",
                             R"({"jsonrpc": "2.0", "method": null, "id": 1})",
                             R"({"jsonrpc": "2.0", "method": ["sum"], "id": 1})"}) {
      INFO(body);
      RequireError(f.Call(body), ErrorCode::kInvalidRequest, "1");
    }
  }
  SECTION("id of a wrong type: -32600 with id null") {
    for (const char* id : {"{}", "[]", "[1]", "true", "false", R"({"a": 1})"}) {
      INFO(id);
      std::string body =
          std::string(R"({"jsonrpc": "2.0", "method": "sum", "id": )") + id + "}";
      rapidjson::Document r = f.Call(body);
      RequireError(r, ErrorCode::kInvalidRequest, "null");
      CHECK(Message(r) == R"(Invalid Request: "id" must be a string, a number or null)");
    }
  }
  SECTION("not an object") {
    for (const char* body : {"1", R"("x")", "null", "true"}) {
      INFO(body);
      RequireError(f.Call(body), ErrorCode::kInvalidRequest, "null");
    }
  }
  SECTION("params that are neither object nor array: -32602") {
    for (const char* params : {R"("bar")", "1", "true", "null"}) {
      INFO(params);
      std::string body = std::string(R"({"jsonrpc": "2.0", "method": "sum", "params": )") +
                         params + R"(, "id": 1})";
      rapidjson::Document r = f.Call(body);
      RequireError(r, ErrorCode::kInvalidParams, "1");
      REQUIRE(r["error"].HasMember("data"));
      CHECK(r["error"]["data"][0]["field"] == "params");
    }
    rapidjson::Document r =
        f.Call(R"({"jsonrpc": "2.0", "method": "sum", "params": "bar", "id": 1})");
    CHECK(Message(r) == R"(Invalid params: params must be an object, got "bar")");
  }
  SECTION("omitted params, {} and [] all mean no params") {
    for (const char* params : {"", R"(, "params": {})", R"(, "params": [])"}) {
      INFO(params);
      std::string body =
          std::string(R"({"jsonrpc": "2.0", "method": "echo")") + params + R"(, "id": 1})";
      RequireResult(f.Call(body), "{}", "1");
    }
  }
  SECTION("unknown members are ignored, duplicates: the first counts") {
    RequireResult(f.Call(R"({"jsonrpc": "2.0", "x": 1, "method": "get_data", "id": 1})"),
                  R"(["hello", 5])", "1");
    RequireResult(f.Call(R"({"jsonrpc": "2.0", "method": "get_data", "method": "sum",
                             "id": 1, "id": 2})"),
                  R"(["hello", 5])", "1");
  }
  SECTION("a batch inside a batch is an invalid request") {
    rapidjson::Document r = f.Call(R"([[{"jsonrpc": "2.0", "method": "sum", "id": 1}]])");
    REQUIRE(r.IsArray());
    REQUIRE(r.Size() == 1);
    RequireError(r[0], ErrorCode::kInvalidRequest, "null");
  }
}

TEST_CASE("Every code of the error table reaches the client with its default message",
          "[unit]") {
  // The table itself: codes and names unique, messages non-empty.
  for (size_t i = 0; i < std::size(kErrorTable); ++i) {
    CHECK_FALSE(kErrorTable[i].message.empty());
    for (size_t j = i + 1; j < std::size(kErrorTable); ++j) {
      CHECK(kErrorTable[i].code != kErrorTable[j].code);
      CHECK(kErrorTable[i].name != kErrorTable[j].name);
    }
  }
  CHECK(std::size(kErrorTable) == 13);
  CHECK(FindError(-32000) == nullptr);
  CHECK(DefaultMessage(ErrorCode::kUnknownRun) == "Unknown run_id");

  Fixture f;
  for (const ErrorInfo& info : kErrorTable) {
    INFO(info.name);
    std::string body = R"({"jsonrpc": "2.0", "method": "fail", "params": {"code": )" +
                       std::to_string(ToInt(info.code)) + R"(}, "id": 1})";
    rapidjson::Document r = f.Call(body);
    RequireError(r, info.code, "1");
    CHECK(Message(r) == info.message);
    CHECK(r["error"]["data"] == ParseDoc(R"({"code": )" + std::to_string(ToInt(info.code)) +
                                         "}"));
  }

  SECTION("-32603: a handler that throws") {
    rapidjson::Document r = f.Call(R"({"jsonrpc": "2.0", "method": "throw", "id": 1})");
    RequireError(r, ErrorCode::kInternalError, "1");
    CHECK(Message(r) == "Internal error: boom");
    // In a batch, the other answers are unharmed.
    r = f.Call(R"([{"jsonrpc": "2.0", "method": "throw", "id": 1},
                   {"jsonrpc": "2.0", "method": "get_data", "id": 2}])");
    REQUIRE(r.Size() == 2);
    RequireError(r[0], ErrorCode::kInternalError, "1");
    RequireResult(r[1], R"(["hello", 5])", "2");
  }
  SECTION("a NaN result, which JSON cannot carry, is written as null") {
    rapidjson::Document r = f.Call(R"({"jsonrpc": "2.0", "method": "nan", "id": 2})");
    RequireResult(r, "null", "2");
  }
  SECTION("ErrorResponse: a standalone error with id null") {
    std::string out = Dispatcher::ErrorResponse(ErrorCode::kParseError, "Parse error: bad length prefix");
    CHECK(out ==
          R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error: bad length prefix"},"id":null})");
  }
}

TEST_CASE("ids are echoed with their JSON type and spelling", "[unit]") {
  Fixture f;
  // Written as sent (numbers in RapidJSON's shortest round-trip form).
  for (const char* id : {R"("abc")", R"("")", R"("1")", "0", "1", "-5", "1.5", "0.1", "-2.25",
                         "9007199254740993", "18446744073709551615",
                         "-9223372036854775808", "1e300", "null", R"("\u00e9\n")"}) {
    INFO(id);
    std::string body =
        std::string(R"({"jsonrpc":"2.0","method":"get_data","id":)") + id + "}";
    std::optional<std::string> out = f.Raw(body);
    REQUIRE(out);
    rapidjson::Document r = ParseDoc(*out);
    RequireResult(r, R"(["hello", 5])", id);
    CHECK(r["id"].GetType() == ParseDoc(id).GetType());
  }
  // Exact bytes for a few, including the float forms.
  CHECK(*f.Raw(R"({"jsonrpc":"2.0","method":"get_data","id":1.5})") ==
        R"({"jsonrpc":"2.0","result":["hello",5],"id":1.5})");
  CHECK(*f.Raw(R"({"jsonrpc":"2.0","method":"get_data","id":18446744073709551615})") ==
        R"({"jsonrpc":"2.0","result":["hello",5],"id":18446744073709551615})");
  CHECK(*f.Raw(R"({"jsonrpc":"2.0","method":"get_data","id":"7"})") ==
        R"({"jsonrpc":"2.0","result":["hello",5],"id":"7"})");
  CHECK(*f.Raw(R"({"jsonrpc":"2.0","method":"get_data","id":2.0})") ==
        R"({"jsonrpc":"2.0","result":["hello",5],"id":2.0})");
  SECTION("id null is a request, not a notification") {
    g_update_calls = 0;
    RequireResult(f.Call(R"({"jsonrpc":"2.0","method":"update","id":null})"), "null", "null");
    CHECK(g_update_calls == 1);
  }
}

std::string Nested(size_t depth) {
  // A request whose params hold arrays so that the whole body nests `depth` deep.
  std::string body = R"({"jsonrpc":"2.0","method":"echo","params":{"x":)";
  body.append(depth - 2, '[');
  body.append(depth - 2, ']');
  body += R"(},"id":1})";
  return body;
}

TEST_CASE("JSON nesting depth limit", "[unit]") {
  SECTION("default 64: 64 levels pass, 65 are a parse error") {
    Fixture f;
    rapidjson::Document ok = f.Call(Nested(64));
    REQUIRE(ok.HasMember("result"));
    rapidjson::Document deep = f.Call(Nested(65));
    RequireError(deep, ErrorCode::kParseError, "null");
    CHECK_THAT(Message(deep),
               Catch::StartsWith("Parse error: JSON nesting deeper than 64 levels at offset"));
  }
  SECTION("configured limit, batches count their array") {
    Fixture f(DispatchLimits{.max_json_depth = 2});
    RequireResult(f.Call(R"({"jsonrpc":"2.0","method":"echo","params":{"a":1},"id":1})"),
                  R"({"a":1})", "1");
    RequireError(f.Call(R"({"jsonrpc":"2.0","method":"echo","params":{"a":[1]},"id":1})"),
                 ErrorCode::kParseError, "null");
    RequireError(f.Call(R"([{"jsonrpc":"2.0","method":"echo","params":{},"id":1}])"),
                 ErrorCode::kParseError, "null");
    rapidjson::Document r = f.Call(R"([{"jsonrpc":"2.0","method":"get_data","id":1}])");
    REQUIRE(r.IsArray());
  }
  SECTION("a nesting bomb is refused without recursion") {
    Fixture f;
    std::string bomb(1'000'000, '[');
    RequireError(f.Call(bomb), ErrorCode::kParseError, "null");
    std::string objects;
    for (int i = 0; i < 200'000; ++i) objects += R"({"a":)";
    RequireError(f.Call(objects), ErrorCode::kParseError, "null");
  }
}

TEST_CASE("Bad input bytes are parse errors", "[unit]") {
  Fixture f;
  auto body = [](std::string_view s) {
    return std::string(R"({"jsonrpc":"2.0","method":"echo","params":{"s":")") +
           std::string(s) + R"("},"id":1})";
  };
  SECTION("invalid UTF-8") {
    for (std::string_view bad : {std::string_view("\xff"), std::string_view("\xc3"),
                                 std::string_view("\xc0\xaf"),          // overlong '/'
                                 std::string_view("\xed\xa0\x80"),      // UTF-16 surrogate
                                 std::string_view("\xf4\x90\x80\x80"),  // above U+10FFFF
                                 std::string_view("a\x80z")}) {
      rapidjson::Document r = f.Call(body(bad));
      RequireError(r, ErrorCode::kParseError, "null");
      CHECK_THAT(Message(r), Catch::StartsWith("Parse error: Invalid encoding in string"));
    }
  }
  SECTION("valid UTF-8 passes through unchanged") {
    std::optional<std::string> out = f.Raw(body("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    REQUIRE(out);
    CHECK(*out ==
          "{\"jsonrpc\":\"2.0\",\"result\":{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"},"
          "\"id\":1}");
  }
  SECTION("NUL bytes, empty bodies, trailing garbage") {
    std::string with_nul = R"({"jsonrpc":"2.0","method":"get_data","id":1})";
    with_nul += std::string_view("\0{}", 3);
    rapidjson::Document r = f.Call(with_nul);
    RequireError(r, ErrorCode::kParseError, "null");
    CHECK(Message(r) == "Parse error: Unexpected NUL byte at offset 44");
    RequireError(f.Call(""), ErrorCode::kParseError, "null");
    RequireError(f.Call("   "), ErrorCode::kParseError, "null");
    RequireError(f.Call(R"({"jsonrpc":"2.0","method":"get_data","id":1} x)"),
                 ErrorCode::kParseError, "null");
    RequireError(f.Call(R"({"jsonrpc":"2.0","method":"get_data","id":1}{})"),
                 ErrorCode::kParseError, "null");
    RequireError(f.Call(std::string_view("{\"s\":\"a\0b\"}", 11)), ErrorCode::kParseError,
                 "null");
    RequireError(f.Call("NaN"), ErrorCode::kParseError, "null");
    RequireError(f.Call("[1e400]"), ErrorCode::kParseError, "null");
  }
  SECTION("a lone low surrogate escape is invalid, as RapidJSON says of a lone high one") {
    // Found by the rpc fuzzer (test/fuzz/corpus/rpc/lone_low_surrogate.json): RapidJSON
    // decoded \uDC00 into bytes that are not UTF-8, and the id echoed them.
    rapidjson::Document r = f.Call(R"({"jsonrpc":"2.0","id":"\uDC00","method":"get_data"})");
    RequireError(r, ErrorCode::kParseError, "null");
    CHECK(Message(r) == "Parse error: The surrogate pair in string is invalid at offset 23");
    r = f.Call(body(R"(ab\\\"\u00e9\uD83D\uDE00\udfff)"));  // in a value, after a pair
    CHECK(Message(r) == "Parse error: The surrogate pair in string is invalid at offset 72");
    r = f.Call(R"({"jsonrpc":"2.0","method":"get_data","id":1,"\uDE00":1})");  // a name
    CHECK(Message(r) == "Parse error: The surrogate pair in string is invalid at offset 45");
    r = f.Call(body(R"(\uD800)"));
    CHECK(Message(r) == "Parse error: The surrogate pair in string is invalid at offset 48");
    // Valid pairs still pass.
    std::optional<std::string> out = f.Raw(body(R"(\uD83D\uDE00)"));
    REQUIRE(out);
    CHECK(*out == "{\"jsonrpc\":\"2.0\",\"result\":{\"s\":\"\xf0\x9f\x98\x80\"},\"id\":1}");
  }
  SECTION("escaped NUL inside a string is data") {
    std::optional<std::string> out = f.Raw(body("a\\u0000b"));
    REQUIRE(out);
    CHECK(*out == R"({"jsonrpc":"2.0","result":{"s":"a\u0000b"},"id":1})");
  }
}

TEST_CASE("Authentication and roles", "[unit]") {
  Fixture f;
  const Caller framed{.auth_required = true, .role = std::nullopt};
  auto call = [](std::string_view method, std::string_view auth_member) {
    return std::string(R"({"jsonrpc":"2.0","method":")") + std::string(method) + "\"" +
           std::string(auth_member) + R"(,"id":1})";
  };

  SECTION("no tokens configured: everyone is an operator, auth is ignored") {
    RequireResult(f.Call(call("get_data", "")), R"(["hello",5])", "1");
    RequireResult(f.Call(call("get_data", R"(,"auth":"nonsense")")), R"(["hello",5])", "1");
    RequireResult(f.Call(call("ReadOnly", "")), R"("operator")", "1");
  }
  SECTION("framed: missing, unknown or non-string token is -32010") {
    for (const char* auth : {"", R"(,"auth":"wrong")", R"(,"auth":"")", R"(,"auth":1)",
                             R"(,"auth":null)", R"(,"auth":{"token":"op-token"})"}) {
      INFO(auth);
      rapidjson::Document r = f.Call(call("get_data", auth), framed);
      RequireError(r, ErrorCode::kAuthRequired, "1");
      CHECK(Message(r) == "Authentication required or token invalid");
      // Also before method lookup: nothing about the method leaks.
      RequireError(f.Call(call("nosuch", auth), framed), ErrorCode::kAuthRequired, "1");
    }
  }
  SECTION("framed: operator token may call everything; auth is not a param") {
    RequireResult(f.Call(call("get_data", R"(,"auth":"op-token")"), framed),
                  R"(["hello",5])", "1");
    RequireResult(f.Call(call("echo", R"(,"auth":"op-token","params":{"a":1})"), framed),
                  R"({"a":1})", "1");
    RequireResult(f.Call(call("ReadOnly", R"(,"auth":"op-token")"), framed), R"("operator")",
                  "1");
  }
  SECTION("framed: observer token may call observer methods only") {
    RequireResult(f.Call(call("ReadOnly", R"(,"auth":"obs-token")"), framed), R"("observer")",
                  "1");
    rapidjson::Document r = f.Call(call("get_data", R"(,"auth":"obs-token")"), framed);
    RequireError(r, ErrorCode::kRoleForbidden, "1");
    CHECK(Message(r) ==
          "Token's role may not call this method (observer may not call get_data)");
    // An unknown method is still -32601 for an authenticated caller.
    RequireError(f.Call(call("nosuch", R"(,"auth":"obs-token")"), framed),
                 ErrorCode::kMethodNotFound, "1");
  }
  SECTION("framed batch: each request carries its own token") {
    rapidjson::Document r = f.Call(R"([
      {"jsonrpc":"2.0","method":"get_data","auth":"op-token","id":1},
      {"jsonrpc":"2.0","method":"get_data","auth":"obs-token","id":2},
      {"jsonrpc":"2.0","method":"get_data","id":3},
      {"jsonrpc":"2.0","method":"update","auth":"bad"}
    ])",
                                   framed);
    REQUIRE(r.Size() == 3);
    RequireResult(r[0], R"(["hello",5])", "1");
    RequireError(r[1], ErrorCode::kRoleForbidden, "2");
    RequireError(r[2], ErrorCode::kAuthRequired, "3");
  }
  SECTION("HTTP: the transport's role counts, auth members are ignored") {
    const Caller observer{.auth_required = true, .role = Role::kObserver};
    const Caller op{.auth_required = true, .role = Role::kOperator};
    const Caller none{.auth_required = true, .role = Role::kNone};
    RequireResult(f.Call(call("ReadOnly", ""), observer), R"("observer")", "1");
    RequireError(f.Call(call("get_data", R"(,"auth":"op-token")"), observer),
                 ErrorCode::kRoleForbidden, "1");
    RequireResult(f.Call(call("get_data", ""), op), R"(["hello",5])", "1");
    RequireError(f.Call(call("get_data", R"(,"auth":"op-token")"), none),
                 ErrorCode::kAuthRequired, "1");
  }
  SECTION("notifications that fail authentication are not answered") {
    CHECK_FALSE(f.Raw(R"({"jsonrpc":"2.0","method":"update"})", framed));
    CHECK_FALSE(f.Raw(R"({"jsonrpc":"2.0","method":"update","auth":"obs-token"})", framed));
  }
  SECTION("no TokenLookup: no token is known") {
    ServerState state;
    MethodTable table(state);
    REQUIRE(table.Add({"ReadOnly", Role::kObserver, &WhoAmI}));
    Dispatcher d(table, test::TestDispatchLimits(), TokenLookup());
    std::optional<std::string> out =
        d.Handle(R"({"jsonrpc":"2.0","method":"ReadOnly","auth":"x","id":1})", framed);
    REQUIRE(out);
    RequireError(ParseDoc(*out), ErrorCode::kAuthRequired, "1");
  }
}

TEST_CASE("MethodTable rows", "[unit]") {
  ServerState state;
  MethodTable table(state);
  CHECK(table.Add({"a", Role::kOperator, &Sum}));
  CHECK_FALSE(table.Add({"a", Role::kObserver, &Echo}));  // name taken: unchanged
  CHECK_FALSE(table.Add({"b", Role::kOperator, nullptr}));
  REQUIRE(table.Find("a") != nullptr);
  CHECK(table.Find("a")->handler == &Sum);
  CHECK(table.Find("a")->required == Role::kOperator);
  CHECK(table.Find("b") == nullptr);
  CHECK(table.size() == 1);
  CHECK(&table.state() == &state);

  CHECK(RoleAllows(Role::kOperator, Role::kOperator));
  CHECK(RoleAllows(Role::kOperator, Role::kObserver));
  CHECK(RoleAllows(Role::kObserver, Role::kObserver));
  CHECK_FALSE(RoleAllows(Role::kObserver, Role::kOperator));
  CHECK_FALSE(RoleAllows(Role::kNone, Role::kObserver));
}

TEST_CASE("The dispatcher is reusable across many bodies", "[unit]") {
  Fixture f;
  // Large responses (beyond the reused arena and output buffer) and small ones alternate.
  std::string big = R"({"jsonrpc":"2.0","method":"echo","params":{"s":")" +
                    std::string(3'000'000, 'x') + R"("},"id":1})";
  for (int i = 0; i < 3; ++i) {
    std::optional<std::string> out = f.Raw(big);
    REQUIRE(out);
    CHECK(*out == R"({"jsonrpc":"2.0","result":{"s":")" + std::string(3'000'000, 'x') +
                      R"("},"id":1})");
    RequireResult(f.Call(R"({"jsonrpc":"2.0","method":"get_data","id":2})"),
                  R"(["hello",5])", "2");
  }
}

}  // namespace
}  // namespace testrund::rpc

namespace testrund::rpc {
namespace {

// method -> code -> calls, as the dispatcher counted them.
std::string Counted(const Fixture& f) {
  std::string out;
  for (const auto& [method, codes] : f.dispatcher->calls().counts()) {
    for (const auto& [code, n] : codes) out += fmt::format("{} {} {}\n", method, code, n);
  }
  return out;
}

TEST_CASE("Every request object is counted by method and outcome, in a bounded set",
          "[unit]") {
  Fixture f;
  (void)f.Raw(R"({"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 4, "subtrahend": 1}, "id": 1})");
  (void)f.Raw(R"({"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": "x"}, "id": 2})");
  (void)f.Raw(R"({"jsonrpc": "2.0", "method": "subtract", "params": 3, "id": 3})");
  (void)f.Raw(R"({"jsonrpc": "2.0", "method": "update", "params": {}})");  // a notification
  (void)f.Raw(R"({"jsonrpc": "2.0", "method": "no such method 1", "id": 4})");
  (void)f.Raw(R"({"jsonrpc": "2.0", "method": "no such method 2", "id": 5})");
  (void)f.Raw(R"({"jsonrpc": "2.0", "method": 7, "id": 6})");
  (void)f.Raw(R"([1, {"jsonrpc": "2.0", "method": "sum", "params": {"a": 1}, "id": 7}])");
  (void)f.Raw("[]");
  (void)f.Raw("{not json");
  CHECK(Counted(f) ==
        "(invalid) -32600 3\n"
        "(parse error) -32700 1\n"
        "(unknown) -32601 2\n"
        "subtract -32602 2\n"
        "subtract 0 1\n"
        "sum 0 1\n"
        "update 0 1\n");
}

}  // namespace
}  // namespace testrund::rpc
