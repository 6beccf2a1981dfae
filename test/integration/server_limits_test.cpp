// SPDX-License-Identifier: Apache-2.0
// Integration tests of the limits around runs (docs/api.md#error-codes order, Lua limits,
// server limits) and of token roles on the run methods (docs/api.md#1-transports), through
// the real binary: -32005 with nothing started, params before run_id before limits, hostile
// Lua aborting only its own instance while another run keeps answering, and the observer role.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "test/integration/harness.h"
#include "test/integration/rpc_client.h"

namespace testrund::test {
namespace {

std::string WaitingRun(const std::string& run_id) {
  return R"({"run_id":)" + Quoted(run_id) +
         R"(,"operations":[{"type":"wait","arguments":{"seconds":30}}]})";
}

int64_t LiveRuns(RpcClient& c) { return Int(c.Call("GetServerInfo").result()["runs"]); }

// The one abort of a completed single-instance run: {op_idx, text}.
std::pair<int64_t, std::string> OnlyAbort(const rapidjson::Value& r) {
  INFO("result: " << Dump(r));
  REQUIRE(Int(r["counts"]["aborted"]) == Int(r["counts"]["started"]));
  REQUIRE(r["first_aborts"].Size() == 1);
  return {Int(r["first_aborts"][0]["op_idx"]), Str(r["first_aborts"][0]["text"])};
}

}  // namespace

TEST_CASE("max_runs: a further ExecuteTest is -32005 and starts nothing", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Daemon d({"--max-runs", "2"});
  RpcClient c(d, framing);
  c.Execute(WaitingRun("a"));
  c.Execute(WaitingRun("b"));
  Reply r = c.Call("ExecuteTest", WaitingRun("c"));
  CHECK(r.code() == -32005);
  CHECK(r.message().find("max_runs") != std::string::npos);
  CHECK(LiveRuns(c) == 2);
  CHECK(Int(c.Call("GetServerInfo").result()["instances_live"]) == 2);
  CHECK(c.Query("c").code() == -32001);
  CHECK_FALSE(c.Listed("c").has_value());

  // Error order: params (-32602) before run_id (-32002) before limits (-32005).
  CHECK(c.Call("ExecuteTest", R"({"run_id":"a","operations":[]})").code() == -32602);
  CHECK(c.Call("ExecuteTest", R"({"run_id":"c b","operations":[{"type":"eval"}]})").code() ==
        -32602);
  CHECK(c.Call("ExecuteTest", WaitingRun("a")).code() == -32002);
  CHECK(c.Call("ExecuteTest", WaitingRun("c")).code() == -32005);

  // A run returned completed frees its slot; "c" was never created, so it is free too.
  REQUIRE(Int(c.Call("CancelTest", RunIdParam("b")).result()["cancelled"]) == 1);
  CHECK(c.Execute(WaitingRun("c")) == "c");
  CHECK(LiveRuns(c) == 2);
  // The other runs were not disturbed.
  Reply a = c.Query("a");
  CHECK(Int(a.result()["counts"]["started"]) == 1);
  CHECK(Int(a.result()["counts"]["running"]) == 1);
}

TEST_CASE("max_instances: -32005 when full; a run never goes over the cap", "[integration]") {
  Daemon d({"--max-instances", "3"});
  RpcClient c(d, Framing::kHttp);
  c.Execute(R"({"run_id":"full","distribution":{"type":"load","total":3},
      "operations":[{"type":"halt","arguments":{"seconds":30}}]})");
  c.WaitCount("full", "halted", 3);
  Reply r = c.Call("ExecuteTest", WaitingRun("more"));
  CHECK(r.code() == -32005);
  CHECK(r.message().find("max_instances") != std::string::npos);
  CHECK(LiveRuns(c) == 1);
  CHECK(c.Call("ExecuteTest", WaitingRun("full")).code() == -32002);
  REQUIRE(c.Call("CancelTest", RunIdParam("full")).ok());

  // One run of 8 instances waiting 0.1 s under a cap of 3: never more than 3 in progress.
  std::string id = c.Execute(R"({"distribution":{"type":"load","total":8},
      "operations":[{"type":"wait","arguments":{"seconds":0.1}}]})");
  int64_t most = 0;
  rapidjson::Document last = c.WaitListed(id, [&](const rapidjson::Value& e) {
    most = std::max(most, Int(e["counts"]["running"]));
    return Str(e["status"]) == "completed";
  });
  CHECK(most <= 3);
  CHECK(Int(last["counts"]["passed"]) == 8);
}

TEST_CASE("max_operations: a longer operation list is refused, nothing started",
          "[integration]") {
  // Issue 3: "operations per run -> -32005 with nothing started".
  Daemon d({"--max-operations", "5"});
  RpcClient c(d, Framing::kHttp);
  std::string op = R"({"type":"eval","expression":"v.x = 1"})";
  std::string five = "[" + op + "," + op + "," + op + "," + op + "," + op + "]";
  std::string six = "[" + op + "," + op + "," + op + "," + op + "," + op + "," + op + "]";
  CHECK(c.Execute(R"({"run_id":"five","operations":)" + five + "}") == "five");
  Reply r = c.Call("ExecuteTest", R"({"run_id":"six","operations":)" + six + "}");
  INFO("response: " << r.text);
  CHECK(r.message().find("5") != std::string::npos);
  CHECK(LiveRuns(c) == 1);
  CHECK(r.code() == -32005);
  CHECK(r.message() == "server limit reached: 6 operations, more than 5 per run (max_operations)");
  // The order of docs/api.md#error-codes: a bad param is still -32602, a taken run_id still -32002.
  CHECK(c.Call("ExecuteTest", R"({"run_id":"six","trace_level":9,"operations":)" + six + "}")
            .code() == -32602);
  CHECK(c.Call("ExecuteTest", R"({"run_id":"five","operations":)" + six + "}").code() ==
        -32002);
  CHECK(LiveRuns(c) == 1);
}

TEST_CASE("Lua limits abort only the offending instance, naming the limit and the op",
          "[integration]") {
  Daemon d({"--lua-memory-limit", "16M", "--max-steps-without-wait", "1000"});
  RpcClient c(d, Framing::kHttp);
  // A bystander that must keep answering QueryTest.
  c.Execute(R"J({"run_id":"bystander","operations":[
      {"type":"halt","arguments":{"seconds":60}}]})J");
  c.WaitCount("bystander", "halted", 1);

  SECTION("an endless loop hits the instruction limit") {
    std::string id = c.Execute(R"J({"distribution":{"type":"load","total":20,"backlog":20},
        "operations":[{"type":"eval","expression":"v.x = 1"},
                      {"type":"eval","expression":"while true do end"}]})J");
    // The daemon answers the bystander's QueryTest while the 20 loops burn their budgets.
    auto worst = std::chrono::steady_clock::duration::zero();
    rapidjson::Document last = c.WaitListed(id, [&](const rapidjson::Value& e) {
      auto before = std::chrono::steady_clock::now();
      Reply q = c.Query("bystander");
      worst = std::max(worst, std::chrono::steady_clock::now() - before);
      REQUIRE(Int(q.result()["counts"]["halted"]) == 1);
      return Str(e["status"]) == "completed";
    }, 60);
    CHECK(worst < std::chrono::seconds(2));
    Reply done = c.Query(id);
    INFO("QueryTest: " << done.text);
    auto [op_idx, text] = OnlyAbort(done.result());
    CHECK(op_idx == 1);
    CHECK(Int(done.result()["first_aborts"][0]["count"]) == 20);
    CHECK(text.find("instruction limit") != std::string::npos);
    CHECK(text.find("op 1") != std::string::npos);
  }
  SECTION("a huge string hits the memory limit") {
    std::string id = c.Execute(R"J({"vars":{"a":1},"operations":[
        {"type":"eval","expression":"v.s = string.rep('x', 1e9)"}]})J");
    Reply done = c.WaitCompleted(id);
    INFO("QueryTest: " << done.text);
    auto [op_idx, text] = OnlyAbort(done.result());
    CHECK(op_idx == 0);
    CHECK(text.find("memory limit") != std::string::npos);
    CHECK(text.find("op 0") != std::string::npos);
    CHECK(Str(done.result()["first_call_summary"]["check_log"][0]["status"]) == "abort");
  }
  SECTION("a table that grows without end hits the memory limit, the run carries on") {
    std::string id = c.Execute(R"J({"distribution":{"type":"load","total":3,"backlog":1},
        "operations":[
          {"type":"eval","expression":"local t = {} for i = 1, 1e9 do t[i] = i end"},
          {"type":"eval","expression":"g.after = (g.after or 0) + 1"}]})J");
    Reply done = c.WaitCompleted(id, 60);
    INFO("QueryTest: " << done.text);
    auto [op_idx, text] = OnlyAbort(done.result());
    CHECK(op_idx == 0);
    CHECK((text.find("memory limit") != std::string::npos ||
           text.find("instruction limit") != std::string::npos));
    CHECK(Int(done.result()["first_aborts"][0]["count"]) == 3);
    // The memory of an aborted instance is released: a new run still works.
    std::string next = c.Execute(R"J({"operations":[
        {"type":"eval","expression":"g.s = #string.rep('y', 1000)"}]})J");
    Reply ok = c.WaitCompleted(next);
    CHECK(Int(ok.result()["globals"]["s"]) == 1000);
  }
  SECTION("a loop through a branch hits max_steps_without_wait") {
    std::string id = c.Execute(R"J({"operations":[
        {"type":"eval","label":"top","expression":"v.n = (v.n or 0) + 1"},
        {"type":"branch","expression":"true","on_true":"top"}]})J");
    Reply done = c.WaitCompleted(id);
    INFO("QueryTest: " << done.text);
    auto [op_idx, text] = OnlyAbort(done.result());
    CHECK(text.find("1000 steps without waiting") != std::string::npos);
    CHECK(text.find("op " + std::to_string(op_idx)) != std::string::npos);
  }
  SECTION("a Lua runtime error is the abort text") {
    std::string id = c.Execute(R"J({"operations":[
        {"type":"eval","expression":"error('boom', 0)"}]})J");
    Reply done = c.WaitCompleted(id);
    INFO("QueryTest: " << done.text);
    auto [op_idx, text] = OnlyAbort(done.result());
    CHECK(op_idx == 0);
    CHECK(text == "boom");
  }
  SECTION("the sandbox has no io, os.exit, require, dofile") {
    std::string id = c.Execute(R"J({"operations":[
        {"type":"assert","expression":"io == nil and os.exit == nil and require == nil and dofile == nil and package == nil and debug == nil","fail":"escaped"},
        {"type":"assert","expression":"type(os.time()) == 'number' and type(os.clock()) == 'number'"},
        {"type":"eval","expression":"os.exit(1)"}]})J");
    Reply done = c.WaitCompleted(id);
    CHECK_JSON(done.result()["first_fails"], "[]");
    auto [op_idx, text] = OnlyAbort(done.result());
    CHECK(op_idx == 2);
    CHECK(text.find("exit") != std::string::npos);
  }
  // The bystander is intact.
  Reply q = c.Query("bystander");
  CHECK_JSON(q.result()["counts"], R"({"started": 1, "finished": 0, "failed": 0, "aborted": 0,
      "cancelled": 0, "passed": 0, "late": 0, "halted": 1, "running": 1})");
  CHECK(d.running());
}

TEST_CASE("Observer tokens may only read; operators may do everything", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Daemon d({"--token", "op:operator", "--token", "ob:observer"});
  RpcClient op(d, framing, "op");
  RpcClient ob(d, framing, "ob");
  op.Execute(R"({"run_id":"r","operations":[{"type":"halt","arguments":{"seconds":30}}]})");
  op.WaitCount("r", "halted", 1);

  CHECK(Int(ob.Query("r").result()["counts"]["halted"]) == 1);
  CHECK(ob.Call("ListTests").result()["runs"].Size() == 1);
  CHECK(Int(ob.Call("GetServerInfo").result()["runs"]) == 1);
  const std::pair<const char*, std::string> writes[] = {
      {"ExecuteTest", WaitingRun("by-observer")},
      {"ExecuteTest", R"({"operations":[]})"},
      {"CancelTest", RunIdParam("r")},
      {"ResumeInstance", R"({"run_id":"r","instance_id":0})"},
      {"PauseTest", RunIdParam("r")},
      {"UnpauseTest", RunIdParam("r")},
  };
  for (const auto& [method, params] : writes) {
    INFO(method << " " << params);
    Reply r = ob.Call(method, params);
    CHECK(r.code() == -32011);
  }
  // Nothing changed.
  Reply q = op.Query("r");
  CHECK(Str(q.result()["status"]) == "running");
  CHECK(Int(q.result()["counts"]["halted"]) == 1);
  CHECK(LiveRuns(op) == 1);

  // Without a token: HTTP 401, framed -32010.
  if (framing == Framing::kHttp) {
    HttpResponse r = d.Http().Post(
        "/", R"({"jsonrpc":"2.0","id":1,"method":"QueryTest","params":{"run_id":"r"}})");
    CHECK(r.status == 401);
  } else {
    std::optional<std::string> r =
        d.Framed(R"({"jsonrpc":"2.0","id":1,"method":"QueryTest","params":{"run_id":"r"}})");
    REQUIRE(r.has_value());
    rapidjson::Document doc = ParseJson(*r);
    CHECK(doc["error"]["code"].GetInt() == -32010);
  }
  RpcClient wrong(d, Framing::kFramed, "nope");
  CHECK(wrong.Call("GetServerInfo").code() == -32010);

  // The operator may resume and cancel.
  CHECK_JSON(op.Call("ResumeInstance", R"({"run_id":"r","instance_id":"0"})").result(),
             R"({"resumed": 1})");
  Reply done = op.WaitCompleted("r");
  CHECK(Int(done.result()["counts"]["passed"]) == 1);
}

}  // namespace testrund::test
