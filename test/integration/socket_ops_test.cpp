// SPDX-License-Identifier: Apache-2.0
// tcp.* and udp.* ops against real servers on 127.0.0.1 started by the test
// (socket_servers.h): echo, length-prefixed, line, close-half-way, silent and TLS TCP
// servers and a UDP echo. The engine runs in process on a real event_base (LiveEngine,
// live_engine.h), so the tests read check_log texts, i.* values, trace entries, latency counts
// and descriptor counts exactly.
#include <event2/event.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <initializer_list>
#include <string>

#include <fmt/format.h>

#include "ops/base/hex.h"
#include "test/integration/harness.h"
#include "test/integration/live_engine.h"
#include "test/integration/socket_servers.h"

namespace testrund::test {
namespace {

using testrund::ops::HexEncode;

std::string Connect(uint16_t port, std::string_view more = "") {
  return fmt::format(R"({{"type": "tcp.connect", "arguments": {{"host": "127.0.0.1", "port": {}{}}}}})",
                     port, more);
}

std::string Pass(int op_idx, std::string_view text) {
  return fmt::format(R"({{"op_idx":{},"status":"pass","text":{}}})", op_idx, text);
}

// The check_log array of `entries`, as CheckLog() prints it. Built with append, not a chain
// of operator+ on temporaries: GCC 12 at -O3 reports a false -Wrestrict inside that.
std::string Log(std::initializer_list<std::string> entries) {
  std::string out = "[";
  for (const std::string& entry : entries) {
    if (out.size() > 1) out += ',';
    out += entry;
  }
  out += ']';
  return out;
}

// A big-endian length prefix of `width` bytes followed by `body`.
std::string Framed(std::string_view body, int width) {
  std::string out;
  for (int i = width - 1; i >= 0; --i) out.push_back(static_cast<char>((body.size() >> (8 * i)) & 0xff));
  return out + std::string(body);
}

}  // namespace

TEST_CASE("tcp: echo round trip with expectations, i.tcp, trace hex and latency",
          "[integration]") {
  TcpTestServer server({TcpBehaviour::kEcho});
  LiveEngine engine;
  std::string log = engine.RunOnce(fmt::format(R"([
    {},
    {{"type": "tcp.send", "arguments": {{"text": "hello\n"}}}},
    {{"type": "tcp.receive", "arguments": {{"length": 6}},
      "expect": {{"text": "hello\n", "hex": "68656C6C6F0A", "contains": "ell",
                 "pattern": "^h%a+\n$"}}}},
    {{"type": "assert", "expression": "i.tcp.length == 6 and i.tcp.text == 'hello\\n' and i.tcp.hex == '68656c6c6f0a'"}},
    {{"type": "tcp.close"}}
  ])", Connect(server.port())));
  CHECK(log == Log({Pass(2, R"("hex is \"68656c6c6f0a\"")"),
                    Pass(2, R"("text is \"hello\\n\"")"),
                    Pass(2, R"("message contains \"ell\"")"),
                    Pass(2, R"("message matches pattern \"^h%a+\\n$\"")"),
                    Pass(3, R"("Assert tested TRUE.")")}));
  rapidjson::Document status = engine.Status(engine.last_id);
  CHECK(status["counts"]["passed"].GetUint64() == 1);
  const auto& trace = status["first_call_summary"]["trace_log"];
  REQUIRE(trace.Size() == 2);
  CHECK(std::string(trace[0]["path"].GetString()) == "tcp.tester_to_sut");
  CHECK(std::string(trace[0]["protocol"].GetString()) == "tcp");
  CHECK(std::string(trace[0]["hex"].GetString()) == "68656c6c6f0a");
  CHECK(std::string(trace[0]["host"].GetString()) == "127.0.0.1");
  CHECK(trace[0]["port"].GetInt() == server.port());
  CHECK(trace[0]["length"].GetInt() == 6);
  CHECK(trace[0]["op_idx"].GetInt() == 1);
  CHECK(trace[0]["step"].GetInt() == 1);
  CHECK(std::string(trace[1]["path"].GetString()) == "tcp.sut_to_tester");
  CHECK(std::string(trace[1]["hex"].GetString()) == "68656c6c6f0a");
  CHECK(trace[1]["op_idx"].GetInt() == 2);
  CHECK(trace[1]["step"].GetInt() == 2);
  CHECK(trace[1].HasMember("time"));
  // connect, send and receive wait on the socket; close does not.
  const auto& latency = status["latency"];
  REQUIRE(latency.Size() == 3);
  for (rapidjson::SizeType k = 0; k < 3; ++k) {
    CHECK(latency[k]["op_idx"].GetInt() == static_cast<int>(k));
    CHECK(latency[k]["count"].GetUint64() == 1);
    CHECK(latency[k]["max"].GetDouble() < 5);
  }
}

TEST_CASE("tcp.receive: delimiters, length prefixes and lengths; the rest stays buffered",
          "[integration]") {
  LiveEngine engine;
  SECTION("delimiter as text and as hex; two lines in one send") {
    TcpTestServer server({TcpBehaviour::kLines});
    std::string log = engine.RunOnce(fmt::format(R"([
      {},
      {{"type": "tcp.receive", "arguments": {{"delimiter": "\r\n"}}, "expect": {{"text": "READY\r\n"}}}},
      {{"type": "tcp.send", "arguments": {{"hex": "{}"}}}},
      {{"type": "tcp.receive", "arguments": {{"delimiter": {{"hex": "0D0a"}}}}, "expect": {{"text": "ONE\r\n"}}}},
      {{"type": "tcp.receive", "arguments": {{"delimiter": "\n"}}, "expect": {{"text": "TWO\r\n"}}}},
      {{"type": "assert", "expression": "i.tcp.length == 5"}}
    ])", Connect(server.port()), HexEncode("one\ntwo\n")));
    CHECK(log == Log({Pass(1, R"("text is \"READY\\r\\n\"")"),
                      Pass(3, R"("text is \"ONE\\r\\n\"")"),
                      Pass(4, R"("text is \"TWO\\r\\n\"")"),
                      Pass(5, R"("Assert tested TRUE.")")}));
  }
  for (int width : {1, 2, 4}) {
    DYNAMIC_SECTION("length_prefix " << width << ": the prefix is left out of the message") {
      TcpTestServer server({TcpBehaviour::kLengthPrefixed, width});
      std::string two_frames = Framed("ping", width) + Framed("pong!", width);
      std::string log = engine.RunOnce(fmt::format(R"([
        {},
        {{"type": "tcp.send", "arguments": {{"hex": "{}"}}}},
        {{"type": "tcp.receive", "arguments": {{"length_prefix": {}}}, "expect": {{"text": "re:ping"}}}},
        {{"type": "assert", "expression": "i.tcp.length == 7 and i.tcp.hex == '{}'"}},
        {{"type": "tcp.receive", "arguments": {{"length_prefix": {}}}, "expect": {{"text": "re:pong!"}}}}
      ])", Connect(server.port()), HexEncode(two_frames), width, HexEncode("re:ping"), width));
      CHECK(log == Log({Pass(2, R"("text is \"re:ping\"")"),
                        Pass(3, R"("Assert tested TRUE.")"),
                        Pass(4, R"("text is \"re:pong!\"")")}));
      // The trace shows the bytes as they crossed the wire, prefix included.
      rapidjson::Document status = engine.Status(engine.last_id);
      const auto& trace = status["first_call_summary"]["trace_log"];
      REQUIRE(trace.Size() == 3);
      CHECK(std::string(trace[1]["hex"].GetString()) == HexEncode(Framed("re:ping", width)));
      CHECK(trace[1]["length"].GetInt() == 7 + width);
    }
  }
  SECTION("length: one send read as two messages") {
    TcpTestServer server({TcpBehaviour::kEcho});
    std::string log = engine.RunOnce(fmt::format(R"([
      {},
      {{"type": "tcp.send", "arguments": {{"text": "abcdef"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 2}}, "expect": {{"text": "ab"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 4, "timeout": "1.5"}}, "expect": {{"hex": "63646566"}}}}
    ])", Connect(server.port())));
    CHECK(log == Log({Pass(2, R"("text is \"ab\"")"), Pass(3, R"("hex is \"63646566\"")")}));
  }
}

TEST_CASE("tcp: failed, mandatory and bounded expectations", "[integration]") {
  TcpTestServer server({TcpBehaviour::kEcho});
  LiveEngine engine;
  SECTION("failed expectations are fails; the instance continues") {
    std::string log = engine.RunOnce(fmt::format(R"([
      {},
      {{"type": "tcp.send", "arguments": {{"hex": "00ff41"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 3}},
        "expect": {{"text": "x", "hex": "00ff42", "contains": "B", "pattern": "^%d"}}}},
      {{"type": "tcp.send", "arguments": {{"text": "ok"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 2}}, "expect": {{"text": "ok"}}}}
    ])", Connect(server.port())));
    CHECK(log ==
          R"([{"op_idx":2,"status":"fail","text":"hex is \"00ff41\", expected \"00ff42\""},)"
          R"({"op_idx":2,"status":"fail","text":"text is hex \"00ff41\", expected \"x\""},)"
          R"({"op_idx":2,"status":"fail","text":"message does not contain \"B\""},)"
          R"({"op_idx":2,"status":"fail","text":"message does not match pattern \"^%d\""},)"
          R"({"op_idx":4,"status":"pass","text":"text is \"ok\""}])");
    CHECK(engine.Status(engine.last_id)["counts"]["failed"].GetUint64() == 1);
  }
  SECTION("mandatory: the first failed expectation aborts") {
    std::string log = engine.RunOnce(fmt::format(R"([
      {},
      {{"type": "tcp.send", "arguments": {{"text": "abc"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 3}}, "mandatory": true,
        "expect": {{"hex": "616263", "text": "abd", "contains": "b"}}}},
      {{"type": "comment", "text": "never"}}
    ])", Connect(server.port())));
    CHECK(log == R"([{"op_idx":2,"status":"pass","text":"hex is \"616263\""},)"
                 R"({"op_idx":2,"status":"abort","text":"text is \"abc\", expected \"abd\""}])");
    CHECK(engine.Status(engine.last_id)["counts"]["aborted"].GetUint64() == 1);
  }
  SECTION("a pattern whose worst case is too costly is not tried; a bad {...} pattern aborts") {
    std::string long_text(2000, 'a');
    std::string log = engine.RunOnce(fmt::format(R"([
      {},
      {{"type": "tcp.send", "arguments": {{"text": "{}"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 2000}},
        "expect": {{"pattern": "(.-)x(.-)y", "contains": "aaa"}}}},
      {{"type": "tcp.send", "arguments": {{"text": "{}"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 2000}},
        "expect": {{"pattern": "^(a+)$"}}}},
      {{"type": "tcp.send", "arguments": {{"text": "z"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 1}}, "expect": {{"pattern": "{{v.p}}"}}}}
    ])", Connect(server.port()), long_text, long_text), R"("vars": {"p": "[a"},)");
    CHECK(log ==
          R"([{"op_idx":2,"status":"pass","text":"message contains \"aaa\""},)"
          R"({"op_idx":2,"status":"fail","text":"pattern \"(.-)x(.-)y\" not tried: a 2000-byte )"
          R"x(message is too long for it (the worst case exceeds 10000000 steps)"},)x"
          R"({"op_idx":4,"status":"pass","text":"message matches pattern \"^(a+)$\""},)"
          R"({"op_idx":6,"status":"abort","text":"expect.pattern is not a valid Lua )"
          R"x(pattern: malformed pattern (missing ']'), got \"[a\""}])x");
  }
}

TEST_CASE("tcp: refused, closed half-way, timed out, and without a connection",
          "[integration]") {
  LiveEngine engine;
  SECTION("refused") {
    uint16_t port = RefusedPort();
    CHECK(engine.RunOnce(fmt::format("[{}]", Connect(port))) ==
          fmt::format(R"([{{"op_idx":0,"status":"abort","text":"TCP connect to 127.0.0.1:{} )"
                      R"(failed: connection refused"}}])",
                      port));
  }
  SECTION("connect timeout: nobody answers") {
    FullListener listener;
    auto before = std::chrono::steady_clock::now();
    std::string log = engine.RunOnce(fmt::format("[{}]", Connect(listener.port(), R"(, "timeout": 0.3)")));
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    CHECK(took >= 0.29);
    CHECK(log == fmt::format(R"([{{"op_idx":0,"status":"abort","text":"TCP connect to )"
                             R"(127.0.0.1:{} timed out after 0.3 seconds"}}])",
                             listener.port()));
    CHECK(engine.Status(engine.last_id)["latency"][0]["count"].GetUint64() == 1);
  }
  SECTION("the server closes before a whole message") {
    TcpTestServer server({TcpBehaviour::kCloseHalfway});
    CHECK(engine.RunOnce(fmt::format(R"([{}, {{"type": "tcp.receive", "arguments": {{"length": 10}}}}])",
                                     Connect(server.port()))) ==
          fmt::format(R"([{{"op_idx":1,"status":"abort","text":"TCP receive from 127.0.0.1:{} )"
                      R"(failed: connection closed by peer after 3 bytes of an incomplete )"
                      R"(message"}}])",
                      server.port()));
  }
  SECTION("bytes before the close are still received; then the close aborts") {
    TcpTestServer server({TcpBehaviour::kCloseHalfway});
    CHECK(engine.RunOnce(fmt::format(R"([{},
        {{"type": "tcp.receive", "arguments": {{"length": 3}}, "expect": {{"text": "abc"}}}},
        {{"type": "tcp.receive", "arguments": {{"delimiter": "\n"}}}}])",
                                     Connect(server.port()))) ==
          Log({Pass(1, R"("text is \"abc\"")"),
               fmt::format(R"({{"op_idx":2,"status":"abort","text":"TCP receive from )"
                           R"(127.0.0.1:{} failed: connection closed by peer"}})",
                           server.port())}));
  }
  SECTION("receive timeout, with the latency recorded") {
    TcpTestServer server({TcpBehaviour::kSilent});
    auto before = std::chrono::steady_clock::now();
    std::string log = engine.RunOnce(fmt::format(
        R"([{}, {{"type": "tcp.receive", "arguments": {{"length": 1, "timeout": 0.3}}}}])",
        Connect(server.port())));
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    CHECK(took >= 0.29);
    CHECK(took < 2);
    CHECK(log == fmt::format(R"([{{"op_idx":1,"status":"abort","text":"TCP receive from )"
                             R"(127.0.0.1:{} timed out after 0.3 seconds"}}])",
                             server.port()));
    rapidjson::Document status = engine.Status(engine.last_id);
    REQUIRE(status["latency"].Size() == 2);
    CHECK(status["latency"][1]["op_idx"].GetInt() == 1);
    CHECK(status["latency"][1]["count"].GetUint64() == 1);
    CHECK(status["latency"][1]["min"].GetDouble() >= 0.29);
  }
  SECTION("send and receive without a connection, or after tcp.close") {
    CHECK(engine.RunOnce(R"([{"type": "tcp.send", "arguments": {"text": "x"}}])") ==
          R"([{"op_idx":0,"status":"abort","text":"tcp.send needs a TCP connection: run )"
          R"(tcp.connect first"}])");
    TcpTestServer server({TcpBehaviour::kEcho});
    CHECK(engine.RunOnce(fmt::format(R"([{}, {{"type": "tcp.close"}}, {{"type": "tcp.close"}},
        {{"type": "tcp.receive", "arguments": {{"length": 1}}}}])", Connect(server.port()))) ==
          R"([{"op_idx":3,"status":"abort","text":"tcp.receive needs a TCP connection: run )"
          R"(tcp.connect first"}])");
  }
}

TEST_CASE("tcp over TLS: verified with the CA file, refused without it, unverified on request",
          "[integration]") {
  TempDir dir;
  TlsFiles tls = GenerateSelfSignedCert(dir);
  TcpServerOptions options;
  options.tls = &tls;
  TcpTestServer server(options);
  LiveEngine engine;
  std::string exchange = R"(
    {"type": "tcp.send", "arguments": {"text": "secret"}},
    {"type": "tcp.receive", "arguments": {"length": 6}, "expect": {"text": "secret"}})";
  SECTION("ca_file") {
    CHECK(engine.RunOnce(fmt::format(R"([{}, {}])",
                                     Connect(server.port(), fmt::format(R"(, "tls": {{"ca_file": "{}"}})", tls.cert)),
                                     exchange)) ==
          Log({Pass(2, R"("text is \"secret\"")")}));
  }
  SECTION("untrusted certificate") {
    CHECK(engine.RunOnce(fmt::format(R"([{}, {}])", Connect(server.port(), R"(, "tls": true)"),
                                     exchange)) ==
          fmt::format(R"([{{"op_idx":0,"status":"abort","text":"TCP connect to 127.0.0.1:{} )"
                      R"(failed: TLS error: certificate verify failed"}}])",
                      server.port()));
  }
  SECTION("verify false") {
    CHECK(engine.RunOnce(fmt::format(R"([{}, {}])",
                                     Connect(server.port(), R"(, "tls": {"verify": false})"),
                                     exchange)) ==
          Log({Pass(2, R"("text is \"secret\"")")}));
  }
}

TEST_CASE("udp: send and receive on the instance's socket, i.udp, trace and latency",
          "[integration]") {
  UdpEchoServer server;
  LiveEngine engine;
  SECTION("round trip") {
    std::string log = engine.RunOnce(fmt::format(R"([
      {{"type": "udp.send", "arguments": {{"host": "127.0.0.1", "port": "{}", "text": "ping"}}}},
      {{"type": "udp.receive", "expect": {{"text": "ping", "hex": "70696e67"}}}},
      {{"type": "assert", "expression": "i.udp.text == 'ping' and i.udp.length == 4 and i.udp.hex == '70696e67'"}},
      {{"type": "udp.send", "arguments": {{"host": "127.0.0.1", "port": {}, "hex": "0001"}}}},
      {{"type": "udp.receive", "arguments": {{"timeout": 2}}, "expect": {{"hex": "0001"}}}}
    ])", server.port(), server.port()));
    CHECK(log == Log({Pass(1, R"("hex is \"70696e67\"")"),
                      Pass(1, R"("text is \"ping\"")"),
                      Pass(2, R"("Assert tested TRUE.")"),
                      Pass(4, R"("hex is \"0001\"")")}));
    rapidjson::Document status = engine.Status(engine.last_id);
    const auto& trace = status["first_call_summary"]["trace_log"];
    REQUIRE(trace.Size() == 4);
    CHECK(std::string(trace[0]["path"].GetString()) == "udp.tester_to_sut");
    CHECK(std::string(trace[0]["protocol"].GetString()) == "udp");
    CHECK(std::string(trace[0]["hex"].GetString()) == "70696e67");
    CHECK(trace[0]["port"].GetInt() == server.port());
    CHECK(trace[0]["step"].GetInt() == 0);
    CHECK(std::string(trace[1]["path"].GetString()) == "udp.sut_to_tester");
    CHECK(std::string(trace[1]["host"].GetString()) == "127.0.0.1");
    CHECK(trace[1]["port"].GetInt() == server.port());
    CHECK(trace[1]["length"].GetInt() == 4);
    CHECK(trace[1]["step"].GetInt() == 1);
    CHECK(std::string(trace[3]["hex"].GetString()) == "0001");
    const auto& latency = status["latency"];
    REQUIRE(latency.Size() == 4);
    CHECK(latency[0]["op_idx"].GetInt() == 0);
    CHECK(latency[3]["op_idx"].GetInt() == 4);
    for (const auto& entry : latency.GetArray()) CHECK(entry["count"].GetUint64() == 1);
  }
  SECTION("receive timeout names the last destination; receive needs a socket") {
    uint16_t port = RefusedPort();
    CHECK(engine.RunOnce(fmt::format(R"([
      {{"type": "udp.send", "arguments": {{"host": "127.0.0.1", "port": {}, "text": "x"}}}},
      {{"type": "udp.receive", "arguments": {{"timeout": 0.2}}}}])", port)) ==
          fmt::format(R"([{{"op_idx":1,"status":"abort","text":"UDP receive from 127.0.0.1:{} )"
                      R"(timed out after 0.2 seconds"}}])",
                      port));
    CHECK(engine.RunOnce(R"([{"type": "udp.receive"}])") ==
          R"([{"op_idx":0,"status":"abort","text":"udp.receive needs a UDP socket: run )"
          R"(udp.send first"}])");
  }
  SECTION("an unknown host aborts naming it") {
    std::string log = engine.RunOnce(
        R"([{"type": "udp.send", "arguments": {"host": "no-such-host.invalid", "port": 9, "text": "x"}}])");
    CHECK(log.rfind(R"([{"op_idx":0,"status":"abort","text":"UDP send to no-such-host.invalid:9 )"
                    R"(failed: cannot resolve host: )",
                    0) == 0);
  }
}

TEST_CASE("tcp/udp: {...} values are evaluated; bad evaluated values abort", "[integration]") {
  TcpTestServer server({TcpBehaviour::kEcho});
  UdpEchoServer udp;
  LiveEngine engine;
  std::string vars = fmt::format(R"("vars": {{"port": {}, "udp": {}, "msg": "hi", "n": 3}},)",
                                 server.port(), udp.port());
  CHECK(engine.RunOnce(R"([
    {"type": "tcp.connect", "arguments": {"host": "{'127.0.' .. '0.1'}", "port": "{v.port}",
                                          "timeout": "{v.n}"}},
    {"type": "tcp.send", "arguments": {"text": "{v.msg .. '!\\n'}"}},
    {"type": "tcp.receive", "arguments": {"delimiter": "{'\\n'}"}, "expect": {"text": "{v.msg .. '!\\n'}",
                                          "contains": "{v.msg}"}},
    {"type": "udp.send", "arguments": {"host": "127.0.0.1", "port": "{v.udp}", "hex": "{'6869'}"}},
    {"type": "udp.receive", "arguments": {"timeout": "{v.n}"}, "expect": {"text": "{v.msg}"}}
  ])", vars) == Log({Pass(2, R"("text is \"hi!\\n\"")"),
                      Pass(2, R"("message contains \"hi\"")"),
                      Pass(4, R"("text is \"hi\"")")}));
  CHECK(engine.RunOnce(R"([{"type": "tcp.connect", "arguments": {"host": "127.0.0.1", "port": "{v.port - v.port}"}}])",
                       vars) ==
        R"([{"op_idx":0,"status":"abort","text":"arguments.port must be between 1 and 65535, )"
        R"(got 0"}])");
  CHECK(engine.RunOnce(R"([{"type": "udp.send", "arguments": {"host": "127.0.0.1", "port": 9, "hex": "{'abc'}"}}])",
                       vars) ==
        R"([{"op_idx":0,"status":"abort","text":"arguments.hex must be an even number of )"
        R"(hex digits, got \"abc\""}])");
  CHECK(engine.RunOnce(R"([{"type": "udp.receive", "arguments": {"timeout": "{-v.n}"}}])", vars) ==
        R"([{"op_idx":0,"status":"abort","text":"arguments.timeout must be greater than 0 and )"
        R"(at most 3600, got -3"}])");
}

TEST_CASE("tcp/udp: every attribute problem is reported at ExecuteTest", "[integration]") {
  LiveEngine engine;
  std::string id = engine.Execute(R"json({"operations": [
    {"type": "tcp.connect"},
    {"type": "tcp.connect", "arguments": {"host": "", "port": 0, "tls": 1, "timeout": 0, "x": 1},
     "expect": {}},
    {"type": "tcp.connect", "arguments": {"host": 5, "port": "80a"}, "mandatory": true},
    {"type": "tcp.send", "arguments": {"hex": "0a", "text": "x"}},
    {"type": "tcp.send", "arguments": {}},
    {"type": "tcp.send", "arguments": {"hex": "abc"}},
    {"type": "tcp.send", "arguments": {"hex": "zz", "timeout": 4000}},
    {"type": "tcp.receive", "arguments": {}},
    {"type": "tcp.receive", "arguments": {"length": 1, "delimiter": "x"}},
    {"type": "tcp.receive", "arguments": {"length_prefix": 3}},
    {"type": "tcp.receive", "arguments": {"length": 0}},
    {"type": "tcp.receive", "arguments": {"length": 16777217}},
    {"type": "tcp.receive", "arguments": {"delimiter": ""}},
    {"type": "tcp.receive", "arguments": {"delimiter": {"hex": "0"}}},
    {"type": "tcp.receive", "arguments": {"delimiter": {"text": "x"}, "timeout": "soon"}},
    {"type": "tcp.receive", "arguments": {"length": 1},
     "expect": {"hex": "xy", "text": 1, "contains": [], "pattern": "%", "body": "x"},
     "mandatory": "yes"},
    {"type": "tcp.receive", "arguments": {"length": 1}, "expect": {"pattern": "(a"}},
    {"type": "tcp.receive", "arguments": {"length": 1}, "expect": {"pattern": "%1(a)"}},
    {"type": "tcp.receive", "arguments": {"length": 1}, "expect": {"pattern": "[a"}},
    {"type": "tcp.receive", "arguments": {"length": 1}, "expect": {"pattern": "%f"}},
    {"type": "tcp.receive", "arguments": {"length": 1}, "expect": {"pattern": "(a))"}},
    {"type": "tcp.receive", "arguments": {"length": 1}, "expect": {"pattern": "%bx"}},
    {"type": "tcp.close", "arguments": {"x": 1}},
    {"type": "udp.send", "arguments": {"host": "h", "port": 70000}},
    {"type": "udp.receive", "arguments": {"timeout": -1, "length": 3}, "expect": 3},
    {"type": "tcp.send", "arguments": "x"}
  ]})json");
  CHECK(id.empty());
  CHECK(engine.Problems() ==
        "0|arguments|is required\n"
        "1|expect|is not used by tcp.connect\n"
        "1|arguments.x|is unknown\n"
        "1|arguments.host|must not be empty\n"
        "1|arguments.port|must be between 1 and 65535, got 0\n"
        "1|arguments.tls|must be true, false or an object {\"verify\", \"ca_file\", "
        "\"server_name\"}, got 1\n"
        "1|arguments.timeout|must be greater than 0 and at most 3600, got 0\n"
        "2|mandatory|is not used by tcp.connect\n"
        "2|arguments.host|must be a string, got 5\n"
        "2|arguments.port|must be an integer, got \"80a\"\n"
        "3|arguments|must not have both \"hex\" and \"text\"\n"
        "4|arguments|needs \"hex\" or \"text\"\n"
        "5|arguments.hex|must be an even number of hex digits, got \"abc\"\n"
        "6|arguments.hex|must be an even number of hex digits, got \"zz\"\n"
        "6|arguments.timeout|must be greater than 0 and at most 3600, got 4000\n"
        "7|arguments|needs one of \"length\", \"delimiter\" and \"length_prefix\"\n"
        "8|arguments|must have only one of \"length\", \"delimiter\" and \"length_prefix\"\n"
        "9|arguments.length_prefix|must be 1, 2 or 4, got 3\n"
        "10|arguments.length|must be between 1 and 16777216, got 0\n"
        "11|arguments.length|must be between 1 and 16777216, got 16777217\n"
        "12|arguments.delimiter|must be a non-empty string or {\"hex\": \"<hex digits>\"}, "
        "got \"\"\n"
        "13|arguments.delimiter.hex|must be a non-empty, even number of hex digits, got "
        "\"0\"\n"
        "14|arguments.delimiter|must be a non-empty string or {\"hex\": \"<hex digits>\"}, "
        "got an object\n"
        "14|arguments.timeout|must be a number of seconds, got \"soon\"\n"
        "15|mandatory|must be true or false, got \"yes\"\n"
        "15|expect.body|is unknown\n"
        "15|expect.hex|must be an even number of hex digits, got \"xy\"\n"
        "15|expect.text|must be a string, got 1\n"
        "15|expect.contains|must be a string, got an empty array\n"
        "15|expect.pattern|is not a valid Lua pattern: malformed pattern (ends with '%'), got "
        "\"%\"\n"
        "16|expect.pattern|is not a valid Lua pattern: unfinished capture, got \"(a\"\n"
        "17|expect.pattern|is not a valid Lua pattern: invalid capture index %1, got "
        "\"%1(a)\"\n"
        "18|expect.pattern|is not a valid Lua pattern: malformed pattern (missing ']'), got "
        "\"[a\"\n"
        "19|expect.pattern|is not a valid Lua pattern: missing '[' after '%f' in pattern, got "
        "\"%f\"\n"
        "20|expect.pattern|is not a valid Lua pattern: invalid pattern capture, got \"(a))\"\n"
        "21|expect.pattern|is not a valid Lua pattern: malformed pattern (missing arguments to "
        "'%b'), got \"%bx\"\n"
        "22|arguments.x|is unknown\n"
        "23|arguments.port|must be between 1 and 65535, got 70000\n"
        "23|arguments|needs \"hex\" or \"text\"\n"
        "24|expect|must be an object, got 3\n"
        "24|arguments.length|is unknown\n"
        "24|arguments.timeout|must be greater than 0 and at most 3600, got -1\n"
        "25|arguments|must be an object, got \"x\"\n");
}

TEST_CASE("tcp/udp: every socket is released when instances end, are cancelled or abort",
          "[integration]") {
  TcpServerOptions echo;
  echo.own_process = true;
  TcpTestServer server(echo);
  TcpServerOptions silent;
  silent.behaviour = TcpBehaviour::kSilent;
  silent.own_process = true;
  TcpTestServer silent_server(silent);
  UdpEchoServer udp;
  LiveEngine engine;
  size_t before = engine.SettledDescriptors();
  SECTION("10,000 instances, each with a TCP connection and a UDP socket left open") {
    std::string id = engine.Execute(LoadOps(10000, 50, fmt::format(R"([
      {},
      {{"type": "tcp.send", "arguments": {{"text": "{{'n' .. instance .. ';'}}"}}}},
      {{"type": "tcp.receive", "arguments": {{"delimiter": ";"}},
        "expect": {{"text": "{{'n' .. instance .. ';'}}"}}}},
      {{"type": "udp.send", "arguments": {{"host": "127.0.0.1", "port": {}, "text": "u"}}}},
      {{"type": "udp.receive", "expect": {{"text": "u"}}}}])",
                                                           Connect(server.port()), udp.port())));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id, 120);
    rapidjson::Document status = engine.Status(id);
    CHECK(status["counts"]["passed"].GetUint64() == 10000);
    CHECK(status["latency"][2]["count"].GetUint64() == 10000);
    CHECK(status["latency"][4]["count"].GetUint64() == 10000);
    CHECK(OpenDescriptors() <= before + 2);
  }
  // Holds a TCP connection (to the silent server) and a UDP socket, then waits on a receive
  // that only its `timeout` ends.
  auto held = [&](std::string_view timeout) {
    return fmt::format(R"([{},
      {{"type": "udp.send", "arguments": {{"host": "127.0.0.1", "port": {}, "text": "u"}}}},
      {{"type": "tcp.receive", "arguments": {{"length": 1, "timeout": {}}}}}])",
                       Connect(silent_server.port()), udp.port(), timeout);
  };
  SECTION("cancelled instances release their sockets and timers") {
    std::string id = engine.Execute(LoadOps(300, 300, held("60")));
    REQUIRE(!id.empty());
    engine.RunUntil([&] { return OpenDescriptors() >= before + 600; });
    engine.CancelReleases(id, before);
  }
  SECTION("aborted (timed-out) instances release theirs") {
    std::string id = engine.Execute(LoadOps(300, 300, held("0.2")));
    engine.TimeoutsRelease(id, 300, before);
  }
}

}  // namespace testrund::test
