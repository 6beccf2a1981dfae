// SPDX-License-Identifier: Apache-2.0
// The arguments http and jsonrpc share (ops/protocol/http_args.h), read in process: the HTTP
// token rule, HasHeader, and ReadHttpTarget's `url` (http only, or tcp:// and tls:// too),
// `timeout` (default and bounds), `tls` (true, false or an object) and `headers` (token
// names, string or number values without CR, LF or NUL). Each reader runs as ExecuteTest runs it,
// where `{...}` values are passed over, and as the executing op runs it on the values
// produced; the tests assert the exact problems (op, field, text) a client would see.
#include "ops/protocol/http_args.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/clock.h"
#include "ops/base/param_reader.h"
#include "ops/base/problem.h"
#include "test/unit/op_part_reader.h"

namespace testrund::ops {
namespace {

using test::Arguments;
using test::Lines;
using test::When;

// ReadHttpTarget over `args`.
HttpTarget Read(Arguments& args, bool allow_tcp = false) {
  HttpTarget target;
  ReadHttpTarget(args.reader(), allow_tcp, &target);
  return target;
}

// The only problem ReadHttpTarget records for `json` (the arguments of an http op, or of a
// jsonrpc op when `allow_tcp`).
std::string OnlyProblem(std::string_view json, bool allow_tcp = false,
                        When when = When::kValidating) {
  INFO(json);
  Arguments args(json, when);
  (void)Read(args, allow_tcp);
  Lines problems = args.Problems();
  REQUIRE(problems.size() == 1);
  return problems[0];
}

TEST_CASE("IsHttpToken: one or more tchar", "[unit]") {
  for (std::string_view token : {"GET", "X-Request-Id", "a", "0", "x-1.2_3", "!#$%&'*+-.^_`|~"}) {
    INFO(token);
    CHECK(IsHttpToken(token));
  }
  CHECK_FALSE(IsHttpToken(""));
  // Every delimiter, space, control and non-ASCII byte breaks a token, wherever it stands.
  std::string breakers = "\"(),/:;<=>?@[\\]{} \x7f\x80\xc3\xff";
  for (int c = 0; c < 0x20; ++c) breakers += static_cast<char>(c);
  for (char c : breakers) {
    INFO("byte " << static_cast<int>(static_cast<unsigned char>(c)));
    CHECK_FALSE(IsHttpToken(std::string(1, c)));
    CHECK_FALSE(IsHttpToken(std::string("X-") + c + "Id"));
  }
}

TEST_CASE("HasHeader: the whole name, in any case", "[unit]") {
  HeaderList headers = {{"Content-Type", "text/plain"}, {"X-ID", "7"}, {"authorization", "t"}};
  CHECK(HasHeader(headers, "content-type"));
  CHECK(HasHeader(headers, "x-id"));
  CHECK(HasHeader(headers, "authorization"));
  CHECK_FALSE(HasHeader(headers, "content-typ"));
  CHECK_FALSE(HasHeader(headers, "content-type-x"));
  CHECK_FALSE(HasHeader(headers, "content_type"));
  CHECK_FALSE(HasHeader(headers, "text/plain"));  // values are not names
  CHECK_FALSE(HasHeader(headers, "host"));
  CHECK_FALSE(HasHeader(HeaderList{}, "host"));
}

TEST_CASE("ReadHttpTarget: url", "[unit]") {
  // The rule the family's URLs follow, then ParseUrl's sentence (ops/net/url.h).
  const std::string kHttpOnly = "arguments.url: must be an http:// or https:// URL: ";
  const std::string kAnyScheme =
      "arguments.url: must be an http://, https://, tcp:// or tls:// URL: ";
  SECTION("http and https, with their default ports") {
    Arguments args(R"({"url": "http://example.com/a?b=1"})");
    HttpTarget t = Read(args);
    CHECK(args.Problems().empty());
    CHECK(t.url_text == "http://example.com/a?b=1");
    CHECK(t.url.scheme == "http");
    CHECK(t.url.host == "example.com");
    CHECK(t.url.port == 80);
    CHECK(t.url.target == "/a?b=1");

    Arguments secure(R"({"url": "https://[::1]"})");
    HttpTarget s = Read(secure);
    CHECK(secure.Problems().empty());
    CHECK(s.url.scheme == "https");
    CHECK(s.url.host == "::1");
    CHECK(s.url.port == 443);
    CHECK(s.url.target == "/");
  }
  SECTION("required; null is not given") {
    CHECK(OnlyProblem("{}") == "arguments.url: is required");
    CHECK(OnlyProblem(R"({"url": null})") == "arguments.url: is required");
    CHECK(OnlyProblem(R"({"url": null})", true) == "arguments.url: is required");
  }
  SECTION("a string") {
    CHECK(OnlyProblem(R"({"url": 80})") == "arguments.url: must be a string, got 80");
    CHECK(OnlyProblem(R"({"url": {"host": "h"}})") ==
          "arguments.url: must be a string, got an object");
  }
  SECTION("http:// and https:// only, unless allow_tcp") {
    const char* cases[][2] = {
        {R"({"url": "tcp://127.0.0.1:7000"})",
         R"(unknown scheme "tcp", got "tcp://127.0.0.1:7000")"},
        {R"({"url": "tls://127.0.0.1:7000"})",
         R"(unknown scheme "tls", got "tls://127.0.0.1:7000")"},
        {R"({"url": "ftp://h/f"})", R"(unknown scheme "ftp", got "ftp://h/f")"},
        {R"({"url": ""})", R"(not a URL, got "")"},
        {R"({"url": "http://u:p@h/"})", R"(user info is not supported, got "http://u:p@h/")"},
        {R"({"url": "http://h:0/"})", R"(port 0 out of range (1-65535), got "http://h:0/")"},
    };
    for (auto& c : cases) CHECK(OnlyProblem(c[0]) == kHttpOnly + c[1]);
  }
  SECTION("tcp:// and tls:// too with allow_tcp, whole URLs without a path") {
    Arguments plain(R"({"url": "tcp://127.0.0.1:7000"})");
    HttpTarget t = Read(plain, true);
    CHECK(plain.Problems().empty());
    CHECK(t.url.scheme == "tcp");
    CHECK(t.url.host == "127.0.0.1");
    CHECK(t.url.port == 7000);
    CHECK(t.url.framed());
    CHECK_FALSE(t.url.tls());

    Arguments secure(R"({"url": "tls://h:7001"})");
    HttpTarget s = Read(secure, true);
    CHECK(secure.Problems().empty());
    CHECK(s.url.scheme == "tls");
    CHECK(s.url.tls());

    Arguments http(R"({"url": "http://h/x"})");
    CHECK(Read(http, true).url.target == "/x");
    CHECK(http.Problems().empty());

    CHECK(OnlyProblem(R"({"url": "tcp://h"})", true) ==
          kAnyScheme + R"(tcp:// needs a port, got "tcp://h")");
    CHECK(OnlyProblem(R"({"url": "tls://h:1/x"})", true) ==
          kAnyScheme + R"(tls:// takes no path, got "tls://h:1/x")");
    CHECK(OnlyProblem(R"({"url": "ftp://h/f"})", true) ==
          kAnyScheme + R"(unknown scheme "ftp", got "ftp://h/f")");
  }
  SECTION("an expression is passed over at ExecuteTest and read as text when executing") {
    Arguments args(R"({"url": "{v.url}"})");
    HttpTarget t = Read(args);
    CHECK(args.Problems().empty());
    CHECK(t.url_text.empty());
    CHECK(t.url.scheme.empty());

    CHECK(OnlyProblem(R"({"url": "{v.url}"})", false, When::kExecuting) ==
          kHttpOnly + R"(not a URL, got "{v.url}")");
  }
}

TEST_CASE("ReadHttpTarget: timeout", "[unit]") {
  SECTION("10 seconds when absent or null") {
    for (const char* json :
         {R"({"url": "http://h/"})", R"({"url": "http://h/", "timeout": null})"}) {
      Arguments args(json);
      HttpTarget t = Read(args);
      CHECK(args.Problems().empty());
      CHECK(t.timeout == 10 * kNsPerSecond);
      CHECK(t.timeout_text == "10");
    }
  }
  SECTION("seconds as a number or a decimal string, up to an hour") {
    struct Case {
      const char* json;
      MonoNs timeout;
      const char* text;
    };
    const Case cases[] = {
        {R"({"url": "http://h/", "timeout": 0.5})", 500'000'000, "0.5"},
        {R"({"url": "http://h/", "timeout": "2"})", 2 * kNsPerSecond, "2"},
        {R"({"url": "http://h/", "timeout": 3600})", 3600 * kNsPerSecond, "3600"},
        // Never a zero timeout: the shortest one is a nanosecond.
        {R"({"url": "http://h/", "timeout": 1e-12})", 1, "1e-12"},
    };
    for (const Case& c : cases) {
      INFO(c.json);
      Arguments args(c.json);
      HttpTarget t = Read(args);
      CHECK(args.Problems().empty());
      CHECK(t.timeout == c.timeout);
      CHECK(t.timeout_text == c.text);
    }
  }
  SECTION("out of range or not a number: a problem, and no timeout") {
    const char* cases[][2] = {
        {R"({"url": "http://h/", "timeout": 0})",
         "arguments.timeout: must be greater than 0 and at most 3600, got 0"},
        {R"({"url": "http://h/", "timeout": -1})",
         "arguments.timeout: must be greater than 0 and at most 3600, got -1"},
        {R"({"url": "http://h/", "timeout": 3600.5})",
         "arguments.timeout: must be greater than 0 and at most 3600, got 3600.5"},
        {R"({"url": "http://h/", "timeout": "0"})",
         R"(arguments.timeout: must be greater than 0 and at most 3600, got "0")"},
        {R"({"url": "http://h/", "timeout": "x"})",
         R"(arguments.timeout: must be a number of seconds, got "x")"},
        {R"({"url": "http://h/", "timeout": "inf"})",
         R"(arguments.timeout: must be a number of seconds, got "inf")"},
        {R"({"url": "http://h/", "timeout": true})",
         "arguments.timeout: must be a number of seconds, got true"},
    };
    for (auto& c : cases) {
      INFO(c[0]);
      Arguments args(c[0]);
      HttpTarget t = Read(args);
      CHECK(args.Problems() == Lines{c[1]});
      CHECK(t.timeout == 0);
      CHECK(t.timeout_text.empty());
    }
  }
  SECTION("an expression is passed over at ExecuteTest and refused as text when executing") {
    Arguments args(R"({"url": "http://h/", "timeout": "{v.t}"})");
    HttpTarget t = Read(args);
    CHECK(args.Problems().empty());
    CHECK(t.timeout == 0);

    CHECK(OnlyProblem(R"({"url": "http://h/", "timeout": "{v.t}"})", false, When::kExecuting) ==
          R"(arguments.timeout: must be a number of seconds, got "{v.t}")");
  }
}

// The problem of a `tls` that is none of its three forms.
constexpr std::string_view kTlsForms =
    R"(must be true, false or an object {"verify", "ca_file", "server_name"})";

TEST_CASE("ReadHttpTarget: tls", "[unit]") {
  SECTION("absent, true or false: the defaults (the URL's scheme says whether)") {
    for (const char* json :
         {R"({"url": "https://h/"})", R"({"url": "https://h/", "tls": true})",
          R"({"url": "https://h/", "tls": false})", R"({"url": "http://h/", "tls": true})"}) {
      INFO(json);
      Arguments args(json);
      HttpTarget t = Read(args);
      CHECK(args.Problems().empty());
      CHECK(t.tls.verify);
      CHECK(t.tls.ca_file.empty());
      CHECK(t.tls.server_name.empty());
    }
  }
  SECTION("an object sets how the server is checked") {
    Arguments args(R"({"url": "https://h/", "tls": {"verify": false, "ca_file": "/etc/ca.pem",
                      "server_name": "api.test"}})");
    HttpTarget t = Read(args);
    CHECK(args.Problems().empty());
    CHECK_FALSE(t.tls.verify);
    CHECK(t.tls.ca_file == "/etc/ca.pem");
    CHECK(t.tls.server_name == "api.test");

    Arguments empty(R"({"url": "https://h/", "tls": {}})");
    HttpTarget e = Read(empty);
    CHECK(empty.Problems().empty());
    CHECK(e.tls.verify);
  }
  SECTION("a leading \\{ of ca_file and server_name is the escape of a literal brace") {
    Arguments args(R"({"url": "https://h/", "tls": {"ca_file": "\\{dir}/ca.pem",
                      "server_name": "\\{x}"}})");
    HttpTarget t = Read(args);
    CHECK(args.Problems().empty());
    CHECK(t.tls.ca_file == "{dir}/ca.pem");
    CHECK(t.tls.server_name == "{x}");
  }
  SECTION("anything else") {
    const std::string tls = "arguments.tls: " + std::string(kTlsForms);
    CHECK(OnlyProblem(R"({"url": "https://h/", "tls": "yes"})") == tls + R"(, got "yes")");
    CHECK(OnlyProblem(R"({"url": "https://h/", "tls": 1})") == tls + ", got 1");
    CHECK(OnlyProblem(R"({"url": "https://h/", "tls": []})") == tls + ", got an empty array");
  }
  SECTION("its members: unknown ones first, then each wrong one") {
    Arguments args(R"({"url": "https://h/", "tls": {"verify": "no", "ca_file": 3,
                      "server_name": false, "sni": "x"}})");
    HttpTarget t = Read(args);
    CHECK(args.Problems() == Lines{"arguments.tls.sni: is unknown",
                                   R"(arguments.tls.verify: must be true or false, got "no")",
                                   "arguments.tls.ca_file: must be a string, got 3",
                                   "arguments.tls.server_name: must be a string, got false"});
    CHECK(t.tls.verify);
    CHECK(t.tls.ca_file.empty());
    CHECK(t.tls.server_name.empty());
  }
  SECTION("expressions are passed over at ExecuteTest and read as text when executing") {
    Arguments whole(R"({"url": "https://h/", "tls": "{v.tls}"})");
    (void)Read(whole);
    CHECK(whole.Problems().empty());
    CHECK(OnlyProblem(R"({"url": "https://h/", "tls": "{v.tls}"})", false, When::kExecuting) ==
          "arguments.tls: " + std::string(kTlsForms) + R"(, got "{v.tls}")");

    const char* members = R"({"url": "https://h/", "tls": {"verify": "{v.verify}",
                             "server_name": "{v.name}"}})";
    Arguments validating(members);
    HttpTarget v = Read(validating);
    CHECK(validating.Problems().empty());
    CHECK(v.tls.verify);
    CHECK(v.tls.server_name.empty());

    Arguments executing(members, When::kExecuting);
    HttpTarget e = Read(executing);
    CHECK(executing.Problems() ==
          Lines{R"(arguments.tls.verify: must be true or false, got "{v.verify}")"});
    CHECK(e.tls.server_name == "{v.name}");
  }
}

TEST_CASE("ReadHttpTarget: headers", "[unit]") {
  SECTION("token names as given, in order; strings, and numbers as written") {
    Arguments args(R"({"url": "http://h/", "headers": {"X-Id": "7", "accept": "text/plain",
                      "X-Count": 42, "X-Ratio": 0.5, "X-Neg": -3, "X-Empty": "",
                      "X-Tab": "a\tb"}})");
    HttpTarget t = Read(args);
    CHECK(args.Problems().empty());
    CHECK(t.headers == HeaderList{{"X-Id", "7"},
                                  {"accept", "text/plain"},
                                  {"X-Count", "42"},
                                  {"X-Ratio", "0.5"},
                                  {"X-Neg", "-3"},
                                  {"X-Empty", ""},
                                  {"X-Tab", "a\tb"}});
  }
  SECTION("absent or null: none") {
    for (const char* json : {R"({"url": "http://h/"})", R"({"url": "http://h/", "headers": null})",
                             R"({"url": "http://h/", "headers": {}})"}) {
      INFO(json);
      Arguments args(json);
      CHECK(Read(args).headers.empty());
      CHECK(args.Problems().empty());
    }
  }
  SECTION("not an object") {
    CHECK(OnlyProblem(R"({"url": "http://h/", "headers": 3})") ==
          "arguments.headers: must be an object, got 3");
    CHECK(OnlyProblem(R"({"url": "http://h/", "headers": "X-Id: 7"})") ==
          R"(arguments.headers: must be an object, got "X-Id: 7")");
    CHECK(OnlyProblem(R"({"url": "http://h/", "headers": [["X-Id", "7"]]})") ==
          "arguments.headers: must be an object, got an array");
  }
  SECTION("names that are not tokens are refused, the others still read") {
    Arguments args(R"js({"url": "http://h/", "headers": {"Bad Name": "x", "X:Y": "x",
                      "caf\u00e9": "x", "ok": "1", "(c)": "x"}})js");
    HttpTarget t = Read(args);
    const std::string not_token = ": is not an HTTP token (a header name)";
    CHECK(args.Problems() ==
          Lines{"arguments.headers.Bad Name" + not_token, "arguments.headers.X:Y" + not_token,
                "arguments.headers.caf\xc3\xa9" + not_token, "arguments.headers.(c)" + not_token});
    CHECK(t.headers == HeaderList{{"ok", "1"}});
  }
  SECTION("an empty name is reported against the headers object itself") {
    // The field loses its trailing dot, as a problem about `headers` as a whole would.
    CHECK(OnlyProblem(R"({"url": "http://h/", "headers": {"": "x"}})") ==
          "arguments.headers: is not an HTTP token (a header name)");
  }
  SECTION("values with CR, LF or NUL are refused: CR and LF would end the header") {
    Arguments args(R"({"url": "http://h/", "headers": {"X-A": "a\r\nInjected: 1",
                      "X-B": "a\nb", "X-C": "a\rb", "X-Z": "a\u0000b", "X-D": "ok"}})");
    HttpTarget t = Read(args);
    CHECK(args.Problems() == Lines{"arguments.headers.X-A: must not contain CR, LF or NUL",
                                   "arguments.headers.X-B: must not contain CR, LF or NUL",
                                   "arguments.headers.X-C: must not contain CR, LF or NUL",
                                   "arguments.headers.X-Z: must not contain CR, LF or NUL"});
    CHECK(t.headers == HeaderList{{"X-D", "ok"}});
  }
  SECTION("a bad name is the one problem, whatever its value") {
    CHECK(OnlyProblem(R"({"url": "http://h/", "headers": {"Bad Name": "a\nb"}})") ==
          "arguments.headers.Bad Name: is not an HTTP token (a header name)");
    CHECK(OnlyProblem(R"({"url": "http://h/", "headers": {"Bad Name": true}})") ==
          "arguments.headers.Bad Name: is not an HTTP token (a header name)");
  }
  SECTION("values that are neither strings nor numbers") {
    Arguments args(R"({"url": "http://h/", "headers": {"X-T": true, "X-O": {}, "X-A": [1]}})");
    HttpTarget t = Read(args);
    CHECK(args.Problems() ==
          Lines{"arguments.headers.X-T: must be a string or a number, got true",
                "arguments.headers.X-O: must be a string or a number, got an empty object",
                "arguments.headers.X-A: must be a string or a number, got an array"});
    CHECK(t.headers.empty());
  }
  SECTION("a null value is not given: that header is not sent") {
    for (When when : {When::kValidating, When::kExecuting}) {
      Arguments args(R"({"url": "http://h/", "headers": {"X-N": null, "X-Id": "7"}})", when);
      CHECK(Read(args).headers == HeaderList{{"X-Id", "7"}});
      CHECK(args.Problems().empty());
    }
  }
  SECTION("expressions are passed over at ExecuteTest and sent as text when executing") {
    const char* json = R"({"url": "http://h/", "headers": {"X-Trace": "{'run-' .. instance}",
                         "X-Id": "7"}})";
    Arguments validating(json);
    CHECK(Read(validating).headers == HeaderList{{"X-Id", "7"}});
    CHECK(validating.Problems().empty());

    Arguments executing(json, When::kExecuting);
    CHECK(Read(executing).headers ==
          HeaderList{{"X-Trace", "{'run-' .. instance}"}, {"X-Id", "7"}});
    CHECK(executing.Problems().empty());

    Arguments whole(R"({"url": "http://h/", "headers": "{v.headers}"})");
    CHECK(Read(whole).headers.empty());
    CHECK(whole.Problems().empty());
    CHECK(
        OnlyProblem(R"({"url": "http://h/", "headers": "{v.headers}"})", false, When::kExecuting) ==
        R"(arguments.headers: must be an object, got "{v.headers}")");
  }
  SECTION("a name is checked even when its value is an expression") {
    CHECK(OnlyProblem(R"({"url": "http://h/", "headers": {"Bad Name": "{v.x}"}})") ==
          "arguments.headers.Bad Name: is not an HTTP token (a header name)");
  }
}

TEST_CASE("ReadHttpTarget: every problem at once, in the order of the arguments", "[unit]") {
  // One -32602 answer lists them all, so one bad attribute must not hide the next.
  Arguments args(R"({"url": 1, "timeout": 0, "tls": "on", "headers": {"a b": 1, "X-C": "\n"}})");
  HttpTarget t = Read(args, true);
  CHECK(args.Problems() ==
        Lines{"arguments.url: must be a string, got 1",
              "arguments.timeout: must be greater than 0 and at most 3600, got 0",
              "arguments.tls: " + std::string(kTlsForms) + R"(, got "on")",
              "arguments.headers.a b: is not an HTTP token (a header name)",
              "arguments.headers.X-C: must not contain CR, LF or NUL"});
  CHECK(t.url_text.empty());
  CHECK(t.headers.empty());
}

}  // namespace
}  // namespace testrund::ops
