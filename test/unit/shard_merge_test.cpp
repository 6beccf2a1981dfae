// SPDX-License-Identifier: Apache-2.0
// Shards and their exact merge (docs/scale-out.md), in process on fake clocks: a definition
// run whole by one engine and as n shards by n engines (each its own daemon's registry),
// the shards' mergeable QueryTest results merged by rpc::MergedQueryTestResult, and the
// merged result compared with the whole run's field by field. On fake clocks that start
// together even the time buckets must match: every instance starts at the time the whole
// run plans for it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ops/stats/run_merge.h"
#include "rpc/merged_result.h"
#include "test/unit/engine_test_util.h"

namespace testrund::ops {
namespace {

using testing::Engine;
using testing::ParseJson;
using testing::ToText;

// Fails instances divisible by 3, aborts those divisible by 7 (after their fail), halts the
// multiples of 5 for 2 s, waits a little, and lets instance 5 write g.five.
constexpr std::string_view kProgram = R"J([
  {"type": "eval", "expression": "v.x = instance * 2"},
  {"type": "assert", "expression": "instance % 3 ~= 0", "fail": "{'div3 ' .. (instance % 2)}"},
  {"type": "assert", "expression": "instance % 7 ~= 0", "abort": "seven"},
  {"type": "branch", "expression": "instance % 5 ~= 0", "on_true": "go"},
  {"type": "halt", "arguments": {"seconds": 2}},
  {"type": "wait", "arguments": {"seconds": "{0.05 + (instance % 4) * 0.1}"}, "label": "go"},
  {"type": "eval", "expression": "if instance == 5 then g.five = v.x end; g.seen = true"},
  {"type": "assert", "expression": "math.random(1, 1000) > 0"}])J";

std::string Definition(std::string_view distribution, std::string_view extra = "") {
  return fmt::format(R"J({{"run_id": "m", "seed": 42, "globals": {{"seen": false, "n": 1}},
      "distribution": {}, {} "operations": {}}})J",
                     distribution, extra, kProgram);
}

std::string WithShard(std::string_view distribution, int index, int count) {
  return Definition(distribution, fmt::format(R"J("shard": {{"index": {}, "count": {}}},)J",
                                               index, count));
}

// The QueryTest result of run "m" (mergeable or not) in `doc`'s allocator.
rapidjson::Value Result(Engine& e, rapidjson::Document& doc, bool mergeable) {
  unsigned parts = kSnapshotQueryTest | (mergeable ? kSnapshotHistograms : 0u);
  auto snapshot = e.registry.Peek("m", parts, doc.GetAllocator());
  REQUIRE(snapshot);
  return rpc::QueryTestResult(std::move(*snapshot), doc.GetAllocator(),
                              mergeable ? rpc::ResultDetail::kMergeable
                                        : rpc::ResultDetail::kStandard);
}

// Runs `whole` and its `count` shards side by side for `seconds` of fake time.
struct Cluster {
  Cluster(std::string_view distribution, int count) {
    REQUIRE(whole.Execute(Definition(distribution)) == "m");
    for (int i = 0; i < count; ++i) {
      shards.push_back(std::make_unique<Engine>());
      REQUIRE(shards.back()->Execute(WithShard(distribution, i, count)) == "m");
    }
  }
  void Advance(double seconds) {
    for (int step = 0; step < static_cast<int>(seconds * 100); ++step) {
      whole.clock.AdvanceSeconds(0.01);
      for (auto& shard : shards) shard->clock.AdvanceSeconds(0.01);
    }
  }
  // The merged result of the shards' mergeable results.
  rapidjson::Value Merged(rapidjson::Document& doc) {
    std::vector<rapidjson::Value> results;
    for (auto& shard : shards) results.push_back(Result(*shard, doc, true));
    std::vector<rpc::ShardAnswer> answers;
    for (size_t i = 0; i < results.size(); ++i) {
      answers.push_back(rpc::ShardAnswer{static_cast<int>(i), &results[i]});
    }
    rapidjson::Document globals = ParseJson(R"J({"seen": false, "n": 1})J");
    auto merged = rpc::MergedQueryTestResult(answers, globals, doc.GetAllocator(),
                                             rpc::ResultDetail::kMergeable);
    REQUIRE(merged.ok());
    return std::move(merged.value());
  }

  Engine whole;
  std::vector<std::unique_ptr<Engine>> shards;
};

std::string Member(const rapidjson::Value& v, const char* name) {
  return v.HasMember(name) ? ToText(v[name]) : "(absent)";
}

// Each op's latency count.
std::string LatencyCounts(const rapidjson::Value& v) {
  if (!v.HasMember("latency")) return "";
  std::string out;
  for (const auto& op : v["latency"].GetArray()) {
    out += fmt::format("{}:{} ", op["op_idx"].GetInt(), op["count"].GetUint64());
  }
  return out;
}

// Everything of a QueryTest result that does not depend on wall-clock timing (on fake
// clocks that includes the buckets and the latency quantiles).
void RequireSameResults(const rapidjson::Value& whole, const rapidjson::Value& merged) {
  for (const char* name : {"completed", "status", "counts", "globals", "halted", "halted_total",
                           "buckets", "latency", "first_call_summary", "first_fail_summary",
                           "percent_complete", "time_start", "time_finish", "duration"}) {
    INFO(name);
    CHECK(Member(merged, name) == Member(whole, name));
  }
  CHECK(LatencyCounts(merged) == LatencyCounts(whole));
}

// Reasons as the whole run lists them, with the first instance: compared as sets.
std::vector<std::string> Reasons(const rapidjson::Value& v, const char* name) {
  std::vector<std::string> out;
  for (const auto& e : v[name].GetArray()) out.push_back(ToText(e));
  std::sort(out.begin(), out.end());
  return out;
}

void CheckMerge(std::string_view distribution, int count, double seconds) {
  INFO(distribution << " over " << count << " shards");
  Cluster cluster(distribution, count);
  cluster.Advance(seconds);
  rapidjson::Document doc;
  rapidjson::Value whole = Result(cluster.whole, doc, true);
  rapidjson::Value merged = cluster.Merged(doc);
  RequireSameResults(whole, merged);
  CHECK(Reasons(merged, "first_fails") == Reasons(whole, "first_fails"));
  CHECK(Reasons(merged, "first_aborts") == Reasons(whole, "first_aborts"));
  CHECK(ToText(merged["shards"]) == fmt::format(R"J({{"count":{},"missing":[]}})J", count));
}

TEST_CASE("merged shards equal the whole run: load, linear, stages; 1, 3 and 4 shards",
          "[unit]") {
  const std::string load = R"J({"type": "load", "total": 60, "backlog": 1000})J";
  const std::string linear = R"J({"type": "linear", "rate": 40, "total": 70})J";
  const std::string stages =
      R"J({"type": "linear", "stages": [{"duration": 1, "rate": 20}, {"duration": 1, "rate": 60}]})J";
  for (int count : {1, 3, 4}) {
    // While halts hold instances (the halted lists), and once everything ended.
    CheckMerge(load, count, 1.0);
    CheckMerge(load, count, 5.0);
    CheckMerge(linear, count, 1.0);
    CheckMerge(linear, count, 6.0);
    CheckMerge(stages, count, 1.5);
    CheckMerge(stages, count, 6.0);
  }
}

TEST_CASE("a shard starts exactly its instances; resume is for its own only", "[unit]") {
  Engine e;
  REQUIRE(e.Execute(WithShard(R"J({"type": "load", "total": 10})J", 1, 4)) == "m");
  e.clock.AdvanceSeconds(0.5);
  RunSnapshot s = e.Peek("m", kSnapshotHalted);
  CHECK(s.counts.started == 3);  // 1, 5, 9
  CHECK(s.planned_total == 3u);
  REQUIRE(s.halted.size() == 1);
  CHECK(s.halted[0].instance_id == 5);
  CHECK(e.registry.Resume("m", 0, nullptr).error == EngineError::kNoSuchInstance);
  CHECK(e.registry.Resume("m", 5, nullptr).ok());
}

TEST_CASE("a shard with no instances of its own completes at once", "[unit]") {
  Engine e;
  REQUIRE(e.Execute(WithShard(R"J({"type": "single"})J", 2, 3)) == "m");
  e.clock.AdvanceSeconds(0.1);
  RunSnapshot s = e.Peek("m");
  CHECK(s.completed);
  CHECK(s.counts.started == 0);
  CHECK(s.percent_complete == 100.0);
}

TEST_CASE("shard: wrong values are -32602 naming the field", "[unit]") {
  for (auto [shard, field, text] : {
           std::tuple{R"J({"index": 3, "count": 3})J", "shard.index", "less than shard.count"},
           std::tuple{R"J({"index": 0, "count": 0})J", "shard.count", ""},
           std::tuple{R"J({"index": 0, "count": 1025})J", "shard.count", ""},
           std::tuple{R"J({"index": 0.5, "count": 2})J", "shard.index", ""},
           std::tuple{R"J({"index": true, "count": 2})J", "shard.index", ""},
           std::tuple{R"J({"count": 2})J", "shard.index", "required"},
           std::tuple{R"J({"index": 0, "count": 2, "of": 1})J", "shard.of", "unknown"},
           std::tuple{R"J([0, 2])J", "shard", "object"}}) {
    INFO(shard);
    Engine e;
    CHECK(e.Execute(Definition(R"J({"type": "single"})J",
                               fmt::format(R"J("shard": {},)J", shard))) == "");
    CHECK(e.last.error == EngineError::kInvalidParams);
    bool named = false;
    for (const Problem& p : e.last.problems) {
      named = named || (p.field == field && p.problem.find(text) != std::string::npos);
    }
    CHECK(named);
    CHECK(e.registry.live_runs() == 0);
  }
}

TEST_CASE("MergedStatus: completed when all are, running while any runs", "[unit]") {
  using S = RunStatus;
  auto merged = [](std::initializer_list<S> s) {
    return MergedStatus(std::span<const S>(s.begin(), s.size()));
  };
  CHECK(merged({S::kCompleted, S::kCompleted}) == S::kCompleted);
  CHECK(merged({S::kCompleted, S::kCancelled}) == S::kCancelled);
  CHECK(merged({S::kCancelled, S::kFailed}) == S::kFailed);
  CHECK(merged({S::kCompleted, S::kRunning}) == S::kRunning);
  CHECK(merged({S::kPaused, S::kPaused, S::kCompleted}) == S::kPaused);
  CHECK(merged({S::kScheduled, S::kScheduled}) == S::kScheduled);
  CHECK(merged({S::kScheduled, S::kCompleted}) == S::kRunning);
}

TEST_CASE("a merge with a shard missing says so; a result that is not mergeable is an error",
          "[unit]") {
  Cluster cluster(R"J({"type": "load", "total": 12})J", 3);
  cluster.Advance(5);
  rapidjson::Document doc;
  rapidjson::Value r0 = Result(*cluster.shards[0], doc, true);
  rapidjson::Value r2 = Result(*cluster.shards[2], doc, true);
  std::vector<rpc::ShardAnswer> answers = {{0, &r0}, {1, nullptr}, {2, &r2}};
  rapidjson::Value none;
  auto merged = rpc::MergedQueryTestResult(answers, none, doc.GetAllocator());
  REQUIRE(merged.ok());
  CHECK(ToText(merged.value()["shards"]) == R"J({"count":3,"missing":[1]})J");
  CHECK(merged.value()["counts"]["started"].GetUint64() == 8);
  CHECK_FALSE(merged.value().HasMember("sip"));

  // The sip counters are summed over the shards that ran a sip op.
  rapidjson::Document sip0, sip2;
  sip0.Parse(R"J({"retransmissions_sent": 3, "rejected": 1, "malformed": 0})J");
  sip2.Parse(R"J({"retransmissions_sent": 4, "rejected": 0, "malformed": 2, "odd": "x"})J");
  r0.AddMember("sip", rapidjson::Value(sip0, doc.GetAllocator()), doc.GetAllocator());
  r2.AddMember("sip", rapidjson::Value(sip2, doc.GetAllocator()), doc.GetAllocator());
  auto with_sip = rpc::MergedQueryTestResult(answers, none, doc.GetAllocator());
  REQUIRE(with_sip.ok());
  CHECK(ToText(with_sip.value()["sip"]) ==
        R"J({"retransmissions_sent":7,"rejected":1,"malformed":2})J");

  // What a worker sends is read with care (a fuzz finding: an array instead of a result).
  rapidjson::Value array(rapidjson::kArrayType);
  answers[1].result = &array;
  auto not_object = rpc::MergedQueryTestResult(answers, none, doc.GetAllocator());
  REQUIRE(!not_object.ok());
  CHECK(not_object.message() == "shard 1: the result is not an object");
  rapidjson::Value entry = rpc::MergedListTestsEntry(
      std::vector<const rapidjson::Value*>{&r0, &array}, doc.GetAllocator());
  CHECK(entry["counts"]["started"].GetUint64() == r0["counts"]["started"].GetUint64());

  rapidjson::Value plain = Result(*cluster.shards[1], doc, false);
  answers[1].result = &plain;
  auto refused = rpc::MergedQueryTestResult(answers, none, doc.GetAllocator());
  REQUIRE(!refused.ok());
  CHECK(refused.message() == "shard 1: planned_total is missing");
}

}  // namespace
}  // namespace testrund::ops
