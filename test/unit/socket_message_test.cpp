// SPDX-License-Identifier: Apache-2.0
// What tcp.* and udp.* share (ops/protocol/socket_message.h), read in process: Endpoint's
// text, ReadEndpoint (`host`, `port` 1-65535 as an int or a decimal string), ReadPayload
// (exactly one of `hex` and `text`) and CheckMessageExpect (hex, text, contains and a Lua
// pattern, checked with Lua's own problem texts). Each reader runs as ExecuteTest runs it,
// where `{...}` values are passed over, and as the executing op runs it on the values
// produced; the tests assert the exact problems (op, field, text) a client would see.
#include "ops/protocol/socket_message.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/param_reader.h"
#include "ops/base/problem.h"
#include "test/unit/lua_test_util.h"
#include "test/unit/op_part_reader.h"

namespace testrund::ops {
namespace {

using test::Arguments;
using test::Lines;
using test::When;
using testing::LuaFindError;
using test::Expect;

// What a reader leaves untouched is recognisable by these.
constexpr std::string_view kUnreadHost = "unread";
constexpr uint16_t kUnreadPort = 9;
constexpr std::string_view kUnreadBytes = "unread";

// ReadEndpoint of `json`; *problems gets the problems.
Endpoint ReadEndpointOf(std::string_view json, Lines* problems, When when = When::kValidating) {
  Arguments args(json, when);
  Endpoint endpoint{.host = std::string(kUnreadHost), .port = kUnreadPort};
  ReadEndpoint(args.reader(), &endpoint);
  *problems = args.Problems();
  return endpoint;
}

// ReadPayload of `json`; *problems gets the problems.
std::string ReadPayloadOf(std::string_view json, Lines* problems, When when = When::kValidating) {
  Arguments args(json, when);
  std::string bytes(kUnreadBytes);
  ReadPayload(args.reader(), &bytes);
  *problems = args.Problems();
  return bytes;
}

// The problems CheckMessageExpect records for `json`.
Lines ExpectProblems(std::string_view json, When when = When::kValidating) {
  Expect expect(json, when);
  CheckMessageExpect(expect.reader());
  return expect.Problems();
}

TEST_CASE("Endpoint::Text: host:port, an IPv6 address in brackets", "[unit]") {
  CHECK(Endpoint{.host = "127.0.0.1", .port = 7000}.Text() == "127.0.0.1:7000");
  CHECK(Endpoint{.host = "example.com", .port = 80}.Text() == "example.com:80");
  CHECK(Endpoint{.host = "::1", .port = 9}.Text() == "[::1]:9");
  CHECK(Endpoint{.host = "fe80::1%eth0", .port = 65535}.Text() == "[fe80::1%eth0]:65535");
}

TEST_CASE("ReadEndpoint: host", "[unit]") {
  Lines problems;
  SECTION("both given") {
    Endpoint e = ReadEndpointOf(R"({"host": "127.0.0.1", "port": 7000})", &problems);
    CHECK(problems.empty());
    CHECK(e.host == "127.0.0.1");
    CHECK(e.port == 7000);
  }
  SECTION("both required; null is not given") {
    for (const char* json : {"{}", R"({"host": null, "port": null})"}) {
      INFO(json);
      Endpoint e = ReadEndpointOf(json, &problems);
      CHECK(problems == Lines{"arguments.host: is required", "arguments.port: is required"});
      CHECK(e.host == kUnreadHost);
      CHECK(e.port == kUnreadPort);
    }
  }
  SECTION("an IPv6 address may be written in brackets, as in a URL") {
    Endpoint e = ReadEndpointOf(R"({"host": "[::1]", "port": 7000})", &problems);
    CHECK(problems.empty());
    CHECK(e.host == "::1");
    CHECK(e.Text() == "[::1]:7000");
    (void)ReadEndpointOf(R"({"host": "[]", "port": 7000})", &problems);
    CHECK(problems.empty());  // "[]" is a name, which the resolver then refuses
  }
  SECTION("not empty") {
    Endpoint e = ReadEndpointOf(R"({"host": "", "port": 7000})", &problems);
    CHECK(problems == Lines{"arguments.host: must not be empty"});
    CHECK(e.port == 7000);
  }
  SECTION("a string") {
    Endpoint e = ReadEndpointOf(R"({"host": 127, "port": 7000})", &problems);
    CHECK(problems == Lines{"arguments.host: must be a string, got 127"});
    CHECK(e.host == kUnreadHost);
    (void)ReadEndpointOf(R"({"host": ["a", "b"], "port": 7000})", &problems);
    CHECK(problems == Lines{"arguments.host: must be a string, got an array"});
  }
  SECTION("an expression is passed over at ExecuteTest and read as text when executing") {
    const char* json = R"({"host": "{v.host}", "port": 7000})";
    Endpoint v = ReadEndpointOf(json, &problems);
    CHECK(problems.empty());
    CHECK(v.host == kUnreadHost);
    Endpoint e = ReadEndpointOf(json, &problems, When::kExecuting);
    CHECK(problems.empty());
    CHECK(e.host == "{v.host}");
  }
}

TEST_CASE("ReadEndpoint: port", "[unit]") {
  Lines problems;
  SECTION("1 to 65535, as an integer or a decimal string") {
    struct Case {
      const char* port;
      uint16_t read;
    };
    const Case cases[] = {
        {"1", 1}, {"65535", 65535}, {R"("8080")", 8080}, {R"("1")", 1}, {"80.0", 80}};
    for (const Case& c : cases) {
      std::string json = std::string(R"({"host": "h", "port": )") + c.port + "}";
      INFO(json);
      Endpoint e = ReadEndpointOf(json, &problems);
      CHECK(problems.empty());
      CHECK(e.port == c.read);
    }
  }
  SECTION("anything else: a problem, and the port is not set") {
    const char* cases[][2] = {
        {"0", "must be between 1 and 65535, got 0"},
        {"70000", "must be between 1 and 65535, got 70000"},
        {"65536", "must be between 1 and 65535, got 65536"},
        {"-1", "must be between 1 and 65535, got -1"},
        {R"("0")", R"(must be between 1 and 65535, got "0")"},
        {R"("70000")", R"(must be between 1 and 65535, got "70000")"},
        {R"("80a")", R"(must be an integer, got "80a")"},
        {R"(" 80")", R"(must be an integer, got " 80")"},
        {R"("")", R"(must be an integer, got "")"},
        {"80.5", "must be an integer, got 80.5"},
        {"true", "must be an integer, got true"},
        {"{}", "must be an integer, got an empty object"},
    };
    for (auto& c : cases) {
      std::string json = std::string(R"({"host": "h", "port": )") + c[0] + "}";
      INFO(json);
      Endpoint e = ReadEndpointOf(json, &problems);
      CHECK(problems == Lines{std::string("arguments.port: ") + c[1]});
      CHECK(e.port == kUnreadPort);
    }
  }
  SECTION("an expression is passed over at ExecuteTest and refused as text when executing") {
    const char* json = R"({"host": "h", "port": "{v.port}"})";
    Endpoint v = ReadEndpointOf(json, &problems);
    CHECK(problems.empty());
    CHECK(v.port == kUnreadPort);
    (void)ReadEndpointOf(json, &problems, When::kExecuting);
    CHECK(problems == Lines{R"(arguments.port: must be an integer, got "{v.port}")"});
  }
}

TEST_CASE("ReadPayload: hex or text, exactly one", "[unit]") {
  Lines problems;
  SECTION("hex digits of either case") {
    CHECK(ReadPayloadOf(R"({"hex": "48690a"})", &problems) == "Hi\n");
    CHECK(problems.empty());
    CHECK(ReadPayloadOf(R"({"hex": "DEADbeef00"})", &problems) ==
          std::string("\xde\xad\xbe\xef\x00", 5));
    CHECK(problems.empty());
    CHECK(ReadPayloadOf(R"({"hex": ""})", &problems).empty());
    CHECK(problems.empty());
  }
  SECTION("text, NUL bytes included") {
    CHECK(ReadPayloadOf(R"({"text": "hello"})", &problems) == "hello");
    CHECK(problems.empty());
    CHECK(ReadPayloadOf(R"({"text": "a\u0000b"})", &problems) == std::string("a\0b", 3));
    CHECK(problems.empty());
    CHECK(ReadPayloadOf(R"({"text": ""})", &problems).empty());
    CHECK(problems.empty());
  }
  SECTION("a leading \\{ of text is the escape of a literal brace") {
    CHECK(ReadPayloadOf(R"({"text": "\\{\"a\":1}"})", &problems) == R"({"a":1})");
    CHECK(problems.empty());
    // Only at the start, and only before a brace.
    CHECK(ReadPayloadOf(R"({"text": "x\\{y}"})", &problems) == R"(x\{y})");
    CHECK(ReadPayloadOf(R"({"text": "\\n"})", &problems) == R"(\n)");
    CHECK(problems.empty());
  }
  SECTION("both, or neither: a problem about the arguments themselves") {
    CHECK(ReadPayloadOf(R"({"hex": "00", "text": "a"})", &problems) == kUnreadBytes);
    CHECK(problems == Lines{R"(arguments: must not have both "hex" and "text")"});
    CHECK(ReadPayloadOf("{}", &problems) == kUnreadBytes);
    CHECK(problems == Lines{R"(arguments: needs "hex" or "text")"});
    CHECK(ReadPayloadOf(R"({"hex": null, "text": null})", &problems) == kUnreadBytes);
    CHECK(problems == Lines{R"(arguments: needs "hex" or "text")"});
  }
  SECTION("a null one is not given") {
    CHECK(ReadPayloadOf(R"({"hex": null, "text": "a"})", &problems) == "a");
    CHECK(problems.empty());
    CHECK(ReadPayloadOf(R"({"hex": "61", "text": null})", &problems) == "a");
    CHECK(problems.empty());
  }
  SECTION("hex that is not an even number of hex digits, and wrong types") {
    const char* cases[][2] = {
        {R"({"hex": "abc"})", R"(arguments.hex: must be an even number of hex digits, got "abc")"},
        {R"({"hex": "0g"})", R"(arguments.hex: must be an even number of hex digits, got "0g")"},
        {R"({"hex": "0x10"})",
         R"(arguments.hex: must be an even number of hex digits, got "0x10")"},
        {R"({"hex": "00 11"})",
         R"(arguments.hex: must be an even number of hex digits, got "00 11")"},
        {R"({"hex": 10})", "arguments.hex: must be a string, got 10"},
        {R"({"text": 10})", "arguments.text: must be a string, got 10"},
        {R"({"text": ["a"]})", "arguments.text: must be a string, got an array"},
    };
    for (auto& c : cases) {
      INFO(c[0]);
      CHECK(ReadPayloadOf(c[0], &problems) == kUnreadBytes);
      CHECK(problems == Lines{c[1]});
    }
  }
  SECTION("expressions are passed over at ExecuteTest and read as given when executing") {
    CHECK(ReadPayloadOf(R"({"text": "{v.body}"})", &problems) == kUnreadBytes);
    CHECK(problems.empty());
    CHECK(ReadPayloadOf(R"({"hex": "{v.hex}"})", &problems) == kUnreadBytes);
    CHECK(problems.empty());
    // Whether both are given does not wait for their values.
    CHECK(ReadPayloadOf(R"({"hex": "{v.hex}", "text": "{v.body}"})", &problems) == kUnreadBytes);
    CHECK(problems == Lines{R"(arguments: must not have both "hex" and "text")"});

    CHECK(ReadPayloadOf(R"({"text": "{v.body}"})", &problems, When::kExecuting) == "{v.body}");
    CHECK(problems.empty());
    CHECK(ReadPayloadOf(R"({"hex": "{v.hex}"})", &problems, When::kExecuting) == kUnreadBytes);
    CHECK(problems ==
          Lines{R"(arguments.hex: must be an even number of hex digits, got "{v.hex}")"});
  }
}

TEST_CASE("ReadPayload: text an expression produced is sent as it is", "[unit]") {
  // When the op executes, its values are evaluated: the definition's `\{` escapes are
  // resolved already, so a leading `\{` left in a value is the expression's own result
  // (e.g. "{'\\\\{' .. v.x}") and must not lose its backslash a second time.
  Lines problems;
  CHECK(ReadPayloadOf(R"({"text": "\\{x}"})", &problems, When::kExecuting) == R"(\{x})");
  CHECK(problems.empty());
}

TEST_CASE("CheckMessageExpect: members and their types", "[unit]") {
  SECTION("all four, well formed") {
    CHECK(ExpectProblems(R"({"hex": "0aFF", "text": "x", "contains": "y",
                            "pattern": "^%d+$"})")
              .empty());
    CHECK(ExpectProblems("{}").empty());
    CHECK(ExpectProblems(R"({"hex": null, "text": null, "contains": null, "pattern": null})")
              .empty());
  }
  SECTION("unknown members") {
    CHECK(ExpectProblems(R"({"length": 3, "text": "x", "regex": "a"})") ==
          Lines{"expect.length: is unknown", "expect.regex: is unknown"});
  }
  SECTION("each must be a string") {
    CHECK(ExpectProblems(R"({"hex": 10, "text": 5, "contains": [], "pattern": true})") ==
          Lines{"expect.hex: must be a string, got 10", "expect.text: must be a string, got 5",
                "expect.contains: must be a string, got an empty array",
                "expect.pattern: must be a string, got true"});
  }
  SECTION("hex: an even number of hex digits") {
    CHECK(ExpectProblems(R"({"hex": "abc"})") ==
          Lines{R"(expect.hex: must be an even number of hex digits, got "abc")"});
    CHECK(ExpectProblems(R"({"hex": "zz"})") ==
          Lines{R"(expect.hex: must be an even number of hex digits, got "zz")"});
    CHECK(ExpectProblems(R"({"hex": ""})").empty());
  }
  SECTION("an expect that is not an object: its owner reports it, the reader nothing") {
    CHECK(ExpectProblems(R"("text")").empty());
    CHECK(ExpectProblems("[1]").empty());
    CHECK(ExpectProblems("null").empty());
  }
  SECTION("expressions are passed over at ExecuteTest and read as text when executing") {
    const char* json = R"({"hex": "{v.hex}", "text": "{v.t}", "contains": "{v.c}",
                          "pattern": "{(}"})";
    CHECK(ExpectProblems(json).empty());
    CHECK(ExpectProblems(json, When::kExecuting) ==
          Lines{R"(expect.hex: must be an even number of hex digits, got "{v.hex}")",
                R"(expect.pattern: is not a valid Lua pattern: unfinished capture, got "{(}")"});
  }
}

TEST_CASE("CheckMessageExpect: pattern syntax errors in Lua's words", "[unit]") {
  // Each text is also checked against the Lua that runs the match, on a subject that takes
  // the matcher to the fault (Lua reports a pattern's faults only when it reaches them).
  const char* cases[][2] = {
      {"[a", "malformed pattern (missing ']')"},
      {"x[%a", "malformed pattern (missing ']')"},
      {"(a", "unfinished capture"},
      {"((a)", "unfinished capture"},
      {"(a))", "invalid pattern capture"},
      {"a%", "malformed pattern (ends with '%')"},
      {"%fx", "missing '[' after '%f' in pattern"},
      {"%b(", "malformed pattern (missing arguments to '%b')"},
      {"%1", "invalid capture index %1"},
  };
  for (auto& c : cases) {
    INFO(c[0]);
    CHECK(LuaFindError("xa", c[0]) == c[1]);
    CHECK(ExpectProblems(std::string(R"({"pattern": ")") + c[0] + "\"}") ==
          Lines{std::string("expect.pattern: is not a valid Lua pattern: ") + c[1] + ", got " +
                QuoteText(c[0])});
  }
  SECTION("more than Lua's 32 captures") {
    std::string many;
    for (int k = 0; k < 33; ++k) many += "()";
    CHECK(LuaFindError("", many) == "too many captures");
    CHECK(ExpectProblems(R"({"pattern": ")" + many + "\"}") ==
          Lines{"expect.pattern: is not a valid Lua pattern: too many captures, got \"" +
                many.substr(0, 60) + "...\""});
  }
  SECTION("a leading \\{ escapes a brace: the problem quotes the value without it") {
    CHECK(ExpectProblems(R"({"pattern": "\\{%d+}"})").empty());
    CHECK(ExpectProblems(R"({"pattern": "\\{("})") ==
          Lines{R"(expect.pattern: is not a valid Lua pattern: unfinished capture, got "{(")"});
  }
}

}  // namespace
}  // namespace testrund::ops
