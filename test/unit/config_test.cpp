// SPDX-License-Identifier: Apache-2.0
// Unit tests of daemon/config: defaults (docs/configuration.md#limits), every bound of the option
// table, sizes, the file syntax, error messages naming file, line and key, list keys, and flags
// overriding the file. Also checks that conf/testrund.conf documents every option with its default.
#include "daemon/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using testrund::Status;
using testrund::daemon::Action;
using testrund::daemon::ApplyConfigFile;
using testrund::daemon::ApplyConfigText;
using testrund::daemon::Config;
using testrund::daemon::DefaultConfig;
using testrund::daemon::OptionTable;
using testrund::daemon::OptionType;
using testrund::daemon::ParseCommandLine;
using testrund::daemon::ParseHostPort;
using testrund::daemon::ParseSize;

testrund::Result<testrund::daemon::Invocation> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "testrund");
  return ParseCommandLine(args);
}

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/testrund_config_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}

std::string FormatNumber(double value) {
  if (value == std::floor(value)) return std::to_string(static_cast<uint64_t>(value));
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}

}  // namespace

TEST_CASE("defaults are the documented ones", "[unit]") {
  Config c = DefaultConfig();
  CHECK(c.listen == std::vector<std::string>{"127.0.0.1:9009"});
  CHECK(c.tls_listen.empty());
  CHECK(c.token.empty());
  CHECK(c.tls_cert.empty());
  CHECK(c.results_dir.empty());
  CHECK(c.state_dir.empty());
  CHECK(c.checkpoint_interval == 10);
  CHECK(c.log_level == "info");
  CHECK(c.log_file.empty());
  CHECK(c.transport.max_body_bytes == 16u << 20);
  CHECK(c.dispatch.max_json_depth == 64);
  CHECK(c.engine.max_runs == 1000);
  CHECK(c.engine.max_instances == 2'000'000);
  CHECK(c.engine.max_operations == 10'000);
  CHECK(c.engine.lua.instruction_limit == 1'000'000);
  CHECK(c.engine.lua.memory_limit == 256u << 20);
  CHECK(c.engine.max_steps_without_wait == 100'000);
  CHECK(c.transport.max_header_bytes == 64u << 10);
  CHECK(c.transport.idle_timeout == 60);
  CHECK(c.transport.max_connections == 10'000);
  CHECK(c.engine.completed_run_retention == 0);
  CHECK(c.webhook_allow == testrund::ops::WebhookAllowList());
  CHECK(c.webhook_allow.Allows("127.0.0.1"));
  CHECK(c.webhook_allow.Allows("::1"));
  CHECK(c.webhook_allow.Allows("localhost"));
  CHECK_FALSE(c.webhook_allow.Allows("10.0.0.1"));

  auto r = Parse({});
  REQUIRE(r.ok());
  CHECK(r->action == Action::kRun);
  CHECK(r->config.listen == c.listen);
}

TEST_CASE("config maps into the engine, dispatcher and transport limits", "[unit]") {
  Config c = DefaultConfig();
  REQUIRE(ApplyConfigText("max_runs = 7\nmax_json_depth = 9\nmax_body_bytes = 1K\n"
                          "lua_memory_limit = 2M\nlua_instruction_limit = 5000\n"
                          "idle_timeout = 2.5\nmax_connections = 3\nmax_header_bytes = 2K\n"
                          "completed_run_retention = 30\nresults_dir = /tmp/r\n"
                          "max_instances = 11\nmax_operations = 12\n"
                          "max_steps_without_wait = 13\n"
                          "state_dir = /var/lib/s\ncheckpoint_interval = 2.5\n",
                          "t.conf", &c)
              .ok());
  const testrund::ops::EngineLimits& engine = c.engine;
  CHECK(engine.max_runs == 7);
  CHECK(engine.max_instances == 11);
  CHECK(engine.max_operations == 12);
  CHECK(engine.max_steps_without_wait == 13);
  CHECK(engine.lua.memory_limit == 2u << 20);
  CHECK(engine.lua.instruction_limit == 5000);
  CHECK(engine.completed_run_retention == 30);
  CHECK(c.results_dir == "/tmp/r");
  CHECK(c.state_dir == "/var/lib/s");
  CHECK(c.checkpoint_interval == 2.5);
  CHECK(c.dispatch.max_json_depth == 9);
  const testrund::daemon::TransportLimits& transport = c.transport;
  CHECK(transport.max_body_bytes == 1024);
  CHECK(transport.max_header_bytes == 2048);
  CHECK(transport.idle_timeout == 2.5);
  CHECK(transport.max_connections == 3);
}

TEST_CASE("sizes accept bytes and K/M/G suffixes", "[unit]") {
  CHECK(ParseSize("0").value() == 0);
  CHECK(ParseSize("1234").value() == 1234);
  CHECK(ParseSize("16K").value() == 16 * 1024);
  CHECK(ParseSize("16k").value() == 16 * 1024);
  CHECK(ParseSize("16M").value() == 16u << 20);
  CHECK(ParseSize("2G").value() == 2ull << 30);
  CHECK_FALSE(ParseSize("").ok());
  CHECK_FALSE(ParseSize("K").ok());
  CHECK_FALSE(ParseSize("16T").ok());
  CHECK_FALSE(ParseSize("-1").ok());
  CHECK_FALSE(ParseSize("1.5M").ok());
  CHECK_FALSE(ParseSize("99999999999999999999").ok());
  CHECK_FALSE(ParseSize("99999999999G").ok());
  CHECK(ParseSize("16Q").message() ==
        "\"16Q\" is not a size (bytes, or a number with a K, M or G suffix)");
}

TEST_CASE("every numeric option enforces its bounds", "[unit]") {
  for (const auto& spec : OptionTable()) {
    if (spec.type != OptionType::kSize && spec.type != OptionType::kCount &&
        spec.type != OptionType::kSeconds) {
      continue;
    }
    DYNAMIC_SECTION(spec.key) {
      std::string key(spec.key);
      Config c = DefaultConfig();
      CHECK(ApplyConfigText(key + " = " + FormatNumber(spec.min), "b.conf", &c).ok());
      CHECK(ApplyConfigText(key + " = " + FormatNumber(spec.max), "b.conf", &c).ok());
      if (spec.min > 0) {
        double below = spec.type == OptionType::kSeconds ? spec.min / 2 : spec.min - 1;
        Status status = ApplyConfigText(key + " = " + FormatNumber(below), "b.conf", &c);
        REQUIRE_FALSE(status.ok());
        CHECK_THAT(status.message(), Catch::StartsWith("b.conf:1: " + key + ": \"") &&
                                         Catch::Contains("is out of range"));
      }
      double above = spec.type == OptionType::kSeconds ? spec.max * 2 : spec.max + 1;
      Status status = ApplyConfigText(key + " = " + FormatNumber(above), "b.conf", &c);
      REQUIRE_FALSE(status.ok());
      CHECK_THAT(status.message(), Catch::Contains("is out of range"));
      // The flag spelling reaches the same bound.
      std::string flag = "--" + key;
      for (char& ch : flag) ch = ch == '_' ? '-' : ch;
      std::string value = FormatNumber(above);
      auto r = Parse({flag.c_str(), value.c_str()});
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(r.message(), Catch::StartsWith("command line: " + flag + ": "));
    }
  }
}

TEST_CASE("exact bounds and messages", "[unit]") {
  Config c = DefaultConfig();
  Status s = ApplyConfigText("max_json_depth = 1001", "x.conf", &c);
  CHECK(s.message() == "x.conf:1: max_json_depth: \"1001\" is out of range (1 to 1000)");
  s = ApplyConfigText("\n\n  idle_timeout = 0.05  # too short", "x.conf", &c);
  CHECK(s.message() == "x.conf:3: idle_timeout: \"0.05\" is out of range (0.1 to 86400)");
  s = ApplyConfigText("max_body_bytes = 100", "x.conf", &c);
  CHECK(s.message() == "x.conf:1: max_body_bytes: \"100\" is out of range (256 to 1073741824)");
  CHECK(ApplyConfigText("max_body_bytes = 1G", "x.conf", &c).ok());
  CHECK(c.transport.max_body_bytes == 1u << 30);
  // The count hook's budget is an int: a larger limit would silently act as 2^31 - 1.
  s = ApplyConfigText("lua_instruction_limit = 2147483648", "x.conf", &c);
  CHECK(s.message() ==
        "x.conf:1: lua_instruction_limit: \"2147483648\" is out of range (1000 to 2147483647)");
  CHECK(ApplyConfigText("lua_instruction_limit = 2147483647", "x.conf", &c).ok());
  // The results of a live run are written at least this often; at most once a second.
  s = ApplyConfigText("checkpoint_interval = 0.5", "x.conf", &c);
  CHECK(s.message() == "x.conf:1: checkpoint_interval: \"0.5\" is out of range (1 to 3600)");
  s = ApplyConfigText("checkpoint_interval = 3601", "x.conf", &c);
  CHECK(s.message() == "x.conf:1: checkpoint_interval: \"3601\" is out of range (1 to 3600)");
  s = ApplyConfigText("checkpoint_interval = often", "x.conf", &c);
  CHECK(s.message() == "x.conf:1: checkpoint_interval: \"often\" is not a number of seconds");
  CHECK(Parse({"--checkpoint-interval", "0"}).message() ==
        "command line: --checkpoint-interval: \"0\" is out of range (1 to 3600)");
  CHECK(ApplyConfigText("checkpoint_interval = 1\ncheckpoint_interval = 3600", "x.conf", &c).ok());
  CHECK(c.checkpoint_interval == 3600);
  // A path: any text; empty turns persistence off again.
  CHECK(ApplyConfigText("state_dir = /srv/state\nstate_dir =", "x.conf", &c).ok());
  CHECK(c.state_dir.empty());
}

TEST_CASE("the file syntax: comments, spaces, quotes, underscores", "[unit]") {
  Config c = DefaultConfig();
  Status s = ApplyConfigText(
      "# a comment\n"
      "\n"
      "   max_runs=5\n"
      "max_connections = 6   # trailing comment\n"
      "log_level = \"debug\"\r\n"
      "token = abc#def:observer\n",
      "s.conf", &c);
  REQUIRE(s.ok());
  CHECK(c.engine.max_runs == 5);
  CHECK(c.transport.max_connections == 6);
  CHECK(c.log_level == "debug");
  CHECK(c.token == std::vector<std::string>{"abc#def:observer"});
}

TEST_CASE("bad lines name file, line and key", "[unit]") {
  Config c = DefaultConfig();
  SECTION("unknown key") {
    Status s = ApplyConfigText("max_runs = 1\nmax-runs = 2\n", "u.conf", &c);
    CHECK(s.message() == "u.conf:2: max-runs: unknown key");
  }
  SECTION("no equals sign") {
    Status s = ApplyConfigText("# c\nmax_runs 3\n", "u.conf", &c);
    CHECK(s.message() == "u.conf:2: max_runs 3: expected \"key = value\"");
  }
  SECTION("not a number") {
    Status s = ApplyConfigText("max_runs = many", "u.conf", &c);
    CHECK(s.message() == "u.conf:1: max_runs: \"many\" is not a non-negative integer");
  }
  SECTION("negative") { CHECK_FALSE(ApplyConfigText("max_runs = -1", "u.conf", &c).ok()); }
  SECTION("bad seconds") {
    Status s = ApplyConfigText("idle_timeout = soon", "u.conf", &c);
    CHECK(s.message() == "u.conf:1: idle_timeout: \"soon\" is not a number of seconds");
    CHECK_FALSE(ApplyConfigText("idle_timeout = nan", "u.conf", &c).ok());
    CHECK_FALSE(ApplyConfigText("idle_timeout = inf", "u.conf", &c).ok());
  }
  SECTION("bad log level") {
    Status s = ApplyConfigText("log_level = loud", "u.conf", &c);
    CHECK(s.message() ==
          "u.conf:1: log_level: \"loud\" is not a log level (error, warn, info, debug)");
  }
  SECTION("bad address") {
    Status s = ApplyConfigText("listen = localhost", "u.conf", &c);
    CHECK(s.message() == "u.conf:1: listen: \"localhost\" is not HOST:PORT (port 0-65535)");
    CHECK_FALSE(ApplyConfigText("listen = 1.2.3.4:65536", "u.conf", &c).ok());
    CHECK_FALSE(ApplyConfigText("listen = :80", "u.conf", &c).ok());
    CHECK_FALSE(ApplyConfigText("listen = ::1:80", "u.conf", &c).ok());
    CHECK(ApplyConfigText("listen = [::1]:80", "u.conf", &c).ok());
  }
  SECTION("bad token: the token itself is never quoted") {
    Status s = ApplyConfigText("token = sekrit:admin", "u.conf", &c);
    CHECK(s.message() == "u.conf:1: token: role \"admin\" is not operator or observer");
    s = ApplyConfigText("token = sekrit", "u.conf", &c);
    CHECK(s.message() == "u.conf:1: token: expected TOKEN:ROLE");
    CHECK(s.message().find("sekrit") == std::string::npos);
  }
}

TEST_CASE("host and port parsing", "[unit]") {
  auto v4 = ParseHostPort("127.0.0.1:0");
  REQUIRE(v4.ok());
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 0);
  auto v6 = ParseHostPort("[::1]:9009");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9009);
  CHECK_FALSE(ParseHostPort("[::1]9009").ok());
  CHECK_FALSE(ParseHostPort("host:port").ok());
}

TEST_CASE("repeated list keys add; the first one replaces the default", "[unit]") {
  Config c = DefaultConfig();
  REQUIRE(ApplyConfigText("listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n"
                          "token = a:operator\ntoken = b:observer\n",
                          "l.conf", &c)
              .ok());
  CHECK(c.listen == std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"});
  CHECK(c.token == std::vector<std::string>{"a:operator", "b:observer"});
  // An empty value clears the list (disables plain listening).
  REQUIRE(ApplyConfigText("listen =\n", "l.conf", &c).ok());
  CHECK(c.listen.empty());
}

TEST_CASE("flags override the file; list flags replace the file's list", "[unit]") {
  std::string path = WriteTemp(
      "listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\nmax_runs = 5\nmax_connections = 6\n"
      "token = a:operator\n");
  auto r = Parse({"--config", path.c_str(), "--max-runs", "9", "--listen", "127.0.0.1:3",
                  "--listen=127.0.0.1:4", "--log-level=debug"});
  REQUIRE(r.ok());
  CHECK(r->config.engine.max_runs == 9);
  CHECK(r->config.transport.max_connections == 6);
  CHECK(r->config.listen == std::vector<std::string>{"127.0.0.1:3", "127.0.0.1:4"});
  CHECK(r->config.token == std::vector<std::string>{"a:operator"});
  CHECK(r->config.log_level == "debug");
  CHECK(r->config.config_file == path);
  std::remove(path.c_str());
}

TEST_CASE("every option has a flag", "[unit]") {
  auto r = Parse({"--tls-listen",
                  "127.0.0.1:0",
                  "--tls-cert",
                  "c.pem",
                  "--tls-key",
                  "k.pem",
                  "--token",
                  "t:operator",
                  "--results-dir",
                  "/tmp",
                  "--state-dir",
                  "/tmp/s",
                  "--checkpoint-interval",
                  "60",
                  "--log-file",
                  "/tmp/l",
                  "--max-body-bytes",
                  "1M",
                  "--max-json-depth",
                  "3",
                  "--max-runs",
                  "4",
                  "--max-instances",
                  "5",
                  "--max-operations",
                  "6",
                  "--lua-instruction-limit",
                  "7000",
                  "--lua-memory-limit",
                  "8M",
                  "--max-steps-without-wait",
                  "9",
                  "--max-header-bytes",
                  "10K",
                  "--idle-timeout",
                  "11",
                  "--max-connections",
                  "12",
                  "--completed-run-retention",
                  "13",
                  "--webhook-allow",
                  "10.0.0.0/8,hooks.example.com"});
  REQUIRE(r.ok());
  const Config& c = r->config;
  CHECK(c.tls_listen == std::vector<std::string>{"127.0.0.1:0"});
  CHECK(c.tls_cert == "c.pem");
  CHECK(c.tls_key == "k.pem");
  CHECK(c.token == std::vector<std::string>{"t:operator"});
  CHECK(c.results_dir == "/tmp");
  CHECK(c.state_dir == "/tmp/s");
  CHECK(c.checkpoint_interval == 60);
  CHECK(c.log_file == "/tmp/l");
  CHECK(c.transport.max_body_bytes == 1u << 20);
  CHECK(c.dispatch.max_json_depth == 3);
  CHECK(c.engine.max_runs == 4);
  CHECK(c.engine.max_instances == 5);
  CHECK(c.engine.max_operations == 6);
  CHECK(c.engine.lua.instruction_limit == 7000);
  CHECK(c.engine.lua.memory_limit == 8u << 20);
  CHECK(c.engine.max_steps_without_wait == 9);
  CHECK(c.transport.max_header_bytes == 10u << 10);
  CHECK(c.transport.idle_timeout == 11);
  CHECK(c.transport.max_connections == 12);
  CHECK(c.engine.completed_run_retention == 13);
  CHECK(c.webhook_allow.Allows("10.1.2.3"));
  CHECK(c.webhook_allow.Allows("hooks.example.com"));
  CHECK_FALSE(c.webhook_allow.Allows("127.0.0.1"));
}

TEST_CASE("command-line errors and actions", "[unit]") {
  CHECK(Parse({"--nosuch", "1"}).message() ==
        "command line: --nosuch: unknown option (see --help)");
  CHECK(Parse({"--max-runs"}).message() == "command line: --max-runs: needs a value");
  CHECK(Parse({"--max-runs", "x"}).message() ==
        "command line: --max-runs: \"x\" is not a non-negative integer");
  CHECK(Parse({"--version"})->action == Action::kVersion);
  CHECK(Parse({"--help"})->action == Action::kHelp);
  CHECK(Parse({"--check-config"})->action == Action::kCheckConfig);
  auto missing = Parse({"--config", "/nonexistent/testrund.conf"});
  CHECK(missing.message() ==
        "/nonexistent/testrund.conf: cannot read config file: No such file or directory");
  std::string path = WriteTemp("max_runs = 1\nbogus = 2\n");
  CHECK(Parse({"--config", path.c_str()}).message() == path + ":2: bogus: unknown key");
  std::remove(path.c_str());
}

TEST_CASE("cross-option validation", "[unit]") {
  CHECK(Parse({"--listen", ""}).message() ==
        "configuration: listen: no listener configured (listen, tls_listen)");
  CHECK(Parse({"--tls-listen", "127.0.0.1:0"}).message() ==
        "configuration: tls_listen: needs both tls_cert and tls_key");
  CHECK(Parse({"--tls-cert", "c.pem"}).message() ==
        "configuration: tls_key: tls_cert and tls_key go together");
  auto tls_only =
      Parse({"--listen", "", "--tls-listen", "127.0.0.1:0", "--tls-cert", "c", "--tls-key", "k"});
  CHECK(tls_only.ok());
}

TEST_CASE("conf/testrund.conf documents every option with its default", "[unit]") {
  std::ifstream in(TESTRUND_SOURCE_DIR "/conf/testrund.conf");
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& spec : OptionTable()) {
    std::string key(spec.key);
    // Active line `key = default` or, for options without a default, a commented example.
    bool documented =
        text.find("\n" + key + " = " + std::string(spec.default_value) + "\n") !=
            std::string::npos ||
        (spec.default_value.empty() && text.find("# " + key + " = ") != std::string::npos);
    INFO(key);
    CHECK(documented);
  }
  Config c = DefaultConfig();
  Status s = ApplyConfigFile(TESTRUND_SOURCE_DIR "/conf/testrund.conf", &c);
  REQUIRE(s.ok());
  Config d = DefaultConfig();
  CHECK(c.listen == d.listen);
  CHECK(c.transport.max_body_bytes == d.transport.max_body_bytes);
  CHECK(c.transport.idle_timeout == d.transport.idle_timeout);
  CHECK(c.webhook_allow == d.webhook_allow);
}

TEST_CASE("--help lists every option with its flag and text in separate columns", "[unit]") {
  std::string help = testrund::daemon::HelpText();
  std::istringstream lines(help);
  std::string line;
  size_t column = 0;
  int options = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("  --", 0) != 0) continue;
    ++options;
    // "  --flag VALUE   text": at least two spaces after the flag, same column everywhere.
    size_t gap = line.find("  ", 2);
    REQUIRE(gap != std::string::npos);
    size_t text = line.find_first_not_of(' ', gap);
    INFO(line);
    REQUIRE(text != std::string::npos);
    if (column == 0) column = text;
    CHECK(text == column);
  }
  CHECK(options >= 4 + 18);
  CHECK_THAT(help, Catch::Contains("--completed-run-retention VALUE  seconds"));
  CHECK_THAT(help, Catch::Contains("--webhook-allow VALUE") &&
                       Catch::Contains("(empty = none) [127.0.0.0/8,::1,localhost]\n"));
}

TEST_CASE("webhook_allow: addresses, networks and names; a bad entry is a config error", "[unit]") {
  Config c = DefaultConfig();
  REQUIRE(ApplyConfigText("webhook_allow = 10.0.0.0/8, fd00::/8  Hooks.Example.com\n", "w.conf", &c)
              .ok());
  const testrund::ops::WebhookAllowList& allow = c.webhook_allow;
  CHECK(allow.Allows("10.200.0.1"));
  CHECK(allow.Allows("fd00::1"));
  CHECK(allow.Allows("hooks.example.com"));
  // The value replaces the default.
  CHECK_FALSE(allow.Allows("127.0.0.1"));
  CHECK_FALSE(allow.Allows("localhost"));

  // Quoted, as any value may be.
  REQUIRE(ApplyConfigText("webhook_allow = \"192.168.1.7\"", "w.conf", &c).ok());
  CHECK(c.webhook_allow.Allows("192.168.1.7"));
  CHECK_FALSE(c.webhook_allow.Allows("10.200.0.1"));

  // Empty: no reporter may post anywhere.
  REQUIRE(ApplyConfigText("webhook_allow =", "w.conf", &c).ok());
  CHECK(c.webhook_allow.empty());

  Status s = ApplyConfigText("max_runs = 3\nwebhook_allow = localhost 10.0.0.1/8\n", "w.conf", &c);
  CHECK(s.message() ==
        "w.conf:2: webhook_allow: \"10.0.0.1/8\" is not a CIDR network: bits are set past the /8 "
        "prefix (the network is 10.0.0.0/8)");
  s = ApplyConfigText("webhook_allow = ::1/129", "w.conf", &c);
  CHECK(s.message() ==
        "w.conf:1: webhook_allow: \"::1/129\" is not a CIDR network: the prefix length must be 0 "
        "to 128");
  CHECK(Parse({"--webhook-allow", "http://hooks.example.com"}).message() ==
        "command line: --webhook-allow: \"http://hooks.example.com\" is not a CIDR network: "
        "\"http:\" is not an IPv4 or IPv6 address");
  CHECK(Parse({"--webhook-allow=*.example.com"}).message() ==
        "command line: --webhook-allow: \"*.example.com\" is not an IP address, a CIDR network "
        "or a host name");
  auto flag = Parse({"--webhook-allow", "::1 fd00::/8"});
  REQUIRE(flag.ok());
  CHECK(flag->config.webhook_allow.Allows("fd12::3"));
  CHECK_FALSE(flag->config.webhook_allow.Allows("localhost"));
}
