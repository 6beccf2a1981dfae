// SPDX-License-Identifier: Apache-2.0
// Integration tests of the run lifecycle extensions (docs/api.md#3-methods) against
// the real binary: PauseTest/UnpauseTest (states, errors, no burst after a pause),
// ListTests and its filters, max_failures, stages, duration with total 0, seed, the
// first_fail_summary trace_log, results_dir files (at completion, cancel and SIGTERM, and a
// failed write in the log) and completed_run_retention. Nothing sleeps a fixed time: every
// wait polls with a deadline.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "test/integration/harness.h"

namespace testrund::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string Text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

std::string Str(const rapidjson::Value& v) {
  REQUIRE(v.IsString());
  return std::string(v.GetString(), v.GetStringLength());
}

double Seconds(const rapidjson::Value& wall) {
  return static_cast<double>(wall[0].GetInt64()) + wall[1].GetInt64() / 1e6;
}

// JSON-RPC over one keep-alive HTTP connection.
class Client {
 public:
  explicit Client(const Daemon& d) : http_(d.Http()) {}

  // The whole response object of `method` with `params` (JSON text).
  rapidjson::Document Call(const std::string& method, const std::string& params = "{}") {
    std::string body = R"({"jsonrpc":"2.0","id":1,"method":")" + method +
                       R"(","params":)" + params + "}";
    HttpResponse r = http_.Post("/", body);
    REQUIRE(r.status == 200);
    rapidjson::Document doc = ParseJson(r.body);
    REQUIRE(doc.IsObject());
    return doc;
  }
  // The result; fails the test on an error response.
  rapidjson::Document Result(const std::string& method, const std::string& params = "{}") {
    return Member("result", method, params);
  }
  // The error object; fails the test on a result.
  rapidjson::Document Error(const std::string& method, const std::string& params) {
    return Member("error", method, params);
  }
  // Checks that `method` fails with `code` and exactly `message`.
  void CheckError(const std::string& method, const std::string& params, int code,
                  const std::string& message) {
    rapidjson::Document error = Error(method, params);
    INFO(method << " " << params);
    CHECK(error["code"].GetInt() == code);
    CHECK(Str(error["message"]) == message);
  }
  std::string Execute(const std::string& params) {
    return Str(Result("ExecuteTest", params)["run_id"]);
  }
  rapidjson::Document Query(const std::string& run_id) {
    return Result("QueryTest", R"({"run_id":")" + run_id + R"("})");
  }
  // The ListTests entry of `run_id` (which does not discard a completed run); null when
  // it is not listed.
  rapidjson::Document Listed(const std::string& run_id) {
    rapidjson::Document list = Result("ListTests");
    rapidjson::Document entry;
    for (const auto& run : list["runs"].GetArray()) {
      if (Str(run["run_id"]) == run_id) entry.CopyFrom(run, entry.GetAllocator());
    }
    return entry;
  }
  // Polls ListTests until `pred` holds for the run's entry; fails the test at the deadline.
  rapidjson::Document WaitListed(const std::string& run_id,
                                 const std::function<bool(const rapidjson::Value&)>& pred,
                                 double timeout = kDefaultTimeout) {
    auto deadline = Clock::now() + std::chrono::duration<double>(timeout);
    while (true) {
      rapidjson::Document entry = Listed(run_id);
      if (entry.IsObject() && pred(entry)) return entry;
      INFO("run " << run_id << ": " << Text(entry));
      REQUIRE(Clock::now() < deadline);
    }
  }
  // Polls QueryTest until the run has completed and returns that (final) object.
  rapidjson::Document WaitCompleted(const std::string& run_id, double timeout = kDefaultTimeout) {
    auto deadline = Clock::now() + std::chrono::duration<double>(timeout);
    while (true) {
      rapidjson::Document status = Query(run_id);
      if (status["completed"].GetInt() == 1) return status;
      REQUIRE(Clock::now() < deadline);
    }
  }

 private:
  // The response's `name` member ("result" or "error"), which it must have.
  rapidjson::Document Member(const char* name, const std::string& method,
                             const std::string& params) {
    rapidjson::Document doc = Call(method, params);
    INFO(method << " " << params << " -> " << Text(doc));
    REQUIRE(doc.HasMember(name));
    rapidjson::Document member;
    member.CopyFrom(doc[name], member.GetAllocator());
    return member;
  }

  HttpClient http_;
};

// The -32602 data list as text.
std::string ProblemData(Client& c, const std::string& params) {
  rapidjson::Document error = c.Error("ExecuteTest", params);
  CHECK(error["code"].GetInt() == -32602);
  return Text(error["data"]);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string RunIdParam(const std::string& run_id) { return R"({"run_id":")" + run_id + R"("})"; }

constexpr const char* kComment = R"("operations":[{"type":"comment"}])";
constexpr const char* kHalt = R"("operations":[{"type":"halt","arguments":{"seconds":600}}])";

TEST_CASE("PauseTest/UnpauseTest: states, errors and the status they leave", "[integration]") {
  Daemon d;
  Client c(d);
  std::string id = c.Execute(std::string(R"({"run_id":"pz","distribution":{"type":"linear",)") +
                             R"("rate":20,"total":0},)" + kComment + "}");
  CHECK(Text(c.Result("PauseTest", RunIdParam(id))) == R"({"run_id":"pz","status":"paused"})");
  CHECK(Str(c.Query(id)["status"]) == "paused");
  c.CheckError("PauseTest", RunIdParam(id), -32006, "run \"pz\" is paused, not running");
  CHECK(Text(c.Result("UnpauseTest", RunIdParam(id))) == R"({"run_id":"pz","status":"running"})");
  CHECK(Str(c.Query(id)["status"]) == "running");
  c.CheckError("UnpauseTest", RunIdParam(id), -32006, "run \"pz\" is running, not paused");

  for (const char* method : {"PauseTest", "UnpauseTest"}) {
    c.CheckError(method, RunIdParam("nope"), -32001,
                 "unknown run_id \"nope\" (never existed, discarded, or cancelled)");
    CHECK(c.Error(method, "{}")["code"].GetInt() == -32602);
    rapidjson::Document wrong_type = c.Error(method, R"({"run_id":5})");
    CHECK(wrong_type["code"].GetInt() == -32602);
    CHECK(Text(wrong_type["data"]).find(R"("field":"run_id")") != std::string::npos);
  }

  // A completed run (seen through ListTests, which does not discard it).
  std::string done = c.Execute(std::string(R"({"run_id":"done",)") + kComment + "}");
  c.WaitListed(done, [](const rapidjson::Value& e) { return Str(e["status"]) == "completed"; });
  c.CheckError("PauseTest", RunIdParam(done), -32006, "run \"done\" is completed, not running");
  c.CheckError("UnpauseTest", RunIdParam(done), -32006, "run \"done\" is completed, not paused");
  CHECK(c.Query(done)["completed"].GetInt() == 1);
  CHECK(c.Result("CancelTest", RunIdParam(id))["cancelled"].GetInt() == 1);
}

TEST_CASE("a paused linear run starts nothing; after unpause no burst follows", "[integration]") {
  Daemon d;
  Client c(d);
  constexpr double kRate = 20;
  std::string id = c.Execute(
      R"({"run_id":"lin","distribution":{"type":"linear","rate":20,"total":0,"duration":60},)"
      R"("operations":[{"type":"wait","arguments":{"seconds":0.3}}]})");
  c.WaitListed(id, [](const rapidjson::Value& e) { return e["counts"]["started"].GetInt() >= 10; });
  c.Result("PauseTest", RunIdParam(id));
  uint64_t at_pause = c.Query(id)["counts"]["started"].GetUint64();
  // While paused (at least one second, polled): not one start; in-flight instances finish.
  auto paused_from = Clock::now();
  rapidjson::Document status;
  while (true) {
    // Read the clock before asking: the daemon paused before paused_from, so its
    // paused_seconds at the answer is at least this much.
    auto asked = Clock::now();
    status = c.Query(id);
    REQUIRE(status["counts"]["started"].GetUint64() == at_pause);
    CHECK(Str(status["status"]) == "paused");
    if (asked - paused_from > std::chrono::milliseconds(1200) &&
        status["counts"]["running"].GetUint64() == 0) {
      break;
    }
    REQUIRE(Clock::now() - paused_from < std::chrono::seconds(10));
  }
  CHECK(status["counts"]["finished"].GetUint64() == at_pause);
  CHECK(status["paused_seconds"].GetDouble() >= 1.2);
  double percent_paused = status["percent_complete"].GetDouble();
  CHECK(c.Query(id)["percent_complete"].GetDouble() == percent_paused);  // frozen

  auto unpause_sent = Clock::now();
  c.Result("UnpauseTest", RunIdParam(id));
  rapidjson::Document after = c.Query(id);
  // No catch-up burst (that would be ~24 starts for the 1.2 s paused): only the starts due
  // in the time since unpausing, measured around the calls, plus the one due at once.
  double since_unpause =
      std::chrono::duration<double>(Clock::now() - unpause_sent).count();
  CHECK(after["counts"]["started"].GetDouble() <=
        static_cast<double>(at_pause) + std::floor(since_unpause * kRate) + 2);
  CHECK(after["counts"]["late"].GetUint64() == 0);
  // Then the starts follow the schedule shifted by the pause: planned by active time.
  auto unpaused = Clock::now();
  while (Clock::now() - unpaused < std::chrono::milliseconds(1000)) {
    after = c.Query(id);
  }
  double active = Seconds(after["time_now"]) - Seconds(after["time_start"]) -
                  after["paused_seconds"].GetDouble();
  double expected = std::floor(active * kRate) + 1;
  double started = after["counts"]["started"].GetDouble();
  INFO("active " << active << " s, started " << started);
  CHECK(started <= expected + 1);
  CHECK(started >= expected - 3);
  CHECK(after["percent_complete"].GetDouble() == Approx(100 * active / 60).margin(0.5));
  CHECK(c.Result("CancelTest", RunIdParam(id))["cancelled"].GetInt() == 1);
}

TEST_CASE("ListTests lists live runs with their fields, filtered by status and tag",
          "[integration]") {
  Daemon d;
  Client c(d);
  c.Execute(std::string(R"({"run_id":"a","tags":["x","y"],)") + kHalt + "}");
  c.Execute(std::string(R"({"run_id":"b","tags":["y"],)") + kHalt + "}");
  c.Execute(std::string(R"({"run_id":"c",)") + kHalt + "}");
  c.Execute(std::string(R"({"run_id":"d","tags":["x"],)") + kComment + "}");
  c.Execute(std::string(R"({"run_id":"e","tags":["x"],)") + kHalt + "}");
  c.Result("PauseTest", RunIdParam("c"));
  c.Result("CancelTest", RunIdParam("e"));
  c.WaitListed("d", [](const rapidjson::Value& e) { return Str(e["status"]) == "completed"; });
  c.WaitListed("a", [](const rapidjson::Value& e) { return e["counts"]["halted"].GetInt() == 1; });

  auto ids = [&c](const std::string& params) {
    std::string out;
    rapidjson::Document list = c.Result("ListTests", params);
    for (const auto& run : list["runs"].GetArray()) {
      if (!out.empty()) out += ',';
      out += Str(run["run_id"]);
    }
    return out;
  };
  CHECK(ids("{}") == "a,b,c,d");  // e was cancelled: gone
  CHECK(ids("[]") == "a,b,c,d");
  CHECK(ids(R"({"tag":"x"})") == "a,d");
  CHECK(ids(R"({"tag":"y"})") == "a,b");
  CHECK(ids(R"({"tag":"zz"})") == "");
  CHECK(ids(R"({"status":"paused"})") == "c");
  CHECK(ids(R"({"status":"running"})") == "a,b");
  CHECK(ids(R"({"status":"completed"})") == "d");
  CHECK(ids(R"({"status":"cancelled"})") == "");
  CHECK(ids(R"({"status":"failed"})") == "");
  CHECK(ids(R"({"status":"running","tag":"x"})") == "a");

  rapidjson::Document a = c.Listed("a");
  std::set<std::string> keys;
  for (const auto& m : a.GetObject()) keys.insert(m.name.GetString());
  CHECK(keys == std::set<std::string>{"run_id", "status", "time_start", "counts", "tags"});
  CHECK(Str(a["status"]) == "running");
  CHECK(Text(a["tags"]) == R"(["x","y"])");
  CHECK(Text(a["counts"]) ==
        R"({"started":1,"finished":0,"failed":0,"aborted":0,"cancelled":0,"passed":0,)"
        R"("late":0,"halted":1,"running":1})");
  CHECK(a["time_start"].Size() == 2);
  CHECK(Text(c.Listed("c")["tags"]) == "[]");
  // Listing a completed run does not discard it.
  CHECK(c.Query("d")["completed"].GetInt() == 1);
  CHECK(ids("{}") == "a,b,c");

  rapidjson::Document bad = c.Error("ListTests", R"({"status":"bogus"})");
  CHECK(bad["code"].GetInt() == -32602);
  CHECK(Text(bad["data"]) ==
        R"([{"field":"status","problem":"must be one of scheduled, running, paused, completed, )"
        R"(cancelled, failed, interrupted, got \"bogus\""}])");
  CHECK(c.Error("ListTests", R"({"status":1})")["code"].GetInt() == -32602);
  rapidjson::Document bad_tag = c.Error("ListTests", R"({"tag":["x"]})");
  CHECK(bad_tag["code"].GetInt() == -32602);
  CHECK(Text(bad_tag["data"]).find(R"("field":"tag")") != std::string::npos);
  CHECK(c.Error("ListTests", R"([1])")["code"].GetInt() == -32602);
}

TEST_CASE("tags: returned by QueryTest; must be an array of strings", "[integration]") {
  Daemon d;
  Client c(d);
  c.Execute(std::string(R"({"run_id":"t","tags":["one","two"],)") + kComment + "}");
  CHECK(Text(c.WaitCompleted("t")["tags"]) == R"(["one","two"])");
  CHECK(ProblemData(c, std::string(R"({"tags":"x",)") + kComment + "}") ==
        R"([{"field":"tags","problem":"must be an array, got \"x\""}])");
  CHECK(ProblemData(c, std::string(R"({"tags":["a",1],)") + kComment + "}") ==
        R"([{"field":"tags[1]","problem":"must be a string, got 1"}])");
}

TEST_CASE("max_failures: stops starting, in-flight instances finish, the run fails",
          "[integration]") {
  Daemon d;
  Client c(d);
  c.Execute(R"({"run_id":"mf","max_failures":0,"distribution":{"type":"load","total":1000,)"
            R"("backlog":5},"operations":[)"
            R"({"type":"assert","expression":"instance ~= 2","abort":"boom"},)"
            R"({"type":"wait","arguments":{"seconds":0.2}}]})");
  rapidjson::Document done = c.WaitCompleted("mf");
  CHECK(Str(done["status"]) == "failed");
  CHECK(Str(done["status_reason"]) ==
        "Failed or aborted instances (1) exceeded max_failures (0); no further instances were "
        "started.");
  CHECK(Text(done["counts"]) ==
        R"({"started":5,"finished":5,"failed":0,"aborted":1,"cancelled":0,"passed":4,)"
        R"("late":0,"halted":0,"running":0})");
  CHECK(Text(done["first_aborts"]) == R"([{"op_idx":0,"text":"boom","count":1}])");
  CHECK(done["first_fail_summary"]["idx"].GetInt() == 2);

  // max_failures as a decimal string; failed checks count too.
  c.Execute(R"({"run_id":"mf2","max_failures":"3","distribution":{"type":"load","total":100,)"
            R"("backlog":1},"operations":[{"type":"assert","expression":"false"}]})");
  rapidjson::Document done2 = c.WaitCompleted("mf2");
  CHECK(Str(done2["status"]) == "failed");
  CHECK(done2["counts"]["started"].GetInt() == 4);
  CHECK(done2["counts"]["failed"].GetInt() == 4);

  CHECK(ProblemData(c, R"({"max_failures":-1,)" + std::string(kComment) + "}") ==
        R"([{"field":"max_failures","problem":"must be at least 0, got -1"}])");
  for (const char* bad : {"\"x\"", "1.5", "true"}) {
    std::string value = bad;
    CHECK(ProblemData(c, R"({"max_failures":)" + value + "," + kComment + "}") ==
          R"([{"field":"max_failures","problem":"must be an integer, got )" +
              (value == "\"x\"" ? std::string(R"(\"x\")") : value) + R"("}])");
  }
}

TEST_CASE("stages: the start counts are the integral of the rate", "[integration]") {
  Daemon d;
  Client c(d);
  // Ramp 0 -> 40/s over 1 s (20 starts), then 40 -> 0 over 1 s (20 more).
  c.Execute(R"({"run_id":"st","distribution":{"type":"linear","total":0,"stages":[)"
            R"({"duration":1,"rate":40},{"duration":1,"rate":0}]},)"
            R"("operations":[{"type":"comment"}]})");
  rapidjson::Document done = c.WaitCompleted("st");
  CHECK(done["counts"]["started"].GetInt() == 40);
  CHECK(done["counts"]["passed"].GetInt() == 40);
  CHECK(done["percent_complete"].GetDouble() == 100.0);
  CHECK(done["duration"].GetDouble() >= 1.5);
  CHECK(done["duration"].GetDouble() < 5);
  // Hold at the distribution's rate: 50/s for 0.5 s = 25; total caps a long ramp.
  c.Execute(R"({"run_id":"st2","distribution":{"type":"linear","rate":50,"total":0,)"
            R"("stages":[{"duration":0.5,"rate":50}]},"operations":[{"type":"comment"}]})");
  CHECK(c.WaitCompleted("st2")["counts"]["started"].GetInt() == 25);
  c.Execute(R"({"run_id":"st3","distribution":{"type":"linear","total":7,)"
            R"("stages":[{"duration":1000,"rate":100}]},"operations":[{"type":"comment"}]})");
  CHECK(c.WaitCompleted("st3")["counts"]["started"].GetInt() == 7);

  auto stages = [&c](const std::string& stages_json, const std::string& type = "linear") {
    return ProblemData(c, R"({"distribution":{"type":")" + type + R"(","stages":)" +
                              stages_json + "}," + kComment + "}");
  };
  CHECK(stages("[]") ==
        R"([{"field":"distribution.stages","problem":"must be a non-empty array, got an )"
        R"(empty array"}])");
  CHECK(stages(R"([{"duration":0,"rate":1}])") ==
        R"([{"field":"distribution.stages[0].duration","problem":"must be greater than 0 )"
        R"(and at most 100000000, got 0"}])");
  CHECK(stages(R"([{"duration":1,"rate":-1}])") ==
        R"([{"field":"distribution.stages[0].rate","problem":"must be between 0 and )"
        R"(1000000, got -1"}])");
  CHECK(stages(R"([{"duration":1}])") ==
        R"([{"field":"distribution.stages[0].rate","problem":"is required"}])");
  CHECK(stages(R"([5])") ==
        R"([{"field":"distribution.stages[0]","problem":"must be an object, got 5"}])");
  CHECK(stages(R"([{"duration":1,"rate":1}])", "load") ==
        R"([{"field":"distribution.stages","problem":"needs type \"linear\", got type )"
        R"(\"load\""}])");
}

TEST_CASE("duration with total 0: runs until the duration; percent_complete from time",
          "[integration]") {
  Daemon d;
  Client c(d);
  c.Execute(R"({"run_id":"du","distribution":{"type":"linear","rate":25,"total":0,)"
            R"("duration":2},"operations":[{"type":"comment"}]})");
  rapidjson::Document mid = c.WaitListed("du", [](const rapidjson::Value& e) {
    return e["counts"]["started"].GetInt() >= 10;
  });
  rapidjson::Document status = c.Query("du");
  if (status["completed"].GetInt() == 0) {
    double active = Seconds(status["time_now"]) - Seconds(status["time_start"]);
    CHECK(status["percent_complete"].GetDouble() == Approx(100 * active / 2).margin(0.01));
    status = c.WaitCompleted("du");
  }
  CHECK(Str(status["status"]) == "completed");
  CHECK(status["counts"]["started"].GetInt() == 50);
  CHECK(status["percent_complete"].GetDouble() == 100.0);

  // load bounded only by its duration.
  c.Execute(R"({"run_id":"dl","distribution":{"type":"load","total":0,"duration":0.5,)"
            R"("backlog":2},"operations":[{"type":"wait","arguments":{"seconds":0.1}}]})");
  rapidjson::Document load = c.WaitCompleted("dl");
  CHECK(load["counts"]["started"].GetInt() >= 6);
  CHECK(load["counts"]["started"].GetInt() <= 12);
  CHECK(load["counts"]["passed"].GetInt() == load["counts"]["started"].GetInt());

  // total 0 without a duration: until CancelTest, and no percent_complete.
  c.Execute(R"({"run_id":"forever","distribution":{"type":"linear","rate":100,"total":0},)"
            R"("operations":[{"type":"comment"}]})");
  c.WaitListed("forever", [](const rapidjson::Value& e) {
    return e["counts"]["started"].GetInt() >= 5;
  });
  CHECK_FALSE(c.Query("forever").HasMember("percent_complete"));
  rapidjson::Document cancelled = c.Result("CancelTest", RunIdParam("forever"));
  CHECK(cancelled["cancelled"].GetInt() == 1);
  CHECK(Str(cancelled["status"]) == "cancelled");

  auto duration = [&c](const std::string& value) {
    return ProblemData(c, R"({"distribution":{"type":"linear","rate":1,"duration":)" + value +
                              "}," + kComment + "}");
  };
  for (const char* bad : {"0", "-1", "100000001"}) {
    CHECK(duration(bad) == std::string(R"([{"field":"distribution.duration","problem":)") +
                               R"("must be greater than 0 and at most 100000000, got )" + bad +
                               R"("}])");
  }
  CHECK(ProblemData(c, std::string(R"({"distribution":{"type":"load"},)") + kComment + "}") ==
        R"([{"field":"distribution.total","problem":"is required for type \"load\" )"
        R"(unless duration or stages is given"}])");
  CHECK(ProblemData(c, std::string(R"({"distribution":{"type":"linear","rate":1,"total":-1},)") +
                           kComment + "}") ==
        R"([{"field":"distribution.total","problem":"must be at least 0, got -1"}])");
}

TEST_CASE("seed: the same math.random draws per instance in every run", "[integration]") {
  Daemon d;
  Client c(d);
  auto run = [&c](const std::string& id, const std::string& seed, int backlog) {
    c.Execute(R"({"run_id":")" + id + R"(","seed":)" + seed +
              R"(,"distribution":{"type":"load","total":8,"backlog":)" + std::to_string(backlog) +
              R"(},"operations":[)"
              R"J({"type":"eval","expression":"v.a = math.random(1000000000)"},)J"
              R"J({"type":"wait","arguments":{"seconds":"{0.01 * (8 - instance)}"}},)J"
              R"({"type":"eval","expression":)"
              R"J("g['i' .. instance] = {v.a, math.random(1, 1000), math.random()}"}]})J");
    return Text(c.WaitCompleted(id)["globals"]);
  };
  std::string first = run("s1", "12345", 8);
  rapidjson::Document globals = ParseJson(first);
  REQUIRE(globals.MemberCount() == 8);
  CHECK(globals["i7"].Size() == 3);
  CHECK(run("s2", "12345", 1) == first);     // other interleaving, same draws
  CHECK(run("s3", "\"12345\"", 3) == first);  // decimal string
  CHECK(run("s4", "12346", 8) != first);
  // Without a seed each run draws its own.
  CHECK(run("s5", "null", 8) != run("s6", "null", 8));

  CHECK(ProblemData(c, std::string(R"({"seed":"x",)") + kComment + "}") ==
        R"([{"field":"seed","problem":"must be an integer, got \"x\""}])");
  CHECK(ProblemData(c, std::string(R"({"seed":1.5,)") + kComment + "}") ==
        R"([{"field":"seed","problem":"must be an integer, got 1.5"}])");
}

TEST_CASE("first_fail_summary: the first failing instance's check_log and trace_log",
          "[integration]") {
  Daemon d;
  Client c(d);
  c.Execute(R"({"run_id":"ff","trace_level":1,"distribution":{"type":"load","total":6,)"
            R"("backlog":1},"operations":[)"
            R"({"type":"comment","text":"{'at ' .. instance}"},)"
            R"({"type":"assert","expression":"instance < 4","fail":"{'late ' .. instance}"}]})");
  rapidjson::Document done = c.WaitCompleted("ff");
  const auto& ff = done["first_fail_summary"];
  CHECK(ff["idx"].GetInt() == 4);
  CHECK(ff["completed"].GetInt() == 1);
  CHECK(Text(ff["check_log"]) == R"([{"op_idx":1,"step":1,"status":"fail","text":"late 4"}])");
  REQUIRE(ff.HasMember("trace_log"));
  REQUIRE(ff["trace_log"].Size() == 1);
  CHECK(Str(ff["trace_log"][0]["path"]) == "trace.notice");
  CHECK(Str(ff["trace_log"][0]["text"]) == "at 4");
  CHECK(Str(done["first_call_summary"]["trace_log"][0]["text"]) == "at 0");
  CHECK(Text(done["first_fails"]) == R"([{"op_idx":1,"text":"late 4","count":1},)"
                                     R"({"op_idx":1,"text":"late 5","count":1}])");
}

// Every member QueryTest returns for a completed run.
void CheckFinalStatus(const rapidjson::Value& status, const std::string& run_id,
                      const std::string& run_status) {
  for (const char* key : {"run_id", "completed", "status", "time_now", "time_start",
                          "time_finish", "duration", "counts", "tags", "globals", "halted",
                          "halted_total", "first_fails", "first_aborts", "buckets",
                          "first_call_summary", "paused_seconds"}) {
    INFO(key);
    CHECK(status.HasMember(key));
  }
  CHECK(Str(status["run_id"]) == run_id);
  CHECK(status["completed"].GetInt() == 1);
  CHECK(Str(status["status"]) == run_status);
}

TEST_CASE("results_dir: written at completion, before QueryTest returns it", "[integration]") {
  TempDir dir;
  Daemon d({"--results-dir", dir.path()});
  Client c(d);
  std::string path = dir.path() + "/rc.json";
  c.Execute(R"({"run_id":"rc","tags":["k"],"globals":{"n":0},"distribution":{"type":"load",)"
            R"("total":20},"operations":[{"type":"eval","expression":"g.n = g.n + 1"}]})");
  rapidjson::Document done = c.WaitCompleted("rc");
  // The first QueryTest that says completed finds the file already there.
  REQUIRE(std::filesystem::exists(path));
  std::string text = ReadFile(path);
  CHECK(text.back() == '\n');
  rapidjson::Document file = ParseJson(text);
  CheckFinalStatus(file, "rc", "completed");
  CHECK(Text(file["counts"]) == Text(done["counts"]));
  CHECK(Text(file["globals"]) == R"({"n":20})");
  CHECK(Text(file["tags"]) == R"(["k"])");
  CHECK(Text(file["time_finish"]) == Text(done["time_finish"]));
  CHECK(Text(file["first_call_summary"]) == Text(done["first_call_summary"]));
  // The run is gone now (no retention), its results stay.
  CHECK(c.Error("QueryTest", RunIdParam("rc"))["code"].GetInt() == -32001);
  CHECK(std::filesystem::exists(path));

  // CancelTest writes the cancelled run.
  c.Execute(std::string(R"({"run_id":"rx",)") + kHalt + "}");
  c.WaitListed("rx", [](const rapidjson::Value& e) { return e["counts"]["halted"].GetInt() == 1; });
  rapidjson::Document cancelled = c.Result("CancelTest", RunIdParam("rx"));
  rapidjson::Document cfile = ParseJson(ReadFile(dir.path() + "/rx.json"));
  CheckFinalStatus(cfile, "rx", "cancelled");
  CHECK(Str(cfile["status_reason"]) == "Cancelled by CancelTest.");
  CHECK(Text(cfile["counts"]) == Text(cancelled["counts"]));

  // Only the results files: no temporary left behind.
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    names.insert(entry.path().filename().string());
  }
  CHECK(names == std::set<std::string>{"rc.json", "rx.json"});
  CHECK(d.Stop() == 0);
}

TEST_CASE("results_dir: SIGTERM writes every run in progress as cancelled", "[integration]") {
  TempDir dir;
  Daemon d({"--results-dir", dir.path()});
  Client c(d);
  c.Execute(std::string(R"({"run_id":"h1","tags":["a"],)") + kHalt + "}");
  c.Execute(R"({"run_id":"l2","distribution":{"type":"linear","rate":50,"total":0},)"
            R"("operations":[{"type":"wait","arguments":{"seconds":5}}]})");
  c.Execute(R"({"run_id":"p3","distribution":{"type":"linear","rate":50,"total":0},)"
            R"("operations":[{"type":"wait","arguments":{"seconds":5}}]})");
  c.WaitListed("h1", [](const rapidjson::Value& e) { return e["counts"]["halted"].GetInt() == 1; });
  c.WaitListed("l2", [](const rapidjson::Value& e) { return e["counts"]["started"].GetInt() >= 3; });
  c.WaitListed("p3", [](const rapidjson::Value& e) { return e["counts"]["started"].GetInt() >= 3; });
  c.Result("PauseTest", RunIdParam("p3"));
  // A completed run's file is written at its completion, not rewritten at stop.
  c.Execute(std::string(R"({"run_id":"c4",)") + kComment + "}");
  c.WaitListed("c4", [](const rapidjson::Value& e) { return Str(e["status"]) == "completed"; });
  REQUIRE(std::filesystem::exists(dir.path() + "/c4.json"));

  CHECK(d.Stop(SIGTERM) == 0);
  for (const char* id : {"h1", "l2", "p3"}) {
    std::string path = dir.path() + "/" + id + ".json";
    INFO(path);
    REQUIRE(std::filesystem::exists(path));
    rapidjson::Document file = ParseJson(ReadFile(path));
    CheckFinalStatus(file, id, "cancelled");
    CHECK(Str(file["status_reason"]) == "Cancelled because the daemon stopped.");
    uint64_t started = file["counts"]["started"].GetUint64();
    CHECK(started >= 1);
    CHECK(file["counts"]["cancelled"].GetUint64() == started - file["counts"]["passed"].GetUint64());
    CHECK(file["counts"]["finished"].GetUint64() == started);
    CHECK(file["counts"]["running"].GetUint64() == 0);
    CHECK(file["percent_complete"].GetDouble() == 100.0);
  }
  rapidjson::Document h1 = ParseJson(ReadFile(dir.path() + "/h1.json"));
  CHECK(Text(h1["tags"]) == R"(["a"])");
  CHECK(Text(h1["halted"]) == "[]");
  CHECK(h1["first_call_summary"]["completed"].GetInt() == 1);
  CHECK(ParseJson(ReadFile(dir.path() + "/p3.json"))["paused_seconds"].GetDouble() > 0);
  CheckFinalStatus(ParseJson(ReadFile(dir.path() + "/c4.json")), "c4", "completed");
}

TEST_CASE("results_dir: a failed write is logged", "[integration]") {
  TempDir dir;
  std::string results = dir.path() + "/results";
  std::filesystem::create_directory(results);
  Daemon d({"--results-dir", results});
  Client c(d);
  std::filesystem::remove(results);
  c.Execute(std::string(R"({"run_id":"lost",)") + kComment + "}");
  CHECK(c.WaitCompleted("lost")["completed"].GetInt() == 1);
  CHECK(d.WaitForLog("results_dir: the results of run \"lost\" were not written: cannot create " +
                     results + "/.lost.json.tmp: No such file or directory"));
  CHECK(d.Stop() == 0);
}

TEST_CASE("completed_run_retention keeps a completed run queryable for a while",
          "[integration]") {
  SECTION("default 0: discarded once QueryTest returned it") {
    Daemon d;
    Client c(d);
    c.Execute(std::string(R"({"run_id":"r0",)") + kComment + "}");
    c.WaitCompleted("r0");
    c.CheckError("QueryTest", RunIdParam("r0"), -32001,
                 "unknown run_id \"r0\" (never existed, discarded, or cancelled)");
    CHECK(c.Listed("r0").IsNull());
    rapidjson::Document reuse = c.Error("ExecuteTest", std::string(R"({"run_id":"r0",)") +
                                                          kComment + "}");
    CHECK(reuse["code"].GetInt() == -32002);
  }
  SECTION("retention 1 s") {
    Daemon d({"--completed-run-retention", "1"});
    Client c(d);
    c.Execute(std::string(R"({"run_id":"r1",)") + kComment + "}");
    rapidjson::Document first = c.WaitCompleted("r1");
    auto returned = Clock::now();
    rapidjson::Document again = c.Query("r1");
    CHECK(Text(again["counts"]) == Text(first["counts"]));
    CHECK(Text(again["time_finish"]) == Text(first["time_finish"]));
    CHECK(Str(c.Listed("r1")["status"]) == "completed");
    // Discarded about a second later (the housekeeping sweep or the next call).
    while (true) {
      rapidjson::Document doc = c.Call("QueryTest", RunIdParam("r1"));
      if (doc.HasMember("error")) {
        CHECK(doc["error"]["code"].GetInt() == -32001);
        break;
      }
      REQUIRE(Clock::now() - returned < std::chrono::seconds(10));
    }
    CHECK(Clock::now() - returned >= std::chrono::milliseconds(900));
  }
}

}  // namespace

}  // namespace testrund::test
