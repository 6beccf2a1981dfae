// SPDX-License-Identifier: Apache-2.0
// Integration tests of every parameter of every run method with its wrong values (docs/api.md,
// §3, §4 validation), through the real binary and both framings: the exact error code, a
// `data` list naming every problem (field, op_idx, the offending value quoted), a message
// that is a sentence — and that nothing else was disturbed: an unrelated run with halted and
// waiting instances keeps its counts and keeps answering, and no rejected ExecuteTest
// created a run.
#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <vector>

#include "test/integration/harness.h"
#include "test/integration/rpc_client.h"

namespace testrund::test {
namespace {

// One expected entry of the -32602 data list. `quote` must occur in `problem` (the
// offending value as written, or the documented wording); op_idx -1: no op_idx member.
struct Problem {
  std::string field;
  std::string quote;
  int op_idx = -1;
};

struct BadCall {
  std::string name;
  std::string method;
  std::string params;  // JSON text
  std::vector<Problem> problems;
};

// The unrelated run every bad call must leave alone: instance 0 halted, instances 1 and 2
// waiting, for 60 s.
constexpr const char* kBystander = R"({
  "run_id": "bystander",
  "distribution": {"type": "load", "total": 3},
  "globals": {"calls": 0},
  "operations": [
    {"type": "eval", "expression": "g.calls = g.calls + 1"},
    {"type": "branch", "expression": "instance == 0", "on_true": "h"},
    {"type": "wait", "arguments": {"seconds": 60}},
    {"type": "halt", "label": "h", "arguments": {"seconds": 60}}
  ]})";

constexpr const char* kBystanderCounts = R"({"started": 3, "finished": 0, "failed": 0,
    "aborted": 0, "cancelled": 0, "passed": 0, "late": 0, "halted": 1, "running": 3})";

class Fixture {
 public:
  explicit Fixture(Framing framing, std::vector<std::string> args = {})
      : daemon_(std::move(args)), client_(daemon_, framing) {
    client_.Execute(kBystander);
    client_.WaitListed("bystander", [](const rapidjson::Value& e) {
      return Int(e["counts"]["started"]) == 3 && Int(e["counts"]["halted"]) == 1;
    });
  }

  RpcClient& client() { return client_; }

  // Sends `call`, checks -32602 with exactly `call.problems` (in order), then checks the
  // bystander and the run count.
  void ExpectInvalid(const BadCall& call) {
    INFO("case: " << call.name << "\n" << call.method << " " << call.params);
    Reply r = client_.Call(call.method, call.params);
    INFO("response: " << r.text);
    REQUIRE(r.code() == -32602);
    std::string message = r.message();
    CHECK(message.size() > 10);
    CHECK(std::isupper(static_cast<unsigned char>(message[0])));
    // Every expected problem matches its own data entry (the order is not prescribed).
    const rapidjson::Value& data = r.data();
    CHECK(data.Size() == call.problems.size());
    std::vector<bool> used(data.Size(), false);
    for (const Problem& want : call.problems) {
      INFO("expected: field " << Quoted(want.field) << ", op_idx " << want.op_idx
                              << ", problem containing " << Quoted(want.quote));
      bool found = false;
      for (rapidjson::SizeType j = 0; j < data.Size() && !found; ++j) {
        const rapidjson::Value& got = data[j];
        REQUIRE(got.IsObject());
        REQUIRE(got["field"].IsString());
        REQUIRE(got["problem"].IsString());
        bool op_ok = want.op_idx >= 0
                         ? got.HasMember("op_idx") && got["op_idx"].IsInt() &&
                               got["op_idx"].GetInt() == want.op_idx
                         : !got.HasMember("op_idx");
        if (!used[j] && op_ok && Str(got["field"]) == want.field &&
            Str(got["problem"]).find(want.quote) != std::string::npos) {
          used[j] = true;
          found = true;
        }
      }
      CHECK(found);
    }
    // The first problem is spelled out in the message.
    if (data.Size() > 0) {
      CHECK(message.find(Str(data[0]["field"])) != std::string::npos);
    }
    CheckUndisturbed();
  }

  void CheckUndisturbed() {
    Reply q = client_.Query("bystander");
    INFO("bystander: " << q.text);
    REQUIRE(q.ok());
    CHECK(Int(q.result()["completed"]) == 0);
    CHECK_JSON(q.result()["counts"], kBystanderCounts);
    CHECK_JSON(q.result()["globals"], R"({"calls": 3})");
    Reply info = client_.Call("GetServerInfo");
    CHECK(Int(info.result()["runs"]) == 1);
    CHECK(Int(info.result()["instances_live"]) == 3);
    CHECK(client_.Call("ListTests").result()["runs"].Size() == 1);
  }

 private:
  Daemon daemon_;
  RpcClient client_;
};

// ExecuteTest params around one operation list.
std::string WithOps(const std::string& ops) { return R"({"operations":)" + ops + "}"; }
// ExecuteTest params with a valid operation list and `extra` members.
std::string WithParams(const std::string& extra) {
  return R"({"operations":[{"type":"eval","expression":"v.x = 1"}],)" + extra + "}";
}
std::string WithDistribution(const std::string& distribution) {
  return WithParams(R"("distribution":)" + distribution);
}

}  // namespace

TEST_CASE("ExecuteTest: bad operations are -32602 with every problem in data",
          "[integration]") {
  FOR_EACH_FRAMING(framing);
  Fixture f(framing);
  const std::vector<BadCall> calls = {
      {"operations missing", "ExecuteTest", R"({"run_id":"x"})", {{"operations", "is required"}}},
      {"operations null", "ExecuteTest", R"({"operations":null})", {{"operations", "is required"}}},
      {"operations an object", "ExecuteTest", WithOps("{}"), {{"operations", "an empty object"}}},
      {"operations a string", "ExecuteTest", WithOps(R"("eval")"),
       {{"operations", R"("eval")"}}},
      {"operations empty", "ExecuteTest", WithOps("[]"), {{"operations", "0"}}},
      {"operation not an object", "ExecuteTest", WithOps(R"([{"type":"eval","expression":"v.x = 1"}, 5])"),
       {{"", "5", 1}}},
      {"type missing", "ExecuteTest", WithOps(R"([{"expression":"v.x = 1"}])"), {{"type", "is required", 0}}},
      {"type a number", "ExecuteTest", WithOps(R"([{"type":5}])"), {{"type", "5", 0}}},
      {"unknown type", "ExecuteTest", WithOps(R"([{"type":"eval","expression":"v.x = 1"},{"type":"nosuch"}])"),
       {{"type", R"(is unknown: "nosuch")", 1}}},
      {"eval without expression", "ExecuteTest", WithOps(R"([{"type":"eval"}])"),
       {{"expression", "is required", 0}}},
      {"eval expression a number", "ExecuteTest", WithOps(R"([{"type":"eval","expression":5}])"),
       {{"expression", "5", 0}}},
      {"eval expression an object", "ExecuteTest",
       WithOps(R"([{"type":"eval","expression":{"a":1}}])"), {{"expression", "an object", 0}}},
      {"assert without expression", "ExecuteTest",
       WithOps(R"([{"type":"assert","pass":"ok"}])"), {{"expression", "is required", 0}}},
      {"assert expression false", "ExecuteTest",
       WithOps(R"([{"type":"assert","expression":false}])"), {{"expression", "false", 0}}},
      {"branch without expression", "ExecuteTest",
       WithOps(R"([{"type":"branch","on_true":"a","label":"a"}])"),
       {{"expression", "is required", 0}}},
      {"branch label a number", "ExecuteTest",
       WithOps(R"([{"type":"branch","expression":"true","on_true":5}])"),
       {{"on_true", "5", 0}}},
      {"label a number", "ExecuteTest", WithOps(R"([{"type":"eval","expression":"v.x = 1","label":7}])"),
       {{"label", "7", 0}}},
      {"duplicate label, reported at the later op", "ExecuteTest",
       WithOps(R"([{"type":"eval","expression":"v.x = 1","label":"a"},
                   {"type":"eval","expression":"v.x = 2"},
                   {"type":"eval","expression":"v.x = 3","label":"a"}])"),
       {{"label", R"("a")", 2}}},
      {"unresolved labels", "ExecuteTest",
       WithOps(R"([{"type":"branch","expression":"true","on_true":"zz","on_false":"yy"}])"),
       {{"on_true", R"(names no label: "zz")", 0},
        {"on_false", R"(names no label: "yy")", 0}}},
      {"Lua syntax error in an expression", "ExecuteTest",
       WithOps(R"([{"type":"eval","expression":"x = = 1"}])"),
       {{"expression", "unexpected symbol near '='", 0}}},
      {"Lua syntax error in a {...} text", "ExecuteTest",
       WithOps(R"([{"type":"assert","expression":"true","pass":"{1 +}"}])"),
       {{"pass", "unexpected symbol", 0}}},
      {"Lua syntax error in a comment text", "ExecuteTest",
       WithOps(R"([{"type":"comment","text":"{(}"}])"), {{"text", "unexpected symbol", 0}}},
      {"halt seconds 0", "ExecuteTest",
       WithOps(R"([{"type":"halt","arguments":{"seconds":0}}])"),
       {{"arguments.seconds", "0", 0}}},
      {"halt seconds -1", "ExecuteTest",
       WithOps(R"([{"type":"halt","arguments":{"seconds":-1}}])"),
       {{"arguments.seconds", "-1", 0}}},
      {"halt seconds 601", "ExecuteTest",
       WithOps(R"([{"type":"halt","arguments":{"seconds":601}}])"),
       {{"arguments.seconds", "601", 0}}},
      {"halt seconds 600.5", "ExecuteTest",
       WithOps(R"([{"type":"halt","arguments":{"seconds":600.5}}])"),
       {{"arguments.seconds", "600.5", 0}}},
      {"halt seconds \"abc\"", "ExecuteTest",
       WithOps(R"([{"type":"halt","arguments":{"seconds":"abc"}}])"),
       {{"arguments.seconds", R"("abc")", 0}}},
      {"halt seconds true", "ExecuteTest",
       WithOps(R"([{"type":"halt","arguments":{"seconds":true}}])"),
       {{"arguments.seconds", "true", 0}}},
      {"wait seconds missing", "ExecuteTest",
       WithOps(R"([{"type":"wait","arguments":{}}])"), {{"arguments.seconds", "is required", 0}}},
      {"wait without arguments", "ExecuteTest", WithOps(R"([{"type":"wait"}])"),
       {{"arguments.seconds", "is required", 0}}},
      {"wait seconds 0", "ExecuteTest", WithOps(R"([{"type":"wait","arguments":{"seconds":0}}])"),
       {{"arguments.seconds", "0", 0}}},
      {"wait seconds \"soon\"", "ExecuteTest",
       WithOps(R"([{"type":"wait","arguments":{"seconds":"soon"}}])"),
       {{"arguments.seconds", R"("soon")", 0}}},
      {"every problem at once, in op order", "ExecuteTest",
       WithOps(R"([{"type":"nosuch"},
                   {"type":"eval"},
                   {"type":"halt","arguments":{"seconds":601}},
                   {"type":"eval","expression":"x = = 1"},
                   {"type":"branch","expression":"true","on_true":"nowhere"}])"),
       {{"type", R"(is unknown: "nosuch")", 0},
        {"expression", "is required", 1},
        {"arguments.seconds", "601", 2},
        {"expression", "unexpected symbol", 3},
        {"on_true", R"(names no label: "nowhere")", 4}}},
  };
  for (const BadCall& call : calls) f.ExpectInvalid(call);
}

// `arguments` is the parent of two halt attributes (seconds, comment): reported once.
TEST_CASE("ExecuteTest: a halt whose arguments is not an object is one problem",
          "[integration]") {
  Fixture f(Framing::kHttp);
  f.ExpectInvalid({"halt arguments not an object", "ExecuteTest",
                   WithOps(R"([{"type":"halt","arguments":"x"}])"), {{"arguments", R"("x")", 0}}});
  f.ExpectInvalid({"wait arguments an array", "ExecuteTest",
                   WithOps(R"([{"type":"wait","arguments":[1]}])"), {{"arguments", "an array", 0}}});
}

TEST_CASE("ExecuteTest: bad run parameters are -32602 with every problem in data",
          "[integration]") {
  FOR_EACH_FRAMING(framing);
  Fixture f(framing);
  const std::vector<BadCall> calls = {
      {"run_id empty", "ExecuteTest", WithParams(R"("run_id":"")"), {{"run_id", R"("")"}}},
      {"run_id 65 characters", "ExecuteTest",
       WithParams(R"("run_id":)" + Quoted(std::string(65, 'r'))),
       {{"run_id", std::string(60, 'r') + "..."}}},
      {"run_id with a space", "ExecuteTest", WithParams(R"("run_id":"a b")"),
       {{"run_id", R"("a b")"}}},
      {"run_id non-ASCII", "ExecuteTest", WithParams(R"("run_id":"é")"), {{"run_id", "é"}}},
      {"run_id a number", "ExecuteTest", WithParams(R"("run_id":5)"), {{"run_id", "5"}}},
      {"vars an array", "ExecuteTest", WithParams(R"("vars":[1])"), {{"vars", "an array"}}},
      {"vars a string", "ExecuteTest", WithParams(R"("vars":"x")"), {{"vars", R"("x")"}}},
      {"globals a number", "ExecuteTest", WithParams(R"("globals":5)"), {{"globals", "5"}}},
      {"trace_level 4", "ExecuteTest", WithParams(R"("trace_level":4)"), {{"trace_level", "4"}}},
      {"trace_level -1", "ExecuteTest", WithParams(R"("trace_level":-1)"),
       {{"trace_level", "-1"}}},
      {"trace_level \"x\"", "ExecuteTest", WithParams(R"("trace_level":"x")"),
       {{"trace_level", R"("x")"}}},
      {"trace_level 1.5", "ExecuteTest", WithParams(R"("trace_level":1.5)"),
       {{"trace_level", "1.5"}}},
      {"trace_messages 2", "ExecuteTest", WithParams(R"("trace_messages":2)"),
       {{"trace_messages", "2"}}},
      {"turbo \"yes\"", "ExecuteTest", WithParams(R"("turbo":"yes")"), {{"turbo", R"("yes")"}}},
      {"max_failures -1", "ExecuteTest", WithParams(R"("max_failures":-1)"),
       {{"max_failures", "-1"}}},
      {"max_failures \"many\"", "ExecuteTest", WithParams(R"("max_failures":"many")"),
       {{"max_failures", R"("many")"}}},
      {"tags a string", "ExecuteTest", WithParams(R"("tags":"x")"), {{"tags", R"("x")"}}},
      {"tags with a number", "ExecuteTest", WithParams(R"("tags":["a",1])"),
       {{"tags[1]", "1"}}},
      {"seed \"abc\"", "ExecuteTest", WithParams(R"("seed":"abc")"), {{"seed", R"("abc")"}}},
      {"seed 1.5", "ExecuteTest", WithParams(R"("seed":1.5)"), {{"seed", "1.5"}}},
      {"several at once", "ExecuteTest",
       R"({"run_id":"a b","vars":[],"trace_level":9,"turbo":"yes",
           "operations":[{"type":"nosuch"}]})",
       {{"run_id", R"("a b")"},
        {"trace_level", "9"},
        {"turbo", R"("yes")"},
        {"vars", "an empty array"},
        {"type", R"(is unknown: "nosuch")", 0}}},
  };
  for (const BadCall& call : calls) f.ExpectInvalid(call);
}

TEST_CASE("ExecuteTest: bad distributions are -32602 with every problem in data",
          "[integration]") {
  FOR_EACH_FRAMING(framing);
  Fixture f(framing);
  const std::vector<BadCall> calls = {
      {"not an object", "ExecuteTest", WithDistribution(R"("load")"),
       {{"distribution", R"("load")"}}},
      {"unknown type", "ExecuteTest", WithDistribution(R"({"type":"burst"})"),
       {{"distribution.type", R"("burst")"}}},
      {"type a number", "ExecuteTest", WithDistribution(R"({"type":1})"),
       {{"distribution.type", "1"}}},
      {"load without total", "ExecuteTest", WithDistribution(R"({"type":"load"})"),
       {{"distribution.total", "is required"}}},
      {"linear without total", "ExecuteTest", WithDistribution(R"({"type":"linear","rate":5})"),
       {{"distribution.total", "is required"}}},
      {"total -1", "ExecuteTest", WithDistribution(R"({"type":"load","total":-1})"),
       {{"distribution.total", "-1"}}},
      {"total \"abc\"", "ExecuteTest", WithDistribution(R"({"type":"load","total":"abc"})"),
       {{"distribution.total", R"("abc")"}}},
      {"total 1.5", "ExecuteTest", WithDistribution(R"({"type":"load","total":1.5})"),
       {{"distribution.total", "1.5"}}},
      {"backlog 0", "ExecuteTest", WithDistribution(R"({"type":"load","total":5,"backlog":0})"),
       {{"distribution.backlog", "0"}}},
      {"backlog \"x\"", "ExecuteTest",
       WithDistribution(R"({"type":"load","total":5,"backlog":"x"})"),
       {{"distribution.backlog", R"("x")"}}},
      {"linear without rate", "ExecuteTest", WithDistribution(R"({"type":"linear","total":5})"),
       {{"distribution.rate", "is required"}}},
      {"rate 0", "ExecuteTest", WithDistribution(R"({"type":"linear","total":5,"rate":0})"),
       {{"distribution.rate", "0"}}},
      {"rate 0.001", "ExecuteTest",
       WithDistribution(R"({"type":"linear","total":5,"rate":0.001})"),
       {{"distribution.rate", "0.001"}}},
      {"rate 2000000", "ExecuteTest",
       WithDistribution(R"({"type":"linear","total":5,"rate":2000000})"),
       {{"distribution.rate", "2000000"}}},
      {"rate \"fast\"", "ExecuteTest",
       WithDistribution(R"({"type":"linear","total":5,"rate":"fast"})"),
       {{"distribution.rate", R"("fast")"}}},
      {"duration 0", "ExecuteTest", WithDistribution(R"({"type":"load","duration":0})"),
       {{"distribution.duration", "0"}}},
      {"duration -1", "ExecuteTest", WithDistribution(R"({"type":"load","duration":-1})"),
       {{"distribution.duration", "-1"}}},
      {"stages with load", "ExecuteTest",
       WithDistribution(R"({"type":"load","total":5,"stages":[{"duration":1,"rate":1}]})"),
       {{"distribution.stages", "load"}}},
      {"stages empty", "ExecuteTest", WithDistribution(R"({"type":"linear","stages":[]})"),
       {{"distribution.stages", "an empty array"}}},
      {"stage without duration, stage rate -1", "ExecuteTest",
       WithDistribution(R"({"type":"linear","stages":[{"rate":1},{"duration":1,"rate":-1}]})"),
       {{"distribution.stages[0].duration", "is required"},
        {"distribution.stages[1].rate", "-1"}}},
      {"every field wrong at once", "ExecuteTest",
       WithDistribution(R"({"type":"linear","total":-5,"backlog":0,"rate":0,"duration":-2})"),
       {{"distribution.backlog", "0"},
        {"distribution.duration", "-2"},
        {"distribution.rate", "0"},
        {"distribution.total", "-5"}}},
  };
  for (const BadCall& call : calls) f.ExpectInvalid(call);
}

TEST_CASE("QueryTest, CancelTest, PauseTest, UnpauseTest: bad run_id params",
          "[integration]") {
  FOR_EACH_FRAMING(framing);
  Fixture f(framing);
  std::vector<BadCall> calls;
  for (const char* method : {"QueryTest", "CancelTest", "PauseTest", "UnpauseTest"}) {
    std::string m = method;
    calls.push_back({m + " run_id missing", m, "{}", {{"run_id", "required"}}});
    calls.push_back({m + " run_id a number", m, R"({"run_id":5})", {{"run_id", "5"}}});
    calls.push_back({m + " run_id null", m, R"({"run_id":null})", {{"run_id", "required"}}});
    calls.push_back({m + " run_id an array", m, R"({"run_id":["bystander"]})",
                     {{"run_id", "array"}}});
    calls.push_back({m + " positional params", m, R"(["bystander"])", {}});
  }
  for (BadCall& call : calls) {
    if (call.problems.empty()) {
      // A non-empty positional array: -32602; data is not prescribed.
      INFO("case: " << call.name);
      Reply r = f.client().Call(call.method, call.params);
      CHECK(r.code() == -32602);
      f.CheckUndisturbed();
      continue;
    }
    f.ExpectInvalid(call);
  }
}

TEST_CASE("ResumeInstance: bad params", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Fixture f(framing);
  const std::vector<BadCall> calls = {
      {"instance_id missing", "ResumeInstance", R"({"run_id":"bystander"})",
       {{"instance_id", "required"}}},
      {"instance_id \"abc\"", "ResumeInstance", R"({"run_id":"bystander","instance_id":"abc"})",
       {{"instance_id", R"("abc")"}}},
      {"instance_id 1.5", "ResumeInstance", R"({"run_id":"bystander","instance_id":1.5})",
       {{"instance_id", "1.5"}}},
      {"instance_id true", "ResumeInstance", R"({"run_id":"bystander","instance_id":true})",
       {{"instance_id", "true"}}},
      {"vars an array", "ResumeInstance",
       R"({"run_id":"bystander","instance_id":0,"vars":[1]})", {{"vars", "array"}}},
      {"vars a string", "ResumeInstance",
       R"({"run_id":"bystander","instance_id":0,"vars":"x"})", {{"vars", R"("x")"}}},
      {"everything missing", "ResumeInstance", "{}",
       {{"run_id", "required"}, {"instance_id", "required"}}},
      {"run_id a number and instance_id a word", "ResumeInstance",
       R"({"run_id":1,"instance_id":"zero"})", {{"run_id", "1"}, {"instance_id", R"("zero")"}}},
  };
  for (const BadCall& call : calls) f.ExpectInvalid(call);
  // The halted instance is still halted and resumable after all that.
  Reply r = f.client().Call("ResumeInstance", R"({"run_id":"bystander","instance_id":1})");
  CHECK(r.code() == -32004);
  f.CheckUndisturbed();
}

TEST_CASE("ListTests and GetServerInfo: bad params", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Fixture f(framing);
  const std::vector<BadCall> calls = {
      {"status \"nope\"", "ListTests", R"({"status":"nope"})", {{"status", R"("nope")"}}},
      {"status 1", "ListTests", R"({"status":1})", {{"status", "1"}}},
      {"tag 5", "ListTests", R"({"tag":5})", {{"tag", "5"}}},
      {"both", "ListTests", R"({"status":"nope","tag":[]})",
       {{"status", R"("nope")"}, {"tag", "array"}}},
  };
  for (const BadCall& call : calls) f.ExpectInvalid(call);
  for (const char* method : {"ListTests", "GetServerInfo", "ExecuteTest", "ResumeInstance"}) {
    INFO(method << " with positional params");
    CHECK(f.client().Call(method, R"([{"run_id":"x"}])").code() == -32602);
    f.CheckUndisturbed();
  }
  // Empty positional params mean "no parameters".
  CHECK(f.client().Call("ListTests", "[]").result()["runs"].Size() == 1);
  CHECK(f.client().Call("ExecuteTest", "[]").code() == -32602);
  f.CheckUndisturbed();
}

TEST_CASE("Integer parameters also accept decimal strings", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"run_id":"strings","trace_level":"1","turbo":"0",
      "seed":"42","max_failures":"10",
      "distribution":{"type":"load","total":"3","backlog":"2"},
      "operations":[{"type":"comment","text":"hi"}]})");
  Reply done = c.WaitCompleted(id);
  CHECK(Int(done.result()["counts"]["passed"]) == 3);
  CHECK(Str(done.result()["first_call_summary"]["trace_log"][0]["text"]) == "hi");
}

}  // namespace testrund::test
