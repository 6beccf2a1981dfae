// SPDX-License-Identifier: Apache-2.0
// ReadReporters (ops/report/reporter_spec.h): ExecuteTest's `reporters` read from params as
// a client sends them — the defaults, every member read, and every wrong value with the
// exact field and problem text a client would see in the -32602 answer, all problems of
// one definition at once.
#include "ops/report/reporter_spec.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "ops/base/param_reader.h"
#include "ops/base/problem.h"
#include "ops/report/webhook_allow.h"

using testrund::ops::ParamReader;
using testrund::ops::ReadReporters;
using testrund::ops::ReporterSpec;
using testrund::ops::ReporterType;
using testrund::ops::ReportEvent;
using testrund::ops::WebhookAllowList;

namespace {

using Lines = std::vector<std::string>;

// ReadReporters over the params `json`; its problems as "field problem" lines.
struct Read {
  explicit Read(const std::string& json, const WebhookAllowList& allow = WebhookAllowList()) {
    INFO(json);
    REQUIRE_FALSE(params.Parse(json.c_str()).HasParseError());
    ParamReader p(params);
    reporters = ReadReporters(p, allow);
    for (const auto& problem : p.problems()) problems.push_back(problem.Text());
  }
  rapidjson::Document params;
  std::vector<ReporterSpec> reporters;
  Lines problems;
};

// The problems of params holding `entry` as their only reporter.
Lines ProblemsOf(const std::string& entry) {
  return Read(R"({"reporters": [)" + entry + "]}").problems;
}

// The problems of a webhook reporter to the default URL with `members` added.
Lines ProblemsWith(const std::string& members) {
  return ProblemsOf(R"({"type": "webhook", "url": "http://127.0.0.1:8080/hook", )" + members + "}");
}

}  // namespace

TEST_CASE("the issue's example and the defaults", "[unit]") {
  Read r(R"({"reporters": [
      {"type": "webhook", "url": "http://127.0.0.1:8080/hook", "on": ["final", "repetition"],
       "headers": {"X-Team": "core"}, "timeout": 5, "include_logs": false},
      {"type": "webhook", "url": "https://LOCALHOST/h?x=1"}]})");
  REQUIRE(r.problems.empty());
  REQUIRE(r.reporters.size() == 2);

  const ReporterSpec& a = r.reporters[0];
  CHECK(a.type == ReporterType::kWebhook);
  CHECK(a.url.scheme == "http");
  CHECK(a.url.host == "127.0.0.1");
  CHECK(a.url.port == 8080);
  CHECK(a.url.target == "/hook");
  CHECK(a.on_final);
  CHECK(a.on_repetition);
  CHECK(a.On(ReportEvent::kFinal));
  CHECK(a.On(ReportEvent::kRepetition));
  CHECK(a.headers == testrund::ops::HeaderList{{"X-Team", "core"}});
  CHECK(a.timeout == 5);
  CHECK_FALSE(a.include_logs);

  const ReporterSpec& b = r.reporters[1];
  CHECK(b.url.scheme == "https");
  CHECK(b.url.port == 443);
  CHECK(b.url.target == "/h?x=1");
  CHECK(b.on_final);  // `on` defaults to ["final"]
  CHECK_FALSE(b.on_repetition);
  CHECK(b.headers.empty());
  CHECK(b.timeout == ReporterSpec::kDefaultTimeout);
  CHECK(b.timeout == 5);
  CHECK_FALSE(b.include_logs);
  CHECK(b.tls.verify);
  CHECK(b.tls.ca_file.empty());
  CHECK(b.tls.server_name.empty());
}

TEST_CASE("every member read", "[unit]") {
  Read r(R"({"reporters": [{"type": "webhook", "url": "https://[::1]:9443/r",
      "on": ["repetition"], "headers": {"Authorization": "Bearer t", "x-empty": ""},
      "timeout": "0.5", "include_logs": true,
      "tls": {"verify": false, "ca_file": "/etc/ca.pem", "server_name": "hooks.test"}}]})");
  REQUIRE(r.problems.empty());
  REQUIRE(r.reporters.size() == 1);
  const ReporterSpec& s = r.reporters[0];
  CHECK(s.url.host == "::1");
  CHECK(s.url.port == 9443);
  CHECK_FALSE(s.on_final);
  CHECK(s.on_repetition);
  CHECK(s.headers == testrund::ops::HeaderList{{"Authorization", "Bearer t"}, {"x-empty", ""}});
  CHECK(s.timeout == 0.5);
  CHECK(s.include_logs);
  CHECK_FALSE(s.tls.verify);
  CHECK(s.tls.ca_file == "/etc/ca.pem");
  CHECK(s.tls.server_name == "hooks.test");
}

TEST_CASE("absent, null or empty: no reporters", "[unit]") {
  for (const char* json : {"{}", R"({"reporters": null})", R"({"reporters": []})"}) {
    Read r(json);
    CHECK(r.problems.empty());
    CHECK(r.reporters.empty());
  }
}

TEST_CASE("reporters: the array and its entries", "[unit]") {
  CHECK(Read(R"({"reporters": {"type": "webhook"}})").problems ==
        Lines{"reporters must be an array, got an object"});
  CHECK(Read(R"({"reporters": "http://127.0.0.1/"})").problems ==
        Lines{"reporters must be an array, got \"http://127.0.0.1/\""});

  std::string nine = R"({"reporters": [)";
  for (int i = 0; i < 9; ++i) {
    nine += std::string(i ? "," : "") + R"({"type": "webhook", "url": "http://127.0.0.1/"})";
  }
  CHECK(Read(nine + "]}").problems == Lines{"reporters has 9 entries, more than the limit of 8"});

  Read r(R"({"reporters": [3, {"type": "webhook", "url": "http://127.0.0.1/"}, [], null]})");
  CHECK(r.problems == Lines{"reporters[0] must be an object, got 3",
                            "reporters[2] must be an object, got an empty array",
                            "reporters[3] must be an object, got null"});
  CHECK(r.reporters.size() == 1);
}

TEST_CASE("type", "[unit]") {
  CHECK(ProblemsOf(R"({"url": "http://127.0.0.1/"})") == Lines{"reporters[0].type is required"});
  CHECK(ProblemsOf(R"({"type": "email", "url": "http://127.0.0.1/"})") ==
        Lines{"reporters[0].type must be \"webhook\", got \"email\""});
  CHECK(ProblemsOf(R"({"type": 1})") == Lines{"reporters[0].type must be a string, got 1"});
  // The other members mean nothing for an unknown type: only the type is reported.
  CHECK(ProblemsOf(R"({"type": "Webhook", "url": 7, "bogus": 1})") ==
        Lines{"reporters[0].type must be \"webhook\", got \"Webhook\""});
}

TEST_CASE("url", "[unit]") {
  const std::string kUrl = "reporters[0].url ";
  const std::string kRule = kUrl + "must be an http:// or https:// URL: ";
  CHECK(ProblemsOf(R"({"type": "webhook"})") == Lines{kUrl + "is required"});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": null})") == Lines{kUrl + "is required"});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": 80})") ==
        Lines{kUrl + "must be a string, got 80"});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": ""})") == Lines{kRule + "not a URL, got \"\""});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": "ftp://127.0.0.1/x"})") ==
        Lines{kRule + "unknown scheme \"ftp\", got \"ftp://127.0.0.1/x\""});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": "tcp://127.0.0.1:9"})") ==
        Lines{kRule + "unknown scheme \"tcp\", got \"tcp://127.0.0.1:9\""});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": "http://:80/"})") ==
        Lines{kRule + "no host, got \"http://:80/\""});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": "http://127.0.0.1:0/"})") ==
        Lines{kRule + "port 0 out of range (1-65535), got \"http://127.0.0.1:0/\""});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": "http://u:p@127.0.0.1/"})") ==
        Lines{kRule + "user info is not supported, got \"http://u:p@127.0.0.1/\""});
}

TEST_CASE("url: the host must be in webhook_allow", "[unit]") {
  const std::string kUrl = "reporters[0].url ";
  CHECK(ProblemsOf(R"({"type": "webhook", "url": "http://169.254.169.254/latest"})") ==
        Lines{kUrl + "host \"169.254.169.254\" is not in webhook_allow"});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": "https://hooks.example.com/x"})") ==
        Lines{kUrl + "host \"hooks.example.com\" is not in webhook_allow"});
  CHECK(ProblemsOf(R"({"type": "webhook", "url": "http://[fd00::1]:8080/"})") ==
        Lines{kUrl + "host \"fd00::1\" is not in webhook_allow"});

  auto allow = WebhookAllowList::Parse("10.0.0.0/8 hooks.example.com");
  REQUIRE(allow.ok());
  Read ok(R"({"reporters": [{"type": "webhook", "url": "http://10.1.2.3/"},
                            {"type": "webhook", "url": "https://HOOKS.example.com/x"}]})",
          allow.value());
  CHECK(ok.problems.empty());
  CHECK(ok.reporters.size() == 2);
  Read refused(R"({"reporters": [{"type": "webhook", "url": "http://127.0.0.1/"}]})",
               allow.value());
  CHECK(refused.problems == Lines{kUrl + "host \"127.0.0.1\" is not in webhook_allow"});
  CHECK(refused.reporters.empty());

  auto nowhere = WebhookAllowList::Parse("");
  REQUIRE(nowhere.ok());
  CHECK(Read(R"({"reporters": [{"type": "webhook", "url": "http://localhost/"}]})", nowhere.value())
            .problems == Lines{kUrl + "host \"localhost\" is not in webhook_allow"});
}

TEST_CASE("on", "[unit]") {
  CHECK(ProblemsWith(R"("on": "final")") ==
        Lines{"reporters[0].on must be an array, got \"final\""});
  CHECK(ProblemsWith(R"("on": [])") ==
        Lines{"reporters[0].on must hold \"final\", \"repetition\" or both, got an empty array"});
  CHECK(ProblemsWith(R"("on": ["final", "start", 3, "repetition", "final", "repetition"])") ==
        Lines{"reporters[0].on[1] must be \"final\" or \"repetition\", got \"start\"",
              "reporters[0].on[2] must be \"final\" or \"repetition\", got 3",
              "reporters[0].on[4] repeats \"final\"", "reporters[0].on[5] repeats \"repetition\""});
  CHECK(ProblemsWith(R"("on": ["Final"])") ==
        Lines{"reporters[0].on[0] must be \"final\" or \"repetition\", got \"Final\""});
  Read null_on(R"({"reporters": [{"type": "webhook", "url": "http://127.0.0.1/", "on": null}]})");
  REQUIRE(null_on.reporters.size() == 1);
  CHECK(null_on.reporters[0].on_final);
  CHECK_FALSE(null_on.reporters[0].on_repetition);
}

TEST_CASE("headers", "[unit]") {
  const std::string kH = "reporters[0].headers.";
  CHECK(ProblemsWith(R"("headers": ["X-A: 1"])") ==
        Lines{"reporters[0].headers must be an object, got an array"});
  CHECK(ProblemsWith(R"("headers": {"Host": "evil", "content-length": "0",
                                    "Transfer-Encoding": "chunked", "X-Ok": "1"})") ==
        Lines{kH + "Host may not be set: the daemon writes it",
              kH + "content-length may not be set: the daemon writes it",
              kH + "Transfer-Encoding may not be set: the body has a Content-Length"});
  CHECK(ProblemsWith(R"("headers": {"X-A": 1, "X-B": null, "X-C": true, "X-D": {}})") ==
        Lines{kH + "X-A must be a string, got 1", kH + "X-B must be a string, got null",
              kH + "X-C must be a string, got true",
              kH + "X-D must be a string, got an empty object"});
  CHECK(ProblemsWith(R"("headers": {"X-A": "a\r\nInjected: 1", "X-B": "b\n", "X-C": "c\u0000"})") ==
        Lines{kH + "X-A must not contain CR, LF or NUL", kH + "X-B must not contain CR, LF or NUL",
              kH + "X-C must not contain CR, LF or NUL"});
  CHECK(ProblemsWith(
            R"("headers": {"X-A\r\nInjected": "1", "Bad Name": "1", "": "1", "a:b": "1"})") ==
        Lines{kH + "X-A\r\nInjected is not an HTTP token (a header name)",
              kH + "Bad Name is not an HTTP token (a header name)",
              "reporters[0].headers has an empty header name",
              kH + "a:b is not an HTTP token (a header name)"});
  // Content-Type may be set: it replaces application/json.
  Read typed(R"({"reporters": [{"type": "webhook", "url": "http://127.0.0.1/",
                                "headers": {"Content-Type": "application/vnd.x+json"}}]})");
  CHECK(typed.problems.empty());
}

TEST_CASE("timeout, include_logs, tls and unknown members", "[unit]") {
  const std::string kR = "reporters[0].";
  CHECK(ProblemsWith(R"("timeout": 0)") ==
        Lines{kR + "timeout must be greater than 0 and at most 60, got 0"});
  CHECK(ProblemsWith(R"("timeout": -1)") ==
        Lines{kR + "timeout must be greater than 0 and at most 60, got -1"});
  CHECK(ProblemsWith(R"("timeout": 60.5)") ==
        Lines{kR + "timeout must be greater than 0 and at most 60, got 60.5"});
  CHECK(ProblemsWith(R"("timeout": "soon")") ==
        Lines{kR + "timeout must be a number of seconds, got \"soon\""});
  CHECK(ProblemsWith(R"("timeout": 60)").empty());
  CHECK(ProblemsWith(R"("include_logs": 1)") ==
        Lines{kR + "include_logs must be true or false, got 1"});
  CHECK(ProblemsWith(R"("include_logs": "true")") ==
        Lines{kR + "include_logs must be true or false, got \"true\""});
  CHECK(ProblemsWith(R"("tls": true)") == Lines{kR + "tls must be an object, got true"});
  CHECK(ProblemsWith(R"("tls": {"verify": "no", "ca_file": 3, "server_name": [], "sni": "x"})") ==
        Lines{kR + "tls.sni is unknown", kR + "tls.verify must be true or false, got \"no\"",
              kR + "tls.ca_file must be a string, got 3",
              kR + "tls.server_name must be a string, got an empty array"});
  CHECK(ProblemsWith(R"("method": "PUT", "retries": 9)") ==
        Lines{kR + "method is unknown", kR + "retries is unknown"});
}

TEST_CASE("every problem of every entry at once; entries with problems are left out", "[unit]") {
  Read r(R"({"reporters": [
      {"type": "webhook", "url": "http://example.com/", "on": [], "timeout": 0, "x": 1},
      {"type": "webhook", "url": "http://127.0.0.1/ok"},
      {"type": "webhook", "url": "http://127.0.0.1/", "headers": {"Host": "h"}}]})");
  CHECK(r.problems ==
        Lines{"reporters[0].x is unknown",
              "reporters[0].url host \"example.com\" is not in webhook_allow",
              "reporters[0].on must hold \"final\", \"repetition\" or both, got an empty array",
              "reporters[0].timeout must be greater than 0 and at most 60, got 0",
              "reporters[2].headers.Host may not be set: the daemon writes it"});
  REQUIRE(r.reporters.size() == 1);
  CHECK(r.reporters[0].url.target == "/ok");
}
