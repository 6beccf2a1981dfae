// SPDX-License-Identifier: Apache-2.0
// ops::ParamReader: typed reads of by-name params, integers as decimal strings, problems
// of nested objects and deferred expressions, and the exact -32602 messages and data lists
// that clients see (rpc::InvalidParams).
#include <string>

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include "ops/base/param_reader.h"
#include "rpc/errors.h"
#include "rpc/params.h"

namespace testrund::rpc {
namespace {

using Params = ops::ParamReader;
using ops::QuoteValue;

rapidjson::Document Parse(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

// The single problem recorded, as "field: problem".
std::string OnlyProblem(const Params& p) {
  REQUIRE(p.problems().size() == 1);
  return p.problems()[0].field + ": " + p.problems()[0].problem;
}

TEST_CASE("Params: integers", "[unit]") {
  rapidjson::Document d = Parse(R"({"n": 41, "s": "41", "neg": "-3", "f": 41.0, "big": 18446744073709551615,
      "half": 1.5, "x": "4x", "plus": "+41", "space": " 41", "dec": "41.0", "empty": "",
      "hex": "0x10", "huge": "99999999999999999999", "b": true, "o": {}, "null": null})");
  SECTION("numbers and decimal strings") {
    Params p(d);
    CHECK(p.RequiredInt("n") == 41);
    CHECK(p.RequiredInt("s") == 41);
    CHECK(p.RequiredInt("neg") == -3);
    CHECK(p.RequiredInt("f") == 41);
    CHECK(p.OptionalInt("absent") == std::nullopt);
    CHECK(p.OptionalInt("null") == std::nullopt);  // null: not given
    CHECK(p.ok());
  }
  SECTION("not integers") {
    const char* cases[][2] = {
        {"half", "half: must be an integer, got 1.5"},
        {"x", R"(x: must be an integer, got "4x")"},
        {"plus", R"(plus: must be an integer, got "+41")"},
        {"space", R"(space: must be an integer, got " 41")"},
        {"dec", R"(dec: must be an integer, got "41.0")"},
        {"empty", R"(empty: must be an integer, got "")"},
        {"hex", R"(hex: must be an integer, got "0x10")"},
        {"huge", R"(huge: must be an integer, got "99999999999999999999")"},
        {"b", "b: must be an integer, got true"},
        {"o", "o: must be an integer, got an empty object"},
    };
    for (auto& c : cases) {
      INFO(c[0]);
      Params p(d);
      CHECK(p.OptionalInt(c[0]) == std::nullopt);
      CHECK(OnlyProblem(p) == c[1]);
    }
  }
  SECTION("ranges") {
    Params p(d);
    CHECK(p.OptionalInt("n", {.min = 0, .max = 3}) == std::nullopt);
    CHECK(OnlyProblem(p) == "n: must be between 0 and 3, got 41");
    Params q(d);
    CHECK(q.OptionalInt("neg", {.min = 0}) == std::nullopt);
    CHECK(OnlyProblem(q) == R"(neg: must be at least 0, got "-3")");
    Params r(d);
    CHECK(r.OptionalInt("n", {.max = 40}) == std::nullopt);
    CHECK(OnlyProblem(r) == "n: must be at most 40, got 41");
    Params s(d);
    CHECK(s.OptionalInt("big") == std::nullopt);
    CHECK(OnlyProblem(s) == "big: must be at most 9223372036854775807, got 18446744073709551615");
    Params t(d);
    CHECK(t.RequiredInt("n", {.min = 41, .max = 41}) == 41);
    CHECK(t.ok());
  }
  SECTION("required and missing") {
    Params p(d);
    CHECK(p.RequiredInt("instance_id") == 0);
    CHECK(OnlyProblem(p) == "instance_id: is required");
    Params q(d);
    CHECK(q.RequiredInt("null") == 0);
    CHECK(OnlyProblem(q) == "null: is required");
  }
}

TEST_CASE("Params: strings, numbers, flags, objects, arrays", "[unit]") {
  rapidjson::Document d = Parse(R"({"s": "abc", "n": 42, "rate": 0.5, "rs": "0.5", "inf": "inf",
      "nan": "nan", "exp": "1e3", "t": true, "f": false, "one": 1, "zero": "0", "two": 2,
      "o": {"a": 1}, "a": [1, 2], "nul": "a\u0000b",
      "long": "0123456789012345678901234567890123456789012345678901234567890123456789"})");
  SECTION("strings") {
    Params p(d);
    CHECK(p.RequiredString("s") == "abc");
    CHECK(p.OptionalString("nul") == std::string_view("a\0b", 3));
    CHECK(p.OptionalString("absent") == std::nullopt);
    CHECK(p.ok());
    CHECK(p.RequiredString("n").empty());
    CHECK(OnlyProblem(p) == "n: must be a string, got 42");
    Params q(d);
    CHECK_FALSE(q.OptionalString("a"));
    CHECK(OnlyProblem(q) == "a: must be a string, got an array");
  }
  SECTION("numbers") {
    Params p(d);
    CHECK(p.RequiredNumber("rate") == 0.5);
    CHECK(p.RequiredNumber("rs") == 0.5);
    CHECK(p.RequiredNumber("n") == 42.0);
    CHECK(p.RequiredNumber("exp") == 1000.0);
    CHECK(p.ok());
    for (const char* bad : {"inf", "nan", "s", "t", "o"}) {
      INFO(bad);
      Params q(d);
      CHECK_FALSE(q.OptionalNumber(bad));
      CHECK_THAT(OnlyProblem(q), Catch::StartsWith(std::string(bad) + ": must be a number, got"));
    }
    Params r(d);
    CHECK_FALSE(r.OptionalNumber("rate", {.min = 0.01, .max = 0.1}));
    CHECK(OnlyProblem(r) == "rate: must be between 0.01 and 0.1, got 0.5");
  }
  SECTION("flags: booleans or 0/1") {
    Params p(d);
    CHECK(p.OptionalFlag("t") == true);
    CHECK(p.OptionalFlag("f") == false);
    CHECK(p.OptionalFlag("one") == true);
    CHECK(p.OptionalFlag("zero") == false);
    CHECK(p.OptionalFlag("absent") == std::nullopt);
    CHECK(p.ok());
    CHECK(p.OptionalFlag("two") == std::nullopt);
    CHECK(OnlyProblem(p) == "two: must be 0 or 1, got 2");
  }
  SECTION("objects and arrays") {
    Params p(d);
    REQUIRE(p.RequiredObject("o") != nullptr);
    CHECK((*p.RequiredObject("o"))["a"].GetInt() == 1);
    REQUIRE(p.RequiredArray("a") != nullptr);
    CHECK(p.RequiredArray("a")->Size() == 2);
    CHECK(p.OptionalObject("absent") == nullptr);
    CHECK(p.ok());
    CHECK(p.RequiredObject("a") == nullptr);
    CHECK(OnlyProblem(p) == "a: must be an object, got an array");
    Params q(d);
    CHECK(q.RequiredArray("s") == nullptr);
    CHECK(OnlyProblem(q) == R"(s: must be an array, got "abc")");
    Params r(d);
    CHECK(r.RequiredArray("operations") == nullptr);
    CHECK(OnlyProblem(r) == "operations: is required");
  }
  SECTION("long strings are cut in quotes") {
    Params p(d);
    CHECK_FALSE(p.OptionalInt("long"));
    CHECK(OnlyProblem(p) ==
          R"(long: must be an integer, got "012345678901234567890123456789012345678901234567890123456789...")");
  }
}

TEST_CASE("Params: the -32602 error lists every problem", "[unit]") {
  rapidjson::Document d = Parse(R"({"instance_id": "4x", "vars": 3})");
  Params p(d);
  (void)p.RequiredString("run_id");
  (void)p.RequiredInt("instance_id");
  (void)p.OptionalObject("vars");
  ops::Problems problems = p.problems();
  problems.push_back({2, "type", R"(is unknown: "nosuch")"});
  REQUIRE_FALSE(p.ok());
  rapidjson::Document out;
  RpcError e = InvalidParams(problems, out.GetAllocator());
  CHECK(e.code == -32602);
  CHECK(e.message ==
        R"(Invalid params: run_id is required; instance_id must be an integer, got "4x"; )"
        R"(vars must be an object, got 3 (and 1 more))");
  REQUIRE(e.data.has_value());
  CHECK(*e.data == Parse(R"([
      {"field": "run_id", "problem": "is required"},
      {"field": "instance_id", "problem": "must be an integer, got \"4x\""},
      {"field": "vars", "problem": "must be an object, got 3"},
      {"op_idx": 2, "field": "type", "problem": "is unknown: \"nosuch\""}])"));

  SECTION("InvalidParams from engine problems names the op") {
    ops::Problems engine = {{1, "on_true", R"(names no label: "zz")"}};
    RpcError f = InvalidParams(engine, out.GetAllocator());
    CHECK(f.message == R"(Invalid params: operations[1].on_true names no label: "zz")");
    CHECK(*f.data == Parse(R"([{"op_idx": 1, "field": "on_true",
                                "problem": "names no label: \"zz\""}])"));
  }
}

TEST_CASE("QuoteValue quotes values for problem texts", "[unit]") {
  rapidjson::Document d =
      Parse(R"([null, true, false, 1, -2.5, "a\"b", {"a": 1}, [1], {}, [], "\u00e9"])");
  const char* expected[] = {"null", "true", "false", "1", "-2.5", R"("a\"b")",
                            "an object", "an array", "an empty object", "an empty array",
                            "\"\xc3\xa9\""};
  for (rapidjson::SizeType i = 0; i < d.Size(); ++i) {
    CHECK(QuoteValue(d[i]) == expected[i]);
  }
  // A cut never splits a UTF-8 sequence.
  std::string s(59, 'a');
  s += "\xc3\xa9\xc3\xa9";
  rapidjson::Value v(s, d.GetAllocator());
  CHECK(QuoteValue(v) == "\"" + std::string(59, 'a') + "...\"");
}

TEST_CASE("ParamReader: nested objects, deferred expressions, exclusive ranges", "[unit]") {
  rapidjson::Document d = Parse(R"({"port": "{v.port}", "len": 0, "t": "yes", "on": true,
      "extra": 1, "s": "{v.s}", "secs": "x", "neg": -1})");
  ops::Problems problems;
  Params p(d, &problems, {.op_idx = 3, .prefix = "arguments.", .defer_expressions = true});
  SECTION("an expression is passed over, required or not") {
    CHECK(p.OptionalInt("port") == std::nullopt);
    CHECK(p.RequiredString("s").empty());
    CHECK(p.ok());
  }
  SECTION("problems carry the op and the prefixed field") {
    CHECK(p.OptionalInt("len", {.min = 1}) == std::nullopt);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].op_idx == 3);
    CHECK(problems[0].field == "arguments.len");
    CHECK(problems[0].Text() == "arguments.len must be at least 1, got 0");
  }
  SECTION("true or false only") {
    CHECK(p.OptionalBool("on") == true);
    CHECK(p.OptionalBool("t") == std::nullopt);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].Text() == R"(arguments.t must be true or false, got "yes")");
  }
  SECTION("unknown members") {
    Params q(d, &problems, {.prefix = "expect."});
    q.UnknownMembers({"port", "len", "t", "on", "s", "secs", "neg"});
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].Text() == "expect.extra is unknown");
  }
  SECTION("exclusive minimum, and what the number is") {
    ops::NumberRange seconds{.min = 0, .max = 600, .min_exclusive = true};
    CHECK(p.OptionalNumber("neg", seconds, "a number of seconds") == std::nullopt);
    CHECK(p.OptionalNumber("secs", seconds, "a number of seconds") == std::nullopt);
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].problem == "must be greater than 0 and at most 600, got -1");
    CHECK(problems[1].problem == R"(must be a number of seconds, got "x")");
  }
  SECTION("a reader inside another shares its list and extends its prefix") {
    rapidjson::Document inner = Parse(R"({"rate": -2})");
    Params q(inner, p, "stages[0]");
    CHECK(q.OptionalNumber("rate", {.min = 0}) == std::nullopt);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].field == "arguments.stages[0].rate");
    CHECK(problems[0].op_idx == 3);
    CHECK_FALSE(p.ok());
  }
  SECTION("a problem about the object itself names it without a dot") {
    p.AddProblem("", "needs \"hex\" or \"text\"");
    CHECK(problems[0].Text() == R"(arguments needs "hex" or "text")");
  }
}

}  // namespace
}  // namespace testrund::rpc
