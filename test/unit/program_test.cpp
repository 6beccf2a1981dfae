// SPDX-License-Identifier: Apache-2.0
// Program and RunDefinition validation: every problem reported at once, with exact texts.
#include <catch2/catch.hpp>

#include "ops/base/json_numbers.h"
#include "ops/program.h"
#include "ops/run_definition.h"
#include "test/unit/engine_test_util.h"

namespace testrund::ops {
namespace {

using testing::ParseJson;

Problems Validate(std::string_view params) {
  rapidjson::Document doc = ParseJson(params);
  Problems problems;
  auto def = ParseRunDefinition(doc, TestEngineLimits(), LogicOpTable(), "tr_1", &problems);
  if (problems.empty()) REQUIRE(def.has_value());
  return problems;
}

bool Has(const Problems& problems, int op_idx, std::string_view field, std::string_view text) {
  for (const Problem& p : problems) {
    if (p.op_idx == op_idx && p.field == field && p.problem == text) return true;
  }
  return false;
}

std::string Dump(const Problems& problems) {
  std::string out;
  for (const Problem& p : problems) {
    out += std::to_string(p.op_idx) + " " + p.field + ": " + p.problem + "\n";
  }
  return out;
}

TEST_CASE("A valid definition of every logic op has no problems", "[unit]") {
  Problems problems = Validate(R"({"operations": [
    {"type": "eval", "expression": "v.n = 1"},
    {"type": "assert", "expression": "v.n == 1", "pass": "ok", "fail": "{'bad ' .. v.n}"},
    {"type": "branch", "expression": "v.n > 0", "on_true": "end", "on_false": "end"},
    {"type": "halt", "arguments": {"seconds": "5", "comment": "wait for me"}, "static": 1},
    {"type": "wait", "arguments": {"seconds": 0.25}},
    {"type": "comment", "text": "hello", "label": "end"}]})");
  INFO(Dump(problems));
  CHECK(problems.empty());
}

TEST_CASE("Every problem of a definition is reported at once with exact texts", "[unit]") {
  Problems problems = Validate(R"({"operations": [
    {"type": "nosuch"},
    {"type": "eval"},
    {"type": "branch", "expression": "true", "on_true": "zz"},
    {"type": "halt", "arguments": {"seconds": 700}},
    {"type": "eval", "expression": "v.x = = 1"},
    {"type": "comment", "label": "a"},
    {"type": "comment", "label": "a"},
    {"type": "wait", "arguments": {"seconds": 0}},
    {"type": "wait"},
    {"label": "b"},
    {"type": "halt", "arguments": {"seconds": "abc"}},
    {"type": "halt", "arguments": {"seconds": "0.5"}},
    5,
    {"type": "assert", "expression": 7}]})");
  INFO(Dump(problems));
  CHECK(Has(problems, 0, "type", "is unknown: \"nosuch\""));
  CHECK(Has(problems, 1, "expression", "is required"));
  CHECK(Has(problems, 2, "on_true", "names no label: \"zz\""));
  CHECK(Has(problems, 3, "arguments.seconds", "must be greater than 0 and at most 600, got 700"));
  CHECK(Has(problems, 6, "label", "\"a\" is already the label of op 5"));
  CHECK(Has(problems, 7, "arguments.seconds",
            "must be greater than 0 and at most 100000000, got 0"));
  CHECK(Has(problems, 8, "arguments.seconds", "is required"));
  CHECK(Has(problems, 9, "type", "is required"));
  CHECK(Has(problems, 10, "arguments.seconds", "must be a number of seconds, got \"abc\""));
  CHECK(Has(problems, 12, "", "must be an object, got 5"));
  CHECK(Has(problems, 13, "expression", "must be a string of Lua, got 7"));
  // The Lua syntax error carries Lua's own message, naming the op.
  bool lua_error = false;
  for (const Problem& p : problems) {
    if (p.op_idx == 4 && p.field == "expression") {
      lua_error = true;
      CHECK(p.problem.find("op 4") != std::string::npos);
      CHECK(p.problem.find("near") != std::string::npos);
    }
  }
  CHECK(lua_error);
  CHECK(problems.size() == 12);
}

TEST_CASE("A wait is at most 100,000,000 seconds", "[unit]") {
  // Found by the operations fuzzer: a longer wait overflowed the nanosecond clock.
  Problems problems = Validate(R"({"operations": [
    {"type": "wait", "arguments": {"seconds": 1e10}},
    {"type": "wait", "arguments": {"seconds": "100000000.5"}},
    {"type": "wait", "arguments": {"seconds": 100000000}}]})");
  INFO(Dump(problems));
  CHECK(problems.size() == 2);
  CHECK(Has(problems, 0, "arguments.seconds",
            "must be greater than 0 and at most 100000000, got 1e+10"));
  CHECK(Has(problems, 1, "arguments.seconds",
            "must be greater than 0 and at most 100000000, got \"100000000.5\""));
}

TEST_CASE("Params problems come with operation problems", "[unit]") {
  Problems problems = Validate(R"({"run_id": "bad id!", "trace_level": 4, "turbo": "2",
    "max_failures": -1, "tags": [1], "vars": [], "distribution": {"type": "nosuch"},
    "operations": [{"type": "nosuch"}]})");
  INFO(Dump(problems));
  CHECK(Has(problems, -1, "run_id",
            "must be 1-64 characters of [A-Za-z0-9_.:-], got \"bad id!\""));
  CHECK(Has(problems, -1, "trace_level", "must be between 0 and 3, got 4"));
  CHECK(Has(problems, -1, "turbo", "must be 0 or 1, got \"2\""));
  CHECK(Has(problems, -1, "max_failures", "must be at least 0, got -1"));
  CHECK(Has(problems, -1, "tags[0]", "must be a string, got 1"));
  CHECK(Has(problems, -1, "vars", "must be an object, got an empty array"));
  CHECK(Has(problems, 0, "type", "is unknown: \"nosuch\""));
  bool distribution = false;
  for (const Problem& p : problems) distribution |= p.field.rfind("distribution", 0) == 0;
  CHECK(distribution);
}

TEST_CASE("Missing and empty operations are problems", "[unit]") {
  CHECK(Has(Validate(R"({})"), -1, "operations", "is required"));
  CHECK(Has(Validate(R"({"operations": []})"), -1, "operations",
            "must hold 1 to 10000 operations, got 0"));
}

TEST_CASE("Integers are also accepted as decimal strings", "[unit]") {
  rapidjson::Document doc = ParseJson(
      R"({"trace_level": "2", "seed": "41", "max_failures": "3",
          "operations": [{"type": "comment"}]})");
  Problems problems;
  auto def = ParseRunDefinition(doc, TestEngineLimits(), LogicOpTable(), "tr_1", &problems);
  REQUIRE(def.has_value());
  CHECK(def->trace_level == 2);
  CHECK(def->seed == 41);
  CHECK(def->max_failures == 3u);
  CHECK(def->run_id == "tr_1");
}

TEST_CASE("Labels resolve to indices; unknown attributes are echoed with idx", "[unit]") {
  rapidjson::Document doc = ParseJson(R"({"operations": [
    {"type": "branch", "expression": "true", "on_false": "x"},
    {"type": "halt", "static": 1, "arguments": {"seconds": "5"}},
    {"type": "comment", "label": "x"}]})");
  Problems problems;
  auto def = ParseRunDefinition(doc, TestEngineLimits(), LogicOpTable(), "tr_1", &problems);
  REQUIRE(def.has_value());
  const Program& program = *def->program;
  CHECK(program.op(0).on_false == 2);
  CHECK(program.op(0).on_true == -1);
  CHECK(program.op(1).duration == 5 * kNsPerSecond);
  CHECK(testing::ToText(program.op(1).echo) ==
        R"({"type":"halt","static":1,"arguments":{"seconds":"5"},"idx":1})");
}

TEST_CASE("Halt seconds default to 60 and print as JSON numbers", "[unit]") {
  CHECK(NumberText(1) == "1");
  CHECK(NumberText(0.5) == "0.5");
  CHECK(NumberText(600) == "600");
  rapidjson::Document doc = ParseJson(R"({"operations": [{"type": "halt"}]})");
  Problems problems;
  auto def = ParseRunDefinition(doc, TestEngineLimits(), LogicOpTable(), "tr_1", &problems);
  REQUIRE(def.has_value());
  CHECK(def->program->op(0).duration == 60 * kNsPerSecond);
}

}  // namespace
}  // namespace testrund::ops
