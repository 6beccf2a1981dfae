// SPDX-License-Identifier: Apache-2.0
// The hook-free path of the sandbox (straight-line chunks run without the count hook,
// docs/performance.md) changes nothing a user sees: a few hundred random definitions, mixing
// straight-line expressions with calls, loops, runtime errors, instruction-limit failures and
// script metatables, run once with the fast paths and once with every evaluation counted
// (LuaLimits::hook_free false), and their QueryTest objects (counts, buckets, globals,
// first_fails and first_aborts, both summaries' check_log and trace_log) must be equal.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "test/unit/engine_test_util.h"

namespace testrund::ops {
namespace {

using testing::Engine;
using testing::ToText;

// Expressions with {k} for a small random integer; Lua source in JSON strings.
const std::vector<std::string> kStraight = {
    "v.n = instance",
    "v.n = (v.n or 0) + {k}",
    "g.c = (g.c or 0) + 1",
    "v.s = 'x' .. instance",
    "v.n >= {k}",
    "instance % {k} == 0",
    "v.t = {{instance, g.c, v.s}}",
    "v.n and v.n > {k} or v.s",
    "v.missing.x",
    "(g.c or 0) // (instance % 2)",
    "v.s .. nil",
    "#(v.s or '')",
    "if instance % {k} == 1 then v.n = nil else v.n = -instance end",
    "g.last = v.n; return g.last",
    "x = {k}",
    "v.u = g.u; return v.u",
    "g.u",
    "v.f = instance / {k}",
};
const std::vector<std::string> kGeneral = {
    "math.floor(instance / {k})",
    "string.format('%d-%s', instance, tostring(v.n))",
    "for j = 1, {k} do v.n = (v.n or 0) + j end",
    "local s = 0; while s < instance * {k} do s = s + 1 end; return s > 3",
    "error('e' .. instance)",
    "setmetatable(v, {{__index = function(t, key) return {k} end}})",
    "if instance % {k} == 2 then setmetatable(g, {{__index = function() while true do end end}}) "
    "end",
    "v.r = math.random(1, 100)",
    "pcall(error, 'caught')",
    "local function f(n) if n == 0 then return 0 end return f(n - 1) end return f(instance)",
};

std::string Quote(const std::string& lua) {
  std::string out = "\"";
  for (char c : lua) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// `text` with every `from` replaced by `to`, left to right (appends only: gcc 12 -O3 warns
// wrongly about std::string::replace here).
std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  size_t at = 0;
  for (size_t hit = text.find(from); hit != std::string_view::npos;
       hit = text.find(from, at)) {
    out.append(text.substr(at, hit - at)).append(to);
    at = hit + from.size();
  }
  return out.append(text.substr(at));
}

class DefinitionMaker {
 public:
  explicit DefinitionMaker(uint32_t seed) : rng_(seed) {}

  std::string Expression() {
    const std::vector<std::string>& pool = Pick(4) == 0 ? kGeneral : kStraight;
    const std::string& code = pool[Pick(pool.size())];
    std::string k = std::to_string(1 + Pick(5));
    // Undo the doubled braces the pools use around literal tables.
    return ReplaceAll(ReplaceAll(ReplaceAll(code, "{k}", k), "{{", "{"), "}}", "}");
  }

  // ExecuteTest params: 2 to 6 logic ops (eval, assert with texts, a forward branch) over
  // 5 to 40 instances, traced at level 3.
  std::string Definition() {
    size_t ops = 2 + Pick(5);
    std::vector<std::string> parts;
    for (size_t idx = 0; idx < ops; ++idx) {
      std::string label = fmt::format(R"J("label": "L{}", )J", idx);
      switch (Pick(4)) {
        case 0:
        case 1:
          parts.push_back(fmt::format(R"J({{{}"type": "eval", "expression": {}}})J", label,
                                      Quote(Expression())));
          break;
        case 2: {
          std::string texts;
          if (Pick(2) == 0) texts += R"J(, "fail": "{'f ' .. tostring(v.n)}")J";
          if (Pick(3) == 0) texts += R"J(, "pass": "{'p ' .. instance}")J";
          if (Pick(4) == 0) texts += R"J(, "abort": "{'a ' .. tostring(g.c)}")J";
          parts.push_back(fmt::format(R"J({{{}"type": "assert", "expression": {}{}}})J", label,
                                      Quote(Expression()), texts));
          break;
        }
        default:
          parts.push_back(fmt::format(
              R"J({{{}"type": "branch", "expression": {}, "on_true": "L{}"}})J", label,
              Quote(Expression()), idx + 1 + Pick(ops - idx)));
          break;
      }
    }
    parts.push_back(fmt::format(R"J({{"label": "L{}", "type": "comment"}})J", ops));
    std::string operations = "[";
    for (size_t at = 0; at < parts.size(); ++at) {
      operations += (at == 0 ? "" : ", ") + parts[at];
    }
    operations += "]";
    return fmt::format(
        R"J({{"run_id": "r", "seed": {}, "trace_level": 3, "distribution": {{"type": "load",)J"
        R"J( "total": {}}}, "operations": {}}})J",
        Pick(1000), 5 + Pick(36), operations);
  }

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

 private:
  std::mt19937 rng_;
};

// The run's QueryTest object as text once it has completed.
std::string Outcome(uint64_t instruction_limit, bool hook_free, const std::string& params) {
  EngineLimits limits = TestEngineLimits();
  limits.lua.instruction_limit = instruction_limit;
  limits.lua.hook_free = hook_free;
  Engine e(limits);
  std::string id = e.Execute(params);
  REQUIRE(!id.empty());
  e.clock.RunDue();
  REQUIRE(e.Completed(id));
  return ToText(e.Status(id));
}

TEST_CASE("random definitions: the hook-free path and the counted path agree", "[unit]") {
  DefinitionMaker maker(20261207);
  const uint64_t kLimits[] = {12, 40, 1000, 1'000'000};
  // What the definitions ran into, so that a generator gone dull fails the test.
  int limit_hit = 0;
  int runtime_errors = 0;
  int passes = 0;
  for (int n = 0; n < 300; ++n) {
    std::string params = maker.Definition();
    uint64_t limit = kLimits[maker.Pick(4)];
    INFO("definition " << n << ", instruction_limit " << limit << ": " << params);
    std::string fast = Outcome(limit, true, params);
    std::string counted = Outcome(limit, false, params);
    REQUIRE(fast == counted);
    limit_hit += fast.find("instruction limit") != std::string::npos;
    runtime_errors += fast.find("attempt to") != std::string::npos;
    passes += fast.find(R"("passed":0,)") == std::string::npos;
  }
  CHECK(limit_hit >= 20);
  CHECK(runtime_errors >= 50);
  CHECK(passes >= 40);  // this seed: 56, 114 and 86
}

}  // namespace
}  // namespace testrund::ops
