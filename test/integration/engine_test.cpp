// SPDX-License-Identifier: Apache-2.0
// Integration tests of the run engine through the real binary and both framings (docs/api.md,
// docs/operations.md): a worked example whose QueryTest result is asserted field by field,
// a load run with exact counts and first-reason tables, halt/resume with vars, halt expiry,
// cancel of a run with halted and waiting instances, run_id rules, and the rate accuracy of
// a linear run.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <chrono>
#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "test/integration/harness.h"
#include "test/integration/rpc_client.h"

namespace testrund::test {
namespace {

// Sums num_calls_started / num_calls_finished over the buckets; checks their shape.
std::pair<int64_t, int64_t> BucketSums(const rapidjson::Value& buckets) {
  INFO("buckets: " << Dump(buckets));
  REQUIRE(buckets.IsArray());
  REQUIRE(buckets.Size() >= 1);
  REQUIRE(buckets.Size() <= 20);
  int64_t started = 0;
  int64_t finished = 0;
  for (rapidjson::SizeType j = 0; j < buckets.Size(); ++j) {
    const rapidjson::Value& b = buckets[j];
    CHECK(b.HasMember("time_start") == (j != 0));
    if (j != 0) TimeOf(b["time_start"]);
    started += Int(b["num_calls_started"]);
    finished += Int(b["num_calls_finished"]);
  }
  return {started, finished};
}

// The worked example: vars, eval, assert pass with a {...} text, assert fail with
// a custom text, a loop through a branch (step != op_idx), default assert texts, comments
// at trace_level 1, globals, and an unknown attribute.
constexpr const char* kWorkedExample = R"({
  "run_id": "worked-1",
  "vars": {"n": 5, "name": "alice"},
  "globals": {"hits": 0},
  "trace_level": 1,
  "tags": ["example", "ci"],
  "operations": [
    {"type": "comment", "text": "starting"},
    {"type": "eval", "expression": "v.n = v.n + 1; g.hits = g.hits + 1"},
    {"type": "assert", "expression": "v.n == 6", "pass": "{'n is ' .. v.n}"},
    {"type": "assert", "expression": "v.n == 7", "fail": "n should be 7"},
    {"type": "eval", "label": "loop", "expression": "v.k = (v.k or 0) + 1"},
    {"type": "branch", "expression": "v.k < 3", "on_true": "loop"},
    {"type": "assert", "expression": "v.k == 3"},
    {"type": "assert", "expression": "v.name == 'bob'"},
    {"type": "eval", "expression": "g.cause = 'cause ' .. v.n; g.list = {1, 2.5, 'x'}; g.empty = {}; g.f = function() end; g.who = {name = v.name, ok = true}"},
    {"type": "comment", "text": "{'done at ' .. v.k}"},
    {"type": "branch", "expression": "true", "on_true": "end", "on_false": "loop"},
    {"type": "assert", "expression": "false", "abort": "never reached"},
    {"type": "comment", "label": "end", "text": "\\{literal}", "custom": 7}
  ]
})";

}  // namespace

TEST_CASE("Worked example: the QueryTest result field by field", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Daemon d;
  RpcClient c(d, framing);
  REQUIRE(c.Execute(kWorkedExample) == "worked-1");
  Reply reply = c.WaitCompleted("worked-1");
  const rapidjson::Value& r = reply.result();
  INFO("QueryTest: " << reply.text);

  CHECK(Str(r["run_id"]) == "worked-1");
  CHECK(Int(r["completed"]) == 1);
  CHECK(Str(r["status"]) == "completed");
  CHECK_FALSE(r.HasMember("status_reason"));
  CHECK_JSON(r["tags"], R"(["example", "ci"])");

  double now = TimeOf(r["time_now"]);
  double start = TimeOf(r["time_start"]);
  double finish = TimeOf(r["time_finish"]);
  CHECK(start <= finish);
  CHECK(finish <= now);
  REQUIRE(r["duration"].IsNumber());
  CHECK(r["duration"].GetDouble() >= 0);
  CHECK(r["duration"].GetDouble() == Approx(finish - start).margin(2e-6));
  CHECK(r["duration"].GetDouble() < 5);
  if (r.HasMember("percent_complete")) CHECK(r["percent_complete"].GetDouble() == 100);

  CHECK_JSON(r["counts"], R"({"started": 1, "finished": 1, "failed": 1, "aborted": 0,
                               "cancelled": 0, "passed": 0, "late": 0, "halted": 0,
                               "running": 0})");

  // Integers stay integers: "cause " .. 6 is "cause 6"; functions are skipped.
  CHECK_JSON(r["globals"], R"({"hits": 1, "cause": "cause 6", "list": [1, 2.5, "x"],
                                "empty": {}, "who": {"name": "alice", "ok": true}})");
  REQUIRE(r["globals"]["hits"].IsInt64());
  REQUIRE(r["globals"]["list"][0].IsInt64());

  CHECK_JSON(r["halted"], "[]");
  CHECK_JSON(r["first_fails"], R"([{"op_idx": 3, "text": "n should be 7", "count": 1}])");
  CHECK_JSON(r["first_aborts"], "[]");
  CHECK_FALSE(r.HasMember("latency"));  // no op waited on the outside world

  REQUIRE(r["buckets"].IsArray());
  CHECK_JSON(r["buckets"], R"([{"num_calls_started": 1, "num_calls_finished": 1}])");

  const rapidjson::Value& fcs = r["first_call_summary"];
  CHECK(Int(fcs["idx"]) == 0);
  CHECK(Int(fcs["completed"]) == 1);
  double fcs_start = TimeOf(fcs["time_start"]);
  double fcs_finish = TimeOf(fcs["time_finish"]);
  CHECK(start <= fcs_start + 1e-6);
  CHECK(fcs_start <= fcs_finish);
  CHECK(fcs_finish <= finish + 1e-6);
  REQUIRE(fcs["duration"].IsNumber());
  CHECK(fcs["duration"].GetDouble() == Approx(fcs_finish - fcs_start).margin(2e-6));
  // Steps: 0 comment, 1 eval, 2 assert, 3 assert, loop 4/5, 6/7, 8/9 (falls through),
  // 10 assert, 11 assert, 12 eval, 13 comment, 14 branch -> op 12 at step 15.
  CHECK_JSON(fcs["check_log"], R"([
      {"op_idx": 2, "step": 2, "status": "pass", "text": "n is 6"},
      {"op_idx": 3, "step": 3, "status": "fail", "text": "n should be 7"},
      {"op_idx": 6, "step": 10, "status": "pass", "text": "Assert tested TRUE."},
      {"op_idx": 7, "step": 11, "status": "fail", "text": "Assert tested FALSE."}])");
  const rapidjson::Value& trace = fcs["trace_log"];
  REQUIRE(trace.IsArray());
  REQUIRE(trace.Size() == 3);
  struct Expected {
    int op_idx;
    int step;
    const char* text;
  };
  const Expected expected[] = {{0, 0, "starting"}, {9, 13, "done at 3"}, {12, 15, "{literal}"}};
  double previous = fcs_start - 1e-6;
  for (rapidjson::SizeType j = 0; j < 3; ++j) {
    INFO("trace_log[" << j << "] = " << Dump(trace[j]));
    CHECK(Int(trace[j]["op_idx"]) == expected[j].op_idx);
    CHECK(Int(trace[j]["step"]) == expected[j].step);
    CHECK(Str(trace[j]["path"]) == "trace.notice");
    CHECK(Str(trace[j]["text"]) == expected[j].text);
    double t = TimeOf(trace[j]["time"]);
    CHECK(t >= previous);
    CHECK(t <= fcs_finish + 1e-6);
    previous = t;
  }

  // The run failed in instance 0: first_fail_summary is the same record.
  REQUIRE(r.HasMember("first_fail_summary"));
  CHECK(Int(r["first_fail_summary"]["idx"]) == 0);
  CHECK(r["first_fail_summary"]["check_log"] == fcs["check_log"]);

  // Returned completed once: discarded.
  Reply again = c.Query("worked-1");
  CHECK(again.code() == -32001);
  CHECK(again.message().find("worked-1") != std::string::npos);
}

TEST_CASE("Worked example: trace_level 0 records no comment, a halt comment always",
          "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"operations": [
      {"type": "comment", "text": "quiet"},
      {"type": "halt", "arguments": {"seconds": 30, "comment": "{'halted ' .. instance}"}}]})");
  c.WaitCount(id, "halted", 1);
  REQUIRE(c.Call("ResumeInstance", R"({"run_id":)" + Quoted(id) + R"(,"instance_id":0})").ok());
  Reply reply = c.WaitCompleted(id);
  const rapidjson::Value& trace = reply.result()["first_call_summary"]["trace_log"];
  REQUIRE(trace.IsArray());
  REQUIRE(trace.Size() == 1);
  CHECK(Int(trace[0]["op_idx"]) == 1);
  CHECK(Int(trace[0]["step"]) == 1);
  CHECK(Str(trace[0]["path"]) == "trace.notice");
  CHECK(Str(trace[0]["text"]) == "halted 0");
  // No checks: the empty check_log is omitted.
  CHECK_FALSE(reply.result()["first_call_summary"].HasMember("check_log"));
  CHECK(Int(reply.result()["counts"]["passed"]) == 1);
}

TEST_CASE("Load run: exact counts and first-reason tables", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Daemon d;
  RpcClient c(d, framing);
  // Instances 0..999: i % 3 == 0 fails ("bad 0"/"bad 1" by parity), i % 5 == 0 aborts.
  std::string id = c.Execute(R"({
    "run_id": "load-1",
    "distribution": {"type": "load", "total": 1000, "backlog": 50},
    "operations": [
      {"type": "assert", "expression": "instance % 3 ~= 0", "fail": "{'bad ' .. instance % 2}"},
      {"type": "assert", "expression": "instance % 5 ~= 0", "abort": "five", "fail": "ignored"},
      {"type": "wait", "arguments": {"seconds": 0.01}}
    ]})");
  Reply reply = c.WaitCompleted(id, 40);
  const rapidjson::Value& r = reply.result();
  INFO("QueryTest: " << reply.text);
  CHECK(Str(r["status"]) == "completed");
  // fails: 334 (i%3==0), of which 67 also abort (i%15==0) and count only as aborted.
  CHECK_JSON(r["counts"], R"({"started": 1000, "finished": 1000, "failed": 267,
                               "aborted": 200, "cancelled": 0, "passed": 533, "late": 0,
                               "halted": 0, "running": 0})");
  CHECK_JSON(r["first_fails"], R"([{"op_idx": 0, "text": "bad 0", "count": 167},
                                    {"op_idx": 0, "text": "bad 1", "count": 167}])");
  CHECK_JSON(r["first_aborts"], R"([{"op_idx": 1, "text": "five", "count": 200}])");
  auto [started, finished] = BucketSums(r["buckets"]);
  CHECK(started == 1000);
  CHECK(finished == 1000);
  CHECK(r["percent_complete"].GetDouble() == 100);

  // The wait is the only op with latency: 800 instances reached it.
  REQUIRE(r.HasMember("latency"));
  const rapidjson::Value& latency = r["latency"];
  REQUIRE(latency.Size() == 1);
  CHECK(Int(latency[0]["op_idx"]) == 2);
  CHECK(Int(latency[0]["count"]) == 800);
  CHECK(latency[0]["min"].GetDouble() >= 0.0099);
  CHECK(latency[0]["min"].GetDouble() <= latency[0]["p50"].GetDouble());
  CHECK(latency[0]["p50"].GetDouble() <= latency[0]["p90"].GetDouble());
  CHECK(latency[0]["p99"].GetDouble() <= latency[0]["max"].GetDouble());

  // Instance 0 fails op 0 ("bad 0") and aborts at op 1.
  const rapidjson::Value& fcs = r["first_call_summary"];
  CHECK_JSON(fcs["check_log"], R"([
      {"op_idx": 0, "step": 0, "status": "fail", "text": "bad 0"},
      {"op_idx": 1, "step": 1, "status": "abort", "text": "five"}])");
  CHECK(Int(r["first_fail_summary"]["idx"]) == 0);
}

TEST_CASE("Halt and ResumeInstance: halted list, vars merged, errors", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Daemon d;
  RpcClient c(d, framing);
  std::string id = c.Execute(R"({
    "run_id": "halt-1",
    "distribution": {"type": "load", "total": 3, "backlog": 3},
    "vars": {"a": 1},
    "operations": [
      {"type": "eval", "expression": "v.a = v.a + 1"},
      {"type": "halt", "static": 1, "note": {"kept": [1, "two"]},
       "arguments": {"seconds": 30, "comment": "waiting for the operator"}},
      {"type": "assert", "expression": "v.x == 42", "fail": "{'x was ' .. tostring(v.x)}"},
      {"type": "assert", "expression": "v.a == 2 and v.n == nil"}
    ]})");
  c.WaitCount(id, "halted", 3);

  Reply q = c.Query(id);
  const rapidjson::Value& r = q.result();
  INFO("QueryTest: " << q.text);
  CHECK(Int(r["completed"]) == 0);
  CHECK(Str(r["status"]) == "running");
  CHECK_FALSE(r.HasMember("time_finish"));
  CHECK_FALSE(r.HasMember("duration"));
  CHECK_JSON(r["counts"], R"({"started": 3, "finished": 0, "failed": 0, "aborted": 0,
                               "cancelled": 0, "passed": 0, "late": 0, "halted": 3,
                               "running": 3})");
  CHECK(Int(r["halted_total"]) == 3);
  const char* op = R"({"idx": 1, "type": "halt", "static": 1, "note": {"kept": [1, "two"]},
                       "arguments": {"seconds": 30, "comment": "waiting for the operator"}})";
  REQUIRE(r["halted"].Size() == 3);
  for (rapidjson::SizeType k = 0; k < 3; ++k) {
    const rapidjson::Value& entry = r["halted"][k];
    REQUIRE(entry["instance_id"].IsInt64());
    CHECK(entry["instance_id"].GetInt64() == k);
    CHECK_JSON(entry["operation"], op);
    TimeOf(entry["time_halted"]);
    CHECK(entry["time_left"].GetDouble() > 0);
    CHECK(entry["time_left"].GetDouble() <= 30);
  }
  const rapidjson::Value& fcs = r["first_call_summary"];
  CHECK(Int(fcs["completed"]) == 0);
  CHECK_FALSE(fcs.HasMember("time_finish"));
  CHECK_FALSE(fcs.HasMember("duration"));
  TimeOf(fcs["time_start"]);

  auto resume = [&](const std::string& params) { return c.Call("ResumeInstance", params); };
  {  // errors while instances are halted
    CHECK(resume(R"({"run_id":"nope","instance_id":0})").code() == -32001);
    CHECK(resume(R"({"run_id":"halt-1","instance_id":-1})").code() == -32003);
    CHECK(resume(R"({"run_id":"halt-1","instance_id":3})").code() == -32003);
    CHECK(resume(R"({"run_id":"halt-1","instance_id":"3"})").code() == -32003);
    CHECK(resume(R"({"run_id":"halt-1","instance_id":1000000})").code() == -32003);
  }

  Reply ok = resume(R"({"run_id":"halt-1","instance_id":0,"vars":{"x":42}})");
  CHECK_JSON(ok.result(), R"({"resumed": 1})");
  // A finished instance is not halted.
  c.WaitCount(id, "finished", 1);
  CHECK(resume(R"({"run_id":"halt-1","instance_id":0})").code() == -32004);
  // The id as a decimal string.
  CHECK_JSON(resume(R"({"run_id":"halt-1","instance_id":"1","vars":{"x":41}})").result(),
             R"({"resumed": 1})");
  CHECK_JSON(resume(R"({"run_id":"halt-1","instance_id":2})").result(), R"({"resumed": 1})");

  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& f = done.result();
  INFO("final QueryTest: " << done.text);
  CHECK_JSON(f["counts"], R"({"started": 3, "finished": 3, "failed": 2, "aborted": 0,
                               "cancelled": 0, "passed": 1, "late": 0, "halted": 0,
                               "running": 0})");
  CHECK_JSON(f["halted"], "[]");
  CHECK_JSON(f["first_fails"], R"([{"op_idx": 2, "text": "x was 41", "count": 1},
                                    {"op_idx": 2, "text": "x was nil", "count": 1}])");
  CHECK_JSON(f["first_call_summary"]["check_log"], R"([
      {"op_idx": 2, "step": 2, "status": "pass", "text": "Assert tested TRUE."},
      {"op_idx": 3, "step": 3, "status": "pass", "text": "Assert tested TRUE."}])");
  CHECK_JSON(f["first_call_summary"]["trace_log"][0]["text"], R"("waiting for the operator")");
  CHECK(Int(f["first_call_summary"]["trace_log"][0]["op_idx"]) == 1);
  CHECK(Int(f["first_call_summary"]["trace_log"][0]["step"]) == 1);
  // The halt recorded a latency sample per resumed instance.
  REQUIRE(f.HasMember("latency"));
  CHECK(Int(f["latency"][0]["op_idx"]) == 1);
  CHECK(Int(f["latency"][0]["count"]) == 3);
  // The run is gone; resuming in it is an unknown run.
  CHECK(resume(R"({"run_id":"halt-1","instance_id":0})").code() == -32001);
}

TEST_CASE("ResumeInstance of a waiting (running) instance is -32004", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"run_id":"w","operations":[
      {"type":"wait","arguments":{"seconds":30}}]})");
  c.WaitCount(id, "started", 1);
  CHECK(c.Call("ResumeInstance", R"({"run_id":"w","instance_id":0})").code() == -32004);
  // Due but not started yet (a linear run far in the future): -32004, not -32003.
  std::string slow = c.Execute(R"({"run_id":"slow","distribution":{"type":"linear","rate":0.01,
      "total":5},"operations":[{"type":"wait","arguments":{"seconds":30}}]})");
  c.WaitCount(slow, "started", 1);
  CHECK(c.Call("ResumeInstance", R"({"run_id":"slow","instance_id":4})").code() == -32004);
  CHECK(c.Call("ResumeInstance", R"({"run_id":"slow","instance_id":5})").code() == -32003);
  CHECK(Int(c.Call("CancelTest", RunIdParam("w")).result()["cancelled"]) == 1);
  CHECK(Int(c.Call("CancelTest", RunIdParam("slow")).result()["cancelled"]) == 1);
}

TEST_CASE("Halt expiry aborts with exactly \"Halt timed out after <s> seconds.\"",
          "[integration]") {
  std::string seconds;
  std::string text;
  SECTION("0.5 seconds") {
    seconds = "0.5";
    text = "Halt timed out after 0.5 seconds.";
  }
  SECTION("1 second") {
    seconds = "1";
    text = "Halt timed out after 1 seconds.";
  }
  SECTION("\"0.5\" as a string") {
    seconds = "\"0.5\"";
    text = "Halt timed out after 0.5 seconds.";
  }
  Daemon d;
  RpcClient c(d, Framing::kFramed);
  std::string id = c.Execute(R"({"operations":[{"type":"eval","expression":"v.z = 1"},
      {"type":"halt","arguments":{"seconds":)" + seconds + R"(}},
      {"type":"assert","expression":"false","fail":"not reached"}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  CHECK_JSON(r["counts"], R"({"started": 1, "finished": 1, "failed": 0, "aborted": 1,
                               "cancelled": 0, "passed": 0, "late": 0, "halted": 0,
                               "running": 0})");
  CHECK_JSON(r["first_aborts"], R"([{"op_idx": 1, "text": )" + Quoted(text) + R"(, "count": 1}])");
  CHECK_JSON(r["first_fails"], "[]");
  CHECK_JSON(r["halted"], "[]");
  CHECK_JSON(r["first_call_summary"]["check_log"],
             R"([{"op_idx": 1, "step": 1, "status": "abort", "text": )" + Quoted(text) + "}]");
  double expected = std::stod(seconds[0] == '"' ? seconds.substr(1) : seconds);
  CHECK(r["first_call_summary"]["duration"].GetDouble() >= expected - 0.001);
  CHECK(r["first_call_summary"]["duration"].GetDouble() < expected + 3);
}

TEST_CASE("CancelTest ends halted and waiting instances as cancelled", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Daemon d;
  RpcClient c(d, framing);
  // Even instances halt, odd ones wait; instance 1 has a failed check first.
  std::string id = c.Execute(R"({
    "run_id": "cancel-1",
    "distribution": {"type": "load", "total": 4},
    "operations": [
      {"type": "assert", "expression": "instance ~= 1", "fail": "one"},
      {"type": "branch", "expression": "instance % 2 == 0", "on_true": "h"},
      {"type": "wait", "arguments": {"seconds": 30}},
      {"type": "halt", "label": "h", "arguments": {"seconds": 30}}
    ]})");
  c.WaitListed(id, [](const rapidjson::Value& e) {
    return Int(e["counts"]["halted"]) == 2 && Int(e["counts"]["started"]) == 4;
  });
  Reply cancel = c.Call("CancelTest", RunIdParam(id));
  const rapidjson::Value& r = cancel.result();
  INFO("CancelTest: " << cancel.text);
  CHECK(Int(r["cancelled"]) == 1);
  CHECK(Str(r["run_id"]) == "cancel-1");
  CHECK(Int(r["completed"]) == 1);
  CHECK(Str(r["status"]) == "cancelled");
  // The failed-then-cancelled instance counts in both failed and cancelled.
  CHECK_JSON(r["counts"], R"({"started": 4, "finished": 4, "failed": 1, "aborted": 0,
                               "cancelled": 4, "passed": 0, "late": 0, "halted": 0,
                               "running": 0})");
  CHECK_JSON(r["halted"], "[]");
  CHECK_JSON(r["first_fails"], R"([{"op_idx": 0, "text": "one", "count": 1}])");
  CHECK_JSON(r["first_aborts"], "[]");
  double start = TimeOf(r["time_start"]);
  double finish = TimeOf(r["time_finish"]);
  CHECK(start <= finish);
  CHECK(finish <= TimeOf(r["time_now"]));
  CHECK(r["duration"].GetDouble() == Approx(finish - start).margin(2e-6));
  auto [started, finished] = BucketSums(r["buckets"]);
  CHECK(started == 4);
  CHECK(finished == 4);
  CHECK(Int(r["first_call_summary"]["completed"]) == 1);

  CHECK(c.Query(id).code() == -32001);
  CHECK(c.Call("CancelTest", RunIdParam(id)).code() == -32001);
  CHECK(c.Call("ResumeInstance", R"({"run_id":"cancel-1","instance_id":0})").code() == -32001);
  CHECK_FALSE(c.Listed(id).has_value());
  CHECK(Int(c.Call("GetServerInfo").result()["instances_live"]) == 0);
  CHECK(Int(c.Call("GetServerInfo").result()["runs"]) == 0);
}

TEST_CASE("CancelTest of a completed run returns cancelled 0", "[integration]") {
  Daemon d({"--completed-run-retention", "60"});
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"run_id":"done-1","operations":[
      {"type":"eval","expression":"g.x = 1"}]})");
  Reply first = c.WaitCompleted(id);
  // Retained: a second QueryTest still answers.
  Reply second = c.Query(id);
  CHECK(Int(second.result()["completed"]) == 1);
  Reply cancel = c.Call("CancelTest", RunIdParam(id));
  INFO("CancelTest: " << cancel.text);
  CHECK(Int(cancel.result()["cancelled"]) == 0);
  CHECK(Str(cancel.result()["status"]) == "completed");
  CHECK_JSON(cancel.result()["counts"], R"({"started": 1, "finished": 1, "failed": 0,
      "aborted": 0, "cancelled": 0, "passed": 1, "late": 0, "halted": 0, "running": 0})");
  CHECK_JSON(cancel.result()["globals"], R"({"x": 1})");
  CHECK(c.Query(id).code() == -32001);
  CHECK(c.Call("CancelTest", RunIdParam(id)).code() == -32001);
}

TEST_CASE("run_id rules: in use, discarded, unknown, assigned", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Daemon d;
  RpcClient c(d, framing);
  const std::string wait_op = R"("operations":[{"type":"wait","arguments":{"seconds":30}}])";
  REQUIRE(c.Execute(R"({"run_id":"live",)" + wait_op + "}") == "live");

  // A live run's id.
  Reply dup = c.Call("ExecuteTest", R"({"run_id":"live",)" + wait_op + "}");
  CHECK(dup.code() == -32002);
  CHECK(dup.message().find("live") != std::string::npos);

  // A run returned completed, then reused.
  c.Execute(R"({"run_id":"returned","operations":[{"type":"eval","expression":"v.x = 1"}]})");
  c.WaitCompleted("returned");
  CHECK(c.Query("returned").code() == -32001);
  CHECK(c.Call("ExecuteTest", R"({"run_id":"returned",)" + wait_op + "}").code() == -32002);

  // A completed run not yet returned is still live.
  c.Execute(R"({"run_id":"unreturned","operations":[{"type":"eval","expression":"v.x = 1"}]})");
  c.WaitListed("unreturned",
               [](const rapidjson::Value& e) { return Str(e["status"]) == "completed"; });
  CHECK(c.Call("ExecuteTest", R"({"run_id":"unreturned",)" + wait_op + "}").code() == -32002);

  // A cancelled run.
  REQUIRE(c.Call("CancelTest", RunIdParam("live")).ok());
  CHECK(c.Call("ExecuteTest", R"({"run_id":"live",)" + wait_op + "}").code() == -32002);

  // Unknown ids.
  for (const char* method : {"QueryTest", "CancelTest", "PauseTest", "UnpauseTest"}) {
    INFO(method);
    Reply unknown = c.Call(method, RunIdParam("never-was"));
    CHECK(unknown.code() == -32001);
    CHECK(unknown.message().find("never-was") != std::string::npos);
  }

  // Assigned ids: tr_<n>, distinct.
  std::string a = c.Execute(R"({)" + wait_op + "}");
  std::string b = c.Execute(R"({"run_id":null,)" + wait_op + "}");
  CHECK(std::regex_match(a, std::regex("tr_[0-9]+")));
  CHECK(std::regex_match(b, std::regex("tr_[0-9]+")));
  CHECK(a != b);
  CHECK(Int(c.Query(a).result()["counts"]["started"]) == 1);
  CHECK(Str(c.Query(b).result()["run_id"]) == b);
}

TEST_CASE("run_id: bad values are -32602 with the problem in data", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string value;
  std::string shown;  // how the problem quotes it: long strings cut, objects by kind
  SECTION("empty") { value = shown = R"("")"; }
  SECTION("65 characters") {
    value = Quoted(std::string(65, 'a'));
    shown = Quoted(std::string(60, 'a') + "...");
  }
  SECTION("a space") { value = shown = R"("a b")"; }
  SECTION("non-ASCII") { value = shown = R"("é")"; }
  SECTION("a slash") { value = shown = R"("a/b")"; }
  SECTION("a number") { value = shown = "5"; }
  SECTION("an object") {
    value = "{}";
    shown = "an empty object";
  }
  Reply r = c.Call("ExecuteTest", R"({"run_id":)" + value +
                                      R"(,"operations":[{"type":"eval","expression":"v.x = 1"}]})");
  REQUIRE(r.code() == -32602);
  const rapidjson::Value& data = r.data();
  INFO("error: " << r.text);
  REQUIRE(data.Size() == 1);
  CHECK_FALSE(data[0].HasMember("op_idx"));
  CHECK(Str(data[0]["field"]) == "run_id");
  CHECK(Str(data[0]["problem"]).ends_with(", got " + shown));
  CHECK(r.message().find("run_id") != std::string::npos);
  CHECK(Int(c.Call("GetServerInfo").result()["runs"]) == 0);
  // 64 characters of every allowed class is fine.
  std::string ok_id = "Az09_.:-" + std::string(56, 'x');
  CHECK(c.Execute(R"({"run_id":)" + Quoted(ok_id) +
                  R"(,"operations":[{"type":"eval","expression":"v.x = 1"}]})") == ok_id);
}

TEST_CASE("Linear rate: 200/s for 200 instances takes about 1 s, none late", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"distribution":{"type":"linear","rate":200,"total":200},
      "operations":[{"type":"eval","expression":"g.n = (g.n or 0) + 1"}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  CHECK(Int(r["counts"]["started"]) == 200);
  CHECK(Int(r["counts"]["passed"]) == 200);
  CHECK(Int(r["counts"]["late"]) == 0);
  CHECK(Int(r["globals"]["n"]) == 200);
  // The last instance is due at 199/200 s.
  double elapsed = TimeOf(r["time_finish"]) - TimeOf(r["time_start"]);
  CHECK(elapsed >= 0.99);
  CHECK(elapsed < 1.5);
  auto [started, finished] = BucketSums(r["buckets"]);
  CHECK(started == 200);
  CHECK(finished == 200);
  // 100 ms buckets over ~1 s: about 20 starts each.
  CHECK(r["buckets"].Size() >= 9);
  for (const auto& b : r["buckets"].GetArray()) CHECK(Int(b["num_calls_started"]) <= 60);
}

TEST_CASE("Linear rate with a duration: exactly rate x duration instances", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kFramed);
  std::string id = c.Execute(R"({"distribution":{"type":"linear","rate":100,"duration":1},
      "operations":[{"type":"eval","expression":"v.x = 1"}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  // Instance k is due at k/100 s; the end at 1 s is exclusive: k = 0..99.
  CHECK(Int(r["counts"]["started"]) == 100);
  CHECK(Int(r["counts"]["late"]) == 0);
  double elapsed = TimeOf(r["time_finish"]) - TimeOf(r["time_start"]);
  CHECK(elapsed >= 0.98);
  CHECK(elapsed < 1.6);
}

TEST_CASE("Linear rate: a full backlog counts due starts as late", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  // 50/s with backlog 1 and each instance waiting 0.1 s: about 10 start per second, the
  // other due starts are late.
  std::string id = c.Execute(R"({"distribution":{"type":"linear","rate":50,"total":10,
      "backlog":1},"operations":[{"type":"wait","arguments":{"seconds":0.1}}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  CHECK(Int(r["counts"]["started"]) == 10);
  CHECK(Int(r["counts"]["late"]) >= 8);
  CHECK(Int(r["counts"]["late"]) <= 9);
  double elapsed = TimeOf(r["time_finish"]) - TimeOf(r["time_start"]);
  CHECK(elapsed >= 0.99);
  // Latency is measured from the planned start: the last instance was planned at 0.18 s
  // but started at about 0.9 s.
  REQUIRE(r.HasMember("latency"));
  CHECK(r["latency"][0]["max"].GetDouble() >= 0.6);
}

TEST_CASE("PauseTest and UnpauseTest", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"run_id":"p","distribution":{"type":"linear","rate":20,
      "total":1000},"operations":[{"type":"eval","expression":"v.x = 1"}]})");
  c.WaitListed(id, [](const rapidjson::Value& e) { return Int(e["counts"]["started"]) >= 2; });
  CHECK_JSON(c.Call("PauseTest", RunIdParam(id)).result(), R"({"run_id":"p","status":"paused"})");
  CHECK(c.Call("PauseTest", RunIdParam(id)).code() == -32006);
  Reply q1 = c.Query(id);
  CHECK(Str(q1.result()["status"]) == "paused");
  CHECK(Int(q1.result()["completed"]) == 0);
  int64_t started = Int(q1.result()["counts"]["started"]);
  CHECK(c.Listed(id).has_value());
  CHECK(c.Call("ListTests", R"({"status":"paused"})").result()["runs"].Size() == 1);
  CHECK(c.Call("ListTests", R"({"status":"running"})").result()["runs"].Size() == 0);
  // No start while paused: poll for 0.3 s.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  int64_t started_while_paused = started;
  while (std::chrono::steady_clock::now() < until) {
    started_while_paused = Int((*c.Listed(id))["counts"]["started"]);
    if (started_while_paused != started) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(started_while_paused == started);
  CHECK_JSON(c.Call("UnpauseTest", RunIdParam(id)).result(),
             R"({"run_id":"p","status":"running"})");
  CHECK(c.Call("UnpauseTest", RunIdParam(id)).code() == -32006);
  // No burst of catch-up starts after the pause.
  Reply q2 = c.Query(id);
  CHECK(Int(q2.result()["counts"]["started"]) <= started + 2);
  c.WaitListed(id, [&](const rapidjson::Value& e) {
    return Int(e["counts"]["started"]) >= started + 2;
  });
  CHECK(Int(c.Call("CancelTest", RunIdParam(id)).result()["cancelled"]) == 1);
}

TEST_CASE("ListTests filters by status and tag", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kFramed);
  c.Execute(R"({"run_id":"a","tags":["x","y"],"operations":[{"type":"wait","arguments":{"seconds":30}}]})");
  c.Execute(R"({"run_id":"b","tags":["y"],"operations":[{"type":"eval","expression":"v.x = 1"}]})");
  c.WaitListed("b", [](const rapidjson::Value& e) { return Str(e["status"]) == "completed"; });
  Reply all = c.Call("ListTests");
  const rapidjson::Value& runs = all.result()["runs"];
  REQUIRE(runs.Size() == 2);
  CHECK(Str(runs[0]["run_id"]) == "a");
  CHECK(Str(runs[0]["status"]) == "running");
  CHECK_JSON(runs[0]["tags"], R"(["x","y"])");
  TimeOf(runs[0]["time_start"]);
  CHECK(Int(runs[0]["counts"]["started"]) == 1);
  CHECK(Str(runs[1]["run_id"]) == "b");
  CHECK(Str(runs[1]["status"]) == "completed");
  CHECK(c.Call("ListTests", R"({"tag":"x"})").result()["runs"].Size() == 1);
  CHECK(c.Call("ListTests", R"({"tag":"y"})").result()["runs"].Size() == 2);
  CHECK(c.Call("ListTests", R"({"tag":"z"})").result()["runs"].Size() == 0);
  Reply completed = c.Call("ListTests", R"({"status":"completed"})");
  REQUIRE(completed.result()["runs"].Size() == 1);
  CHECK(Str(completed.result()["runs"][0]["run_id"]) == "b");
  CHECK(c.Call("ListTests", R"({"status":"running","tag":"y"})").result()["runs"].Size() == 1);
  CHECK(c.Call("ListTests", "[]").ok());
}

TEST_CASE("first_fails keeps 100 distinct reasons, then \"(other reasons)\"", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"distribution":{"type":"load","total":150,"backlog":150},
      "operations":[{"type":"assert","expression":"false","fail":"{'r' .. instance}"},
                    {"type":"assert","expression":"false","fail":"second"}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& fails = done.result()["first_fails"];
  INFO("first_fails: " << Dump(fails));
  REQUIRE(fails.Size() == 101);
  for (rapidjson::SizeType j = 0; j < 100; ++j) {
    CHECK(Int(fails[j]["op_idx"]) == 0);
    CHECK(Str(fails[j]["text"]) == fmt::format("r{}", j));
    CHECK(Int(fails[j]["count"]) == 1);
  }
  CHECK_JSON(fails[100], R"J({"op_idx": -1, "text": "(other reasons)", "count": 50})J");
  CHECK(Int(done.result()["counts"]["failed"]) == 150);
}

TEST_CASE("halted lists at most 1000 instances; halted_total counts them all",
          "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"run_id":"many","distribution":{"type":"load","total":1005,"backlog":2000},
      "operations":[{"type":"halt"}]})");
  c.WaitCount(id, "halted", 1005);
  Reply q = c.Query(id);
  const rapidjson::Value& r = q.result();
  REQUIRE(r["halted"].Size() == 1000);
  CHECK(Int(r["halted_total"]) == 1005);
  CHECK(Int(r["halted"][0]["instance_id"]) == 0);
  CHECK(Int(r["halted"][999]["instance_id"]) == 999);
  // The default halt keeps the op as given: no arguments were given.
  CHECK_JSON(r["halted"][0]["operation"], R"({"idx": 0, "type": "halt"})");
  CHECK(c.Call("ResumeInstance", R"({"run_id":"many","instance_id":1004})").ok());
  Reply cancel = c.Call("CancelTest", RunIdParam(id));
  CHECK(Int(cancel.result()["counts"]["cancelled"]) == 1004);
  CHECK(Int(cancel.result()["counts"]["passed"]) + Int(cancel.result()["counts"]["cancelled"]) ==
        1005);
}

TEST_CASE("halted lists operations up to 16 MiB of echoes", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  // Each echo is a little over 1,000,000 bytes: 16 fit in 16 MiB, 17 do not.
  std::string blob(1'000'000, 'z');
  std::string id = c.Execute(fmt::format(
      R"({{"run_id":"big-halts","distribution":{{"type":"load","total":30}},
          "operations":[{{"type":"halt","blob":"{}"}}]}})", blob));
  c.WaitCount(id, "halted", 30);
  Reply q = c.Query(id);
  const rapidjson::Value& r = q.result();
  REQUIRE(r["halted"].Size() == 16);
  CHECK(Int(r["halted_total"]) == 30);
  CHECK(Int(r["halted"][15]["instance_id"]) == 15);
  CHECK(r["halted"][15]["operation"]["blob"].GetStringLength() == blob.size());
  CHECK(c.Call("CancelTest", RunIdParam(id)).ok());
}

TEST_CASE("Each instance has its own copy of vars; instance and run_id are visible",
          "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kFramed);
  std::string id = c.Execute(R"({"run_id":"copies","vars":{"list":[1],"deep":{"n":1}},
      "distribution":{"type":"load","total":5},
      "operations":[
        {"type":"eval","expression":"table.insert(v.list, instance); v.deep.n = v.deep.n + instance"},
        {"type":"assert","expression":"#v.list == 2 and v.list[2] == instance","fail":"shared list"},
        {"type":"assert","expression":"v.deep.n == 1 + instance","fail":"shared table"},
        {"type":"assert","expression":"run_id == 'copies' and math.type(instance) == 'integer'","fail":"scope"}
      ]})");
  Reply done = c.WaitCompleted(id);
  INFO("QueryTest: " << done.text);
  CHECK(Int(done.result()["counts"]["passed"]) == 5);
  CHECK_JSON(done.result()["first_fails"], "[]");
}

TEST_CASE("first_fail_summary is the first instance that failed", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"distribution":{"type":"load","total":3,"backlog":1},
      "operations":[{"type":"assert","expression":"instance ~= 1","fail":"{'no ' .. instance}"}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  CHECK_JSON(r["first_call_summary"]["check_log"],
             R"([{"op_idx": 0, "step": 0, "status": "pass", "text": "Assert tested TRUE."}])");
  REQUIRE(r.HasMember("first_fail_summary"));
  const rapidjson::Value& ffs = r["first_fail_summary"];
  CHECK(Int(ffs["idx"]) == 1);
  CHECK(Int(ffs["completed"]) == 1);
  CHECK_JSON(ffs["check_log"], R"([{"op_idx": 0, "step": 0, "status": "fail", "text": "no 1"}])");
  CHECK(TimeOf(ffs["time_start"]) <= TimeOf(ffs["time_finish"]));
}

TEST_CASE("turbo skips asserts after the first instance", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"turbo":1,"distribution":{"type":"load","total":10},
      "operations":[{"type":"assert","expression":"false","abort":"stop"},
                    {"type":"eval","expression":"g.n = (g.n or 0) + 1"}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  CHECK(Int(r["counts"]["aborted"]) == 1);
  CHECK(Int(r["counts"]["passed"]) == 9);
  CHECK(Int(r["globals"]["n"]) == 9);
}

TEST_CASE("max_failures stops starting instances; the run ends failed", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"max_failures":5,"distribution":{"type":"load","total":100,
      "backlog":1},"operations":[{"type":"assert","expression":"false"}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  CHECK(Str(r["status"]) == "failed");
  CHECK(Int(r["completed"]) == 1);
  REQUIRE(r.HasMember("status_reason"));
  CHECK(Str(r["status_reason"]).find("max_failures") != std::string::npos);
  // One at a time: the 6th failure exceeds 5, nothing starts after it.
  CHECK(Int(r["counts"]["started"]) == 6);
  CHECK(Int(r["counts"]["failed"]) == 6);
  CHECK(Int(r["counts"]["finished"]) == 6);
  TimeOf(r["time_finish"]);
}

TEST_CASE("seed makes math.random reproducible per instance", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  const std::string def = R"J("distribution":{"type":"load","total":3},"operations":[
      {"type":"eval","expression":"g['r' .. instance] = math.random(1000000000)"}]})J";
  std::string a = c.Execute(R"({"seed":42,)" + def);
  std::string b = c.Execute(R"({"seed":"42",)" + def);
  std::string other = c.Execute(R"({"seed":43,)" + def);
  Reply ra = c.WaitCompleted(a);
  Reply rb = c.WaitCompleted(b);
  Reply ro = c.WaitCompleted(other);
  INFO("a: " << Dump(ra.result()["globals"]) << "\nb: " << Dump(rb.result()["globals"]));
  CHECK(ra.result()["globals"] == rb.result()["globals"]);
  CHECK(ra.result()["globals"] != ro.result()["globals"]);
  CHECK(ra.result()["globals"]["r0"] != ra.result()["globals"]["r1"]);
}

TEST_CASE("A {...} halt duration is evaluated when the halt starts", "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  std::string id = c.Execute(R"({"vars":{"s":0.25},"distribution":{"type":"load","total":2},
      "operations":[{"type":"halt","arguments":{"seconds":"{instance == 0 and v.s * 2 or -1}"}}]})");
  Reply done = c.WaitCompleted(id);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  CHECK(Int(r["counts"]["aborted"]) == 2);
  REQUIRE(r["first_aborts"].Size() == 2);
  // Instance 1's value is out of range: it aborts at once, before instance 0 times out.
  CHECK(Int(r["first_aborts"][0]["op_idx"]) == 0);
  CHECK(Str(r["first_aborts"][0]["text"]).find("-1") != std::string::npos);
  CHECK_JSON(r["first_aborts"][1],
             R"({"op_idx": 0, "text": "Halt timed out after 0.5 seconds.", "count": 1})");
}

TEST_CASE("Buckets: 100 ms x 2^k wide, at most 20, merged pairwise, exact counts",
          "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  // 2.5 s at 20/s: 25 intervals of 100 ms do not fit in 20 buckets -> 200 ms buckets.
  std::string id = c.Execute(R"({"distribution":{"type":"linear","rate":20,"duration":2.5},
      "operations":[{"type":"eval","expression":"v.x = 1"}]})");
  Reply done = c.WaitCompleted(id, 30);
  const rapidjson::Value& r = done.result();
  INFO("QueryTest: " << done.text);
  CHECK(Int(r["counts"]["started"]) == 50);
  auto [started, finished] = BucketSums(r["buckets"]);
  CHECK(started == 50);
  CHECK(finished == 50);
  const rapidjson::Value& buckets = r["buckets"];
  REQUIRE(buckets.Size() >= 2);
  double start = TimeOf(r["time_start"]);
  double width = TimeOf(buckets[1]["time_start"]) - start;
  CHECK(width == Approx(0.2).margin(0.002));
  for (rapidjson::SizeType j = 2; j < buckets.Size(); ++j) {
    double gap = TimeOf(buckets[j]["time_start"]) - TimeOf(buckets[j - 1]["time_start"]);
    CHECK(gap == Approx(width).margin(0.002));
  }
  double finish = TimeOf(r["time_finish"]);
  CHECK(TimeOf(buckets[buckets.Size() - 1]["time_start"]) <= finish);
  CHECK(finish < TimeOf(buckets[buckets.Size() - 1]["time_start"]) + width + 0.002);
}

TEST_CASE("ResumeInstance after the starting phase ended: -32003 beyond the started ones",
          "[integration]") {
  Daemon d;
  RpcClient c(d, Framing::kHttp);
  // 100/s for 0.1 s: instances 0..9, each waiting.
  std::string id = c.Execute(R"({"run_id":"short","distribution":{"type":"linear","rate":100,
      "duration":0.1},"operations":[{"type":"wait","arguments":{"seconds":30}}]})");
  c.WaitCount(id, "started", 10);
  // Once 0.1 s have passed no instance 10 will ever start.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int code = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    code = c.Call("ResumeInstance", R"({"run_id":"short","instance_id":10})").code();
    if (code == -32003) break;
    CHECK(code == -32004);  // due but not started yet
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(code == -32003);
  CHECK(c.Call("ResumeInstance", R"({"run_id":"short","instance_id":9})").code() == -32004);
  // Pausing and then cancelling a paused run.
  CHECK(c.Call("PauseTest", RunIdParam(id)).ok());
  Reply cancel = c.Call("CancelTest", RunIdParam(id));
  CHECK(Int(cancel.result()["cancelled"]) == 1);
  CHECK(Str(cancel.result()["status"]) == "cancelled");
  CHECK(Int(cancel.result()["counts"]["cancelled"]) == 10);
}

TEST_CASE("Bytes that are not UTF-8 reach QueryTest as U+FFFD", "[integration]") {
  FOR_EACH_FRAMING(framing);
  Daemon d;
  RpcClient c(d, framing);
  // A global string and key, an assert text and an abort text, each with byte 255 (or 200,
  // a lead byte with no continuation) that no UTF-8 text contains.
  std::string id = c.Execute(R"json({"operations":[
      {"type": "eval", "expression": "g.s = 'a\\255b'; g[string.char(255)] = 1"},
      {"type": "assert", "expression": "false", "fail": "{string.char(97, 200)}"},
      {"type": "eval", "expression": "error(string.char(255))"}]})json");
  Reply reply = c.WaitCompleted(id);
  INFO("QueryTest: " << reply.text);
  rapidjson::Document strict;
  strict.Parse<rapidjson::kParseValidateEncodingFlag>(reply.text.data(), reply.text.size());
  REQUIRE_FALSE(strict.HasParseError());
  const rapidjson::Value& r = strict["result"];
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK_JSON(r["globals"], "{\"s\": \"a" + fffd + "b\", \"" + fffd + "\": 1}");
  CHECK_JSON(r["first_fails"], "[{\"op_idx\": 1, \"text\": \"a" + fffd + "\", \"count\": 1}]");
  const std::string abort_text = "op 2 (expression):1: " + fffd;
  CHECK_JSON(r["first_aborts"],
             "[{\"op_idx\": 2, \"text\": \"" + abort_text + "\", \"count\": 1}]");
  CHECK_JSON(r["first_call_summary"]["check_log"],
             "[{\"op_idx\": 1, \"step\": 1, \"status\": \"fail\", \"text\": \"a" + fffd +
                 "\"}, {\"op_idx\": 2, \"step\": 2, \"status\": \"abort\", \"text\": \"" +
                 abort_text + "\"}]");
}

}  // namespace testrund::test
