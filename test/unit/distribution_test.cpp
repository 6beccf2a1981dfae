// SPDX-License-Identifier: Apache-2.0
// ParseDistribution: defaults, decimal strings, and every problem text at once.
#include <catch2/catch.hpp>

#include <string>

#include <rapidjson/document.h>

#include "ops/distribution.h"

using testrund::ops::Distribution;
using testrund::ops::DistributionType;
using testrund::ops::ParseDistribution;
using testrund::ops::Problems;

namespace {

struct Parsed {
  Distribution d;
  Problems problems;
};

Parsed Parse(const char* json) {
  rapidjson::Document doc;
  doc.Parse(json);
  REQUIRE_FALSE(doc.HasParseError());
  Parsed out;
  out.d = ParseDistribution(&doc, out.problems);
  return out;
}

// "field: problem" lines, for exact comparison.
std::string Lines(const Problems& problems) {
  std::string out;
  for (const auto& p : problems) {
    CHECK(p.op_idx == -1);
    out += p.field + ": " + p.problem + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("distribution absent or single is one instance", "[unit]") {
  Problems problems;
  Distribution d = ParseDistribution(nullptr, problems);
  CHECK(problems.empty());
  CHECK(d.type == DistributionType::kSingle);
  CHECK(d.total == 1);
  CHECK(d.backlog == 1000);

  auto p = Parse(R"({"type":"single","total":50,"rate":-3,"extra":true})");
  CHECK(p.problems.empty());
  CHECK(p.d.type == DistributionType::kSingle);
  CHECK(p.d.total == 1);

  auto q = Parse(R"({})");  // type defaults to single
  CHECK(q.problems.empty());
  CHECK(q.d.type == DistributionType::kSingle);
}

TEST_CASE("distribution linear and load with integers as decimal strings", "[unit]") {
  auto p = Parse(R"({"type":"linear","rate":10,"total":"41","backlog":"7","nosuch":1})");
  CHECK(Lines(p.problems) == "");
  CHECK(p.d.type == DistributionType::kLinear);
  CHECK(p.d.total == 41);
  CHECK(p.d.backlog == 7);
  REQUIRE(p.d.rate);
  CHECK(*p.d.rate == 10);
  CHECK_FALSE(p.d.duration);

  auto s = Parse(R"({"type":"linear","rate":"0.5","duration":"2.5","total":3.0})");
  CHECK(Lines(s.problems) == "");
  CHECK(*s.d.rate == 0.5);
  CHECK(*s.d.duration == 2.5);
  CHECK(s.d.total == 3);

  auto l = Parse(R"({"type":"load","total":1000,"backlog":50,"rate":"ignored"})");
  CHECK(Lines(l.problems) == "");
  CHECK(l.d.type == DistributionType::kLoad);
  CHECK(l.d.total == 1000);
  CHECK_FALSE(l.d.rate);

  auto ld = Parse(R"({"type":"load","duration":30})");
  CHECK(Lines(ld.problems) == "");
  CHECK(ld.d.total == 0);
  CHECK(*ld.d.duration == 30);

  auto edges = Parse(R"({"type":"linear","rate":0.01,"total":0})");
  CHECK(Lines(edges.problems) == "");
  auto top = Parse(R"({"type":"linear","rate":1000000,"total":1})");
  CHECK(Lines(top.problems) == "");
}

TEST_CASE("distribution stages", "[unit]") {
  auto p = Parse(R"({"type":"linear","stages":[{"duration":10,"rate":100},)"
                 R"({"duration":"5","rate":"0"}]})");
  CHECK(Lines(p.problems) == "");
  CHECK(p.d.total == 0);
  CHECK_FALSE(p.d.rate);
  REQUIRE(p.d.stages.size() == 2);
  CHECK(p.d.stages[0].duration == 10);
  CHECK(p.d.stages[0].rate == 100);
  CHECK(p.d.stages[1].duration == 5);
  CHECK(p.d.stages[1].rate == 0);
}

TEST_CASE("distribution problems are all reported, quoting the value", "[unit]") {
  SECTION("not an object") {
    auto p = Parse(R"([1,2])");
    CHECK(Lines(p.problems) == "distribution: must be an object, got an array\n");
  }
  SECTION("unknown type") {
    CHECK(Lines(Parse(R"({"type":"nosuch"})").problems) ==
          "distribution.type: must be one of \"single\", \"load\", \"linear\", got "
          "\"nosuch\"\n");
    CHECK(Lines(Parse(R"({"type":3})").problems) ==
          "distribution.type: must be one of \"single\", \"load\", \"linear\", got 3\n");
  }
  SECTION("every bad member of a linear run at once") {
    auto p = Parse(R"({"type":"linear","rate":0,"total":-1,"backlog":0,"duration":-5})");
    CHECK(Lines(p.problems) ==
          "distribution.backlog: must be at least 1, got 0\n"
          "distribution.duration: must be greater than 0 and at most 100000000, got -5\n"
          "distribution.rate: must be between 0.01 and 1000000, got 0\n"
          "distribution.total: must be at least 0, got -1\n");
  }
  SECTION("wrong kinds of numbers") {
    auto p = Parse(R"({"type":"linear","rate":"fast","total":2.5,"backlog":"10x","duration":"0"})");
    CHECK(Lines(p.problems) ==
          "distribution.backlog: must be an integer, got \"10x\"\n"
          "distribution.duration: must be greater than 0 and at most 100000000, got \"0\"\n"
          "distribution.rate: must be a number, got \"fast\"\n"
          "distribution.total: must be an integer, got 2.5\n");
  }
  SECTION("rate range") {
    CHECK(Lines(Parse(R"({"type":"linear","rate":0.009,"total":1})").problems) ==
          "distribution.rate: must be between 0.01 and 1000000, got 0.009\n");
    CHECK(Lines(Parse(R"({"type":"linear","rate":1000001,"total":1})").problems) ==
          "distribution.rate: must be between 0.01 and 1000000, got 1000001\n");
    // null is "not given", as for every parameter.
    CHECK(Lines(Parse(R"({"type":"linear","rate":null,"total":1})").problems) ==
          "distribution.rate: is required for type \"linear\" unless stages is given\n");
  }
  SECTION("required members") {
    CHECK(Lines(Parse(R"({"type":"linear"})").problems) ==
          "distribution.rate: is required for type \"linear\" unless stages is given\n"
          "distribution.total: is required for type \"linear\" unless duration or stages is "
          "given\n");
    CHECK(Lines(Parse(R"({"type":"load"})").problems) ==
          "distribution.total: is required for type \"load\" unless duration or stages is "
          "given\n");
    // An invalid duration is reported once, not also as a missing total.
    CHECK(Lines(Parse(R"({"type":"load","duration":0})").problems) ==
          "distribution.duration: must be greater than 0 and at most 100000000, got 0\n");
  }
  SECTION("stage problems") {
    auto p = Parse(R"({"type":"linear","stages":[{"duration":0,"rate":-1},5,{},)"
                   R"({"duration":1e9,"rate":2000000}]})");
    CHECK(Lines(p.problems) ==
          "distribution.stages[0].duration: must be greater than 0 and at most 100000000, "
          "got 0\n"
          "distribution.stages[0].rate: must be between 0 and 1000000, got -1\n"
          "distribution.stages[1]: must be an object, got 5\n"
          "distribution.stages[2].duration: is required\n"
          "distribution.stages[2].rate: is required\n"
          "distribution.stages[3].duration: must be greater than 0 and at most 100000000, "
          "got 1e+09\n"
          "distribution.stages[3].rate: must be between 0 and 1000000, got 2000000\n");
    CHECK(Lines(Parse(R"({"type":"linear","stages":[]})").problems) ==
          "distribution.stages: must be a non-empty array, got an empty array\n");
    CHECK(
        Lines(Parse(R"({"type":"load","total":5,"stages":[{"duration":1,"rate":1}]})").problems) ==
        "distribution.stages: needs type \"linear\", got type \"load\"\n");
    CHECK(Lines(Parse(R"({"type":"linear","stages":[{"duration":60000000,"rate":1},)"
                      R"({"duration":60000000,"rate":1}]})")
                    .problems) ==
          "distribution.stages: last 120000000 seconds in all, more than 100000000\n");
  }
}
