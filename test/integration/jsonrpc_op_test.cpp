// SPDX-License-Identifier: Apache-2.0
// The jsonrpc op against testrund itself as the JSON-RPC target, over both framings (HTTP
// and tcp:// length-prefixed; https:// and tls:// with the daemon's generated certificate;
// tokens), plus loopback servers started by the test for what a healthy testrund never
// does: a server that answers canned bytes (invalid JSON, a foreign id, a bad frame), one
// that accepts and never answers (timeouts), and a port nobody listens on (refused). The op
// runs in process (LiveEngine) so that check_log texts, i.jsonrpc, trace entries, latency
// counts and descriptor counts are read exactly; one test has one daemon drive another.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "ops/net/http_client.h"
#include "ops/base/hex.h"
#include "ops/net/io_context.h"
#include "test/integration/harness.h"
#include "test/integration/live_engine.h"
#include "test/integration/rpc_client.h"

namespace testrund::test {
namespace {

using testrund::ops::HexEncode;

// A listening loopback socket; `port()` is its port.
class Listener {
 public:
  explicit Listener(int backlog) {
    fd_ = BindLoopback(SOCK_STREAM, &port_);
    REQUIRE(listen(fd_, backlog) == 0);
  }
  ~Listener() { Close(); }
  void Close() {
    if (fd_ < 0) return;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Accepts nothing: the kernel completes the handshakes (up to the backlog) and the requests
// wait unanswered forever.
class SilentServer {
 public:
  SilentServer() : listener_(1024) {}
  uint16_t port() const { return listener_.port(); }

 private:
  Listener listener_;
};

// Answers every connection, on its own thread, with `reply`: reads one request (HTTP:
// headers and a Content-Length body; framed: the prefix and the body), keeps it, writes the
// reply and closes; or, with `reset`, resets the connection instead of answering.
class CannedServer {
 public:
  CannedServer(Framing framing, std::string reply, bool reset = false)
      : framing_(framing), reply_(std::move(reply)), reset_(reset), listener_(64) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedServer() {
    stop_ = true;
    listener_.Close();
    thread_.join();
  }
  std::string Url() const {
    return framing_ == Framing::kHttp ? fmt::format("http://127.0.0.1:{}/rpc", listener_.port())
                                      : fmt::format("tcp://127.0.0.1:{}", listener_.port());
  }
  std::string last_request() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_request_;
  }

 private:
  bool Complete(const std::string& request) const {
    if (framing_ == Framing::kFramed) {
      if (request.size() < 4) return false;
      auto byte = [&](size_t k) {
        return static_cast<size_t>(static_cast<unsigned char>(request[k]));
      };
      return request.size() >= 4 + ((byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3));
    }
    size_t end = request.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    size_t length = 0;
    size_t at = request.find("Content-Length: ");
    if (at != std::string::npos && at < end) length = std::stoul(request.substr(at + 16));
    return request.size() >= end + 4 + length;
  }
  void Serve() {
    while (true) {
      int client = accept(listener_.fd(), nullptr, nullptr);
      if (client < 0 || stop_) {
        if (client >= 0) close(client);
        return;
      }
      timeval five{5, 0};
      setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof(five));
      std::string request;
      char buffer[4096];
      while (!Complete(request)) {
        ssize_t n = read(client, buffer, sizeof(buffer));
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        last_request_ = request;
      }
      if (reset_) {
        linger abort{1, 0};
        setsockopt(client, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
        close(client);
        continue;
      }
      (void)!write(client, reply_.data(), reply_.size());
      shutdown(client, SHUT_WR);
      // Wait for the client's close so that our close cannot reset unread bytes.
      while (read(client, buffer, sizeof(buffer)) > 0) {
      }
      close(client);
    }
  }

  Framing framing_;
  std::string reply_;
  bool reset_;
  Listener listener_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string last_request_;
  std::thread thread_;
};

std::string HttpReply(int status, std::string_view reason, std::string_view body) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
                     "Connection: close\r\n\r\n{}",
                     status, reason, body.size(), body);
}

std::string TargetUrl(const Daemon& target, Framing framing) {
  return framing == Framing::kHttp ? fmt::format("http://127.0.0.1:{}/", target.port())
                                   : fmt::format("tcp://127.0.0.1:{}", target.port());
}

std::string Text(const rapidjson::Value& value) {
  return std::string(value.GetString(), value.GetStringLength());
}

}  // namespace

TEST_CASE("jsonrpc: GetServerInfo of a testrund, i.jsonrpc, trace hex and latency",
          "[integration]") {
  Daemon target;
  FOR_EACH_FRAMING(framing);
  LiveEngine engine;
  std::string url = TargetUrl(target, framing);
  std::string id = engine.Execute(Ops(fmt::format(R"([
    {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "GetServerInfo"}},
      "expect": {{"error_code": null, "result": {{"version": "{}", "runs": 0}}}}}},
    {{"type": "assert", "expression": "i.jsonrpc.error == nil and i.jsonrpc.result.lua_version:sub(1, 7) == 'Lua 5.4' and #i.jsonrpc.result.time_start == 2 and type(i.jsonrpc.time) == 'number'"}}
  ])", url, TESTRUND_VERSION_FOR_TESTS)));
  REQUIRE(!id.empty());
  engine.RunUntilDone(id);
  CHECK(engine.CheckLog(id) ==
        fmt::format(R"([{{"op_idx":0,"status":"pass","text":"no error as expected"}},)"
                    R"({{"op_idx":0,"status":"pass","text":"result \"version\" is \"{}\""}},)"
                    R"({{"op_idx":0,"status":"pass","text":"result \"runs\" is 0"}},)"
                    R"({{"op_idx":1,"status":"pass","text":"Assert tested TRUE."}}])",
                    TESTRUND_VERSION_FOR_TESTS));
  rapidjson::Document status = engine.Status(id);
  CHECK(status["counts"]["passed"].GetUint64() == 1);
  const auto& trace = status["first_call_summary"]["trace_log"];
  REQUIRE(trace.Size() == 2);
  std::string body = R"({"jsonrpc":"2.0","method":"GetServerInfo","id":0})";
  std::string wire =
      framing == Framing::kHttp
          ? fmt::format("POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n"
                        "Content-Type: application/json\r\n\r\n{}",
                        target.port(), body.size(), body)
          : Frame(body);
  CHECK(Text(trace[0]["path"]) == "jsonrpc.tester_to_sut");
  CHECK(Text(trace[0]["protocol"]) == "jsonrpc");
  CHECK(Text(trace[0]["hex"]) == HexEncode(wire));
  CHECK(Text(trace[0]["method"]) == "GetServerInfo");
  CHECK(Text(trace[0]["url"]) == url);
  CHECK(trace[0]["op_idx"].GetInt() == 0);
  CHECK(trace[0]["step"].GetInt() == 0);
  CHECK(Text(trace[1]["path"]) == "jsonrpc.sut_to_tester");
  CHECK(Text(trace[1]["protocol"]) == "jsonrpc");
  CHECK(Text(trace[1]["method"]) == "GetServerInfo");
  CHECK(trace[1]["step"].GetInt() == 0);
  std::string response_hex = Text(trace[1]["hex"]);
  std::string response_start = framing == Framing::kHttp ? HexEncode("HTTP/1.1 200 OK\r\n")
                                                         : HexEncode(R"({"jsonrpc":"2.0",)");
  CHECK(response_hex.find(response_start) == (framing == Framing::kHttp ? 0 : 8));
  if (framing == Framing::kHttp) {
    CHECK(trace[1]["status"].GetInt() == 200);
  } else {
    CHECK(!trace[1].HasMember("status"));
    // The length prefix counts the rest.
    CHECK(std::stoul(response_hex.substr(0, 8), nullptr, 16) * 2 + 8 == response_hex.size());
  }
  const auto& latency = status["latency"];
  REQUIRE(latency.Size() == 1);
  CHECK(latency[0]["op_idx"].GetInt() == 0);
  CHECK(latency[0]["count"].GetUint64() == 1);
  CHECK(latency[0]["max"].GetDouble() < 5);
}

TEST_CASE("jsonrpc: ExecuteTest, QueryTest until completed, then -32001", "[integration]") {
  Daemon target;
  FOR_EACH_FRAMING(framing);
  LiveEngine engine;
  std::string run = framing == Framing::kHttp ? "inner-http" : "inner-framed";
  std::string id = engine.Execute(fmt::format(R"({{"vars": {{"url": "{}", "run": "{}"}},
    "operations": [
    {{"type": "jsonrpc", "arguments": {{"url": "{{v.url}}", "method": "ExecuteTest",
      "params": {{"run_id": "{{v.run}}", "globals": {{"n": 0}},
                 "distribution": {{"type": "load", "total": 3}},
                 "operations": [{{"type": "eval", "expression": "g.n = g.n + 1"}}]}}}},
      "expect": {{"result": {{"run_id": "{{v.run}}"}}}}}},
    {{"type": "wait", "label": "poll", "arguments": {{"seconds": 0.02}}}},
    {{"type": "jsonrpc", "arguments": {{"url": "{{v.url}}", "method": "QueryTest",
      "params": {{"run_id": "{{v.run}}"}}}}}},
    {{"type": "branch", "expression": "i.jsonrpc.result.completed == 0", "on_true": "poll"}},
    {{"type": "assert", "expression": "i.jsonrpc.result.counts.passed == 3 and i.jsonrpc.result.globals.n == 3"}},
    {{"type": "jsonrpc", "arguments": {{"url": "{{v.url}}", "method": "QueryTest",
      "params": {{"run_id": "{{v.run}}"}}}}, "expect": {{"error_code": -32001}}}}
  ]}})", TargetUrl(target, framing), run));
  REQUIRE(!id.empty());
  engine.RunUntilDone(id);
  CHECK(engine.CheckLog(id) ==
        fmt::format(R"([{{"op_idx":0,"status":"pass","text":"result \"run_id\" is \"{}\""}},)"
                    R"({{"op_idx":4,"status":"pass","text":"Assert tested TRUE."}},)"
                    R"({{"op_idx":5,"status":"pass","text":"error code -32001 as expected"}}])",
                    run));
  CHECK(engine.Status(id)["counts"]["passed"].GetUint64() == 1);
}

TEST_CASE("jsonrpc: error codes, failed and mandatory expectations", "[integration]") {
  Daemon target;
  // Every section once per framing.
  Framing framing = GENERATE(Framing::kHttp, Framing::kFramed);
  INFO("framing: " << FramingName(framing));
  LiveEngine engine;
  std::string url = TargetUrl(target, framing);
  SECTION("failed expectations are fails; the instance continues") {
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "jsonrpc", "arguments": {{"url": "{0}", "method": "Nope"}},
        "expect": {{"error_code": -32601}}}},
      {{"type": "assert", "expression": "i.jsonrpc.result == nil and i.jsonrpc.error.code == -32601"}},
      {{"type": "jsonrpc", "arguments": {{"url": "{0}", "method": "Nope"}},
        "expect": {{"error_code": null, "result": {{"a": 1}}}}}},
      {{"type": "jsonrpc", "arguments": {{"url": "{0}", "method": "QueryTest",
        "params": {{"run_id": "none"}}}}, "expect": {{"error_code": -32602}}}},
      {{"type": "jsonrpc", "arguments": {{"url": "{0}", "method": "GetServerInfo", "params": []}},
        "expect": {{"error_code": -32601, "result": {{"runs": 1, "nothing.here": true}}}}}}
    ])", url)));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"pass","text":"error code -32601 as expected"},)"
          R"({"op_idx":1,"status":"pass","text":"Assert tested TRUE."},)"
          R"({"op_idx":2,"status":"fail","text":"error code -32601 (\"Method not found: \\\"Nope\\\"\"), expected no error"},)"
          R"({"op_idx":2,"status":"fail","text":"no result (error code -32601 (\"Method not found: \\\"Nope\\\"\")), expected result \"a\" to be 1"},)"
          R"({"op_idx":3,"status":"fail","text":"error code -32001 (\"unknown run_id \\\"none\\\" (never existed, discarded, or cancelled)\"), expected -32602"},)"
          R"({"op_idx":4,"status":"fail","text":"no error, expected error code -32601"},)"
          R"({"op_idx":4,"status":"fail","text":"result \"runs\" is 0, expected 1"},)"
          R"({"op_idx":4,"status":"fail","text":"result \"nothing.here\" is missing, expected true"}])");
    CHECK(engine.Status(id)["counts"]["failed"].GetUint64() == 1);
  }
  SECTION("mandatory: the first failed expectation aborts") {
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "GetServerInfo"}},
        "mandatory": true, "expect": {{"error_code": null, "result": {{"runs": 2}}}}}},
      {{"type": "comment", "text": "never"}}
    ])", url)));
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"pass","text":"no error as expected"},)"
          R"({"op_idx":0,"status":"abort","text":"result \"runs\" is 0, expected 2"}])");
    rapidjson::Document status = engine.Status(id);
    CHECK(status["counts"]["aborted"].GetUint64() == 1);
    CHECK(ToText(status["first_aborts"]) ==
          R"([{"op_idx":0,"text":"result \"runs\" is 0, expected 2","count":1}])");
  }
}

TEST_CASE("jsonrpc: a notification is sent without an id and awaits no response",
          "[integration]") {
  Daemon target;
  FOR_EACH_FRAMING(framing);
  LiveEngine engine;
  std::string url = TargetUrl(target, framing);
  std::string run = framing == Framing::kHttp ? "notified-http" : "notified-framed";
  std::string id = engine.Execute(Ops(fmt::format(R"([
    {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "ExecuteTest", "notification": true,
      "params": {{"run_id": "{}", "operations": [{{"type": "halt"}}]}}}}}},
    {{"type": "assert", "expression": "i.jsonrpc.result == nil and i.jsonrpc.error == nil and i.jsonrpc.time >= 0"}}
  ])", url, run)));
  REQUIRE(!id.empty());
  engine.RunUntilDone(id);
  CHECK(engine.CheckLog(id) == R"([{"op_idx":1,"status":"pass","text":"Assert tested TRUE."}])");
  rapidjson::Document status = engine.Status(id);
  const auto& trace = status["first_call_summary"]["trace_log"];
  std::string body = fmt::format(
      R"({{"jsonrpc":"2.0","method":"ExecuteTest","params":{{"run_id":"{}","operations":[{{"type":"halt"}}]}}}})",
      run);
  if (framing == Framing::kHttp) {
    // Over HTTP the op ends with the HTTP response (204 for a notification).
    REQUIRE(trace.Size() == 2);
    CHECK(Text(trace[0]["hex"]).find(HexEncode(body)) != std::string::npos);
    CHECK(trace[1]["status"].GetInt() == 204);
  } else {
    // Framed, once the frame is written: no response entry.
    REQUIRE(trace.Size() == 1);
    CHECK(Text(trace[0]["hex"]) == HexEncode(Frame(body)));
  }
  CHECK(status["latency"][0]["count"].GetUint64() == 1);
  // The target did execute it.
  RpcClient client(target, Framing::kHttp);
  client.WaitCount(run, "halted", 1);
}

TEST_CASE("jsonrpc: tokens over both framings (auth, headers)", "[integration]") {
  Daemon target({"--token", "s3cret:operator"});
  FOR_EACH_FRAMING(framing);
  LiveEngine engine;
  std::string url = TargetUrl(target, framing);
  std::string id = engine.Execute(Ops(fmt::format(R"([
    {{"type": "jsonrpc", "arguments": {{"url": "{0}", "method": "GetServerInfo", "auth": "s3cret"}},
      "expect": {{"error_code": null}}}},
    {{"type": "jsonrpc", "arguments": {{"url": "{0}", "method": "GetServerInfo"}},
      "expect": {{"error_code": -32010}}}},
    {{"type": "jsonrpc", "arguments": {{"url": "{0}", "method": "GetServerInfo", "auth": "wrong"}},
      "expect": {{"error_code": -32010}}}}
  ])", url)));
  REQUIRE(!id.empty());
  engine.RunUntilDone(id);
  CHECK(engine.CheckLog(id) ==
        R"([{"op_idx":0,"status":"pass","text":"no error as expected"},)"
        R"({"op_idx":1,"status":"pass","text":"error code -32010 as expected"},)"
        R"({"op_idx":2,"status":"pass","text":"error code -32010 as expected"}])");
  rapidjson::Document status = engine.Status(id);
  const auto& trace = status["first_call_summary"]["trace_log"];
  REQUIRE(trace.Size() == 6);
  std::string sent = Text(trace[0]["hex"]);
  if (framing == Framing::kHttp) {
    CHECK(sent.find(HexEncode("\r\nAuthorization: Bearer s3cret\r\n")) != std::string::npos);
    // The 401 carries a JSON-RPC error (id null): that is the op's answer.
    CHECK(trace[3]["status"].GetInt() == 401);
    std::string id2 = engine.Execute(Ops(fmt::format(R"([
      {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "GetServerInfo",
        "headers": {{"Authorization": "Bearer s3cret"}}}}, "expect": {{"error_code": null}}}}
    ])", url)));
    engine.RunUntilDone(id2);
    CHECK(engine.CheckLog(id2) ==
          R"([{"op_idx":0,"status":"pass","text":"no error as expected"}])");
  } else {
    CHECK(sent == HexEncode(Frame(
                      R"({"jsonrpc":"2.0","method":"GetServerInfo","id":0,"auth":"s3cret"})")));
  }
}

TEST_CASE("jsonrpc: https:// and tls:// with the target's certificate", "[integration]") {
  Daemon target({}, Daemon::Options{.tls = true});
  LiveEngine engine;
  std::string ca = target.tls_files().cert;
  std::string https = fmt::format("https://127.0.0.1:{}/", target.tls_port());
  std::string tls = fmt::format("tls://127.0.0.1:{}", target.tls_port());
  SECTION("verified with the CA file") {
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "GetServerInfo",
        "tls": {{"ca_file": "{}"}}}}, "expect": {{"error_code": null}}}},
      {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "GetServerInfo",
        "tls": {{"ca_file": "{}"}}}}, "expect": {{"error_code": null}}}}
    ])", https, ca, tls, ca)));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"pass","text":"no error as expected"},)"
          R"({"op_idx":1,"status":"pass","text":"no error as expected"}])");
  }
  SECTION("untrusted certificate") {
    CHECK(engine.RunOnce(fmt::format(R"([
      {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "GetServerInfo"}}}}])", tls)) ==
          fmt::format(R"([{{"op_idx":0,"status":"abort","text":"JSON-RPC GetServerInfo {} )"
                      R"(failed: TLS error: certificate verify failed"}}])",
                      tls));
  }
}

TEST_CASE("jsonrpc: refused and timed-out requests abort naming the URL and cause",
          "[integration]") {
  Framing framing = GENERATE(Framing::kHttp, Framing::kFramed);
  INFO("framing: " << FramingName(framing));
  LiveEngine engine;
  SECTION("refused") {
    std::string url = framing == Framing::kHttp
                          ? fmt::format("http://127.0.0.1:{}/", RefusedPort())
                          : fmt::format("tcp://127.0.0.1:{}", RefusedPort());
    CHECK(engine.RunOnce(fmt::format(
        R"([{{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "m"}}}}])", url)) ==
          fmt::format(R"([{{"op_idx":0,"status":"abort","text":"JSON-RPC m {} failed: )"
                      R"(connection refused"}}])",
                      url));
  }
  SECTION("timeout, with the latency recorded") {
    SilentServer server;
    std::string url = framing == Framing::kHttp
                          ? fmt::format("http://127.0.0.1:{}/", server.port())
                          : fmt::format("tcp://127.0.0.1:{}", server.port());
    CHECK(engine.RunOnceTimingOut(fmt::format(
        R"([{{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "m", "timeout": 0.3}}}}])",
        url)) ==
          fmt::format(R"([{{"op_idx":0,"status":"abort","text":"JSON-RPC m {} timed out )"
                      R"(after 0.3 seconds"}}])",
                      url));
  }
}

TEST_CASE("jsonrpc: answers that are not a JSON-RPC response to the request abort",
          "[integration]") {
  LiveEngine engine;
  struct Case {
    Framing framing;
    std::string reply;
    std::string cause;
    bool reset = false;
  };
  auto framed = [](std::string_view body) { return Frame(body); };
  const Case cases[] = {
      {Framing::kHttp, HttpReply(200, "OK", "{not json"), "response is not JSON"},
      {Framing::kFramed, framed("{not json"), "response is not JSON"},
      {Framing::kHttp, HttpReply(404, "Not Found", "<html>no</html>"),
       "HTTP status 404, not a JSON-RPC response"},
      {Framing::kHttp, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
       "empty response (HTTP status 204)"},
      {Framing::kFramed, framed(R"({"result":1,"id":0})"),
       R"(not a JSON-RPC 2.0 response (\"jsonrpc\" is not \"2.0\"))"},
      {Framing::kFramed, framed(R"([{"jsonrpc":"2.0","result":1,"id":0}])"),
       "not a JSON-RPC 2.0 response (an array)"},
      {Framing::kHttp, HttpReply(200, "OK", R"({"jsonrpc":"2.0","id":0})"),
       R"(not a JSON-RPC 2.0 response (neither \"result\" nor \"error\"))"},
      {Framing::kFramed, framed(R"({"jsonrpc":"2.0","result":1,"error":{},"id":0})"),
       R"(not a JSON-RPC 2.0 response (both \"result\" and \"error\"))"},
      {Framing::kFramed, framed(R"({"jsonrpc":"2.0","error":{"code":"x"},"id":0})"),
       R"(not a JSON-RPC 2.0 response (\"error\" is not {\"code\": integer, \"message\": string, ...}))"},
      {Framing::kFramed, framed(R"({"jsonrpc":"2.0","result":1})"),
       R"(not a JSON-RPC 2.0 response (no \"id\"))"},
      {Framing::kHttp, HttpReply(200, "OK", R"({"jsonrpc":"2.0","result":1,"id":99})"),
       "response id 99 does not match the request id 0"},
      {Framing::kFramed, framed(R"({"jsonrpc":"2.0","result":1,"id":"0"})"),
       R"(response id \"0\" does not match the request id 0)"},
      {Framing::kFramed, framed(R"({"jsonrpc":"2.0","result":1,"id":null})"),
       "response id null does not match the request id 0"},
      {Framing::kFramed, std::string("\0\0\0\0", 4), "invalid length prefix 0"},
      {Framing::kFramed, std::string("\xff\0\0\0", 4),
       "response length 4278190080 over the limit of 16777216 bytes"},
      {Framing::kFramed, std::string("\0\0\0\x10{\"a\"", 8),
       "connection closed before the response was complete"},
      {Framing::kFramed, "", "connection closed by peer"},
      {Framing::kFramed, "", "connection reset by peer", true},
      {Framing::kHttp, "", "connection reset by peer", true},
  };
  for (const Case& c : cases) {
    CannedServer server(c.framing, c.reply, c.reset);
    INFO("reply: " << c.reply);
    std::string id = engine.Execute(Ops(fmt::format(
        R"([{{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "m"}}}}])", server.Url())));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          fmt::format(R"([{{"op_idx":0,"status":"abort","text":"JSON-RPC m {} failed: {}"}}])",
                      server.Url(), c.cause));
  }
}

TEST_CASE("jsonrpc: a given id, an error with id null, the whole result", "[integration]") {
  LiveEngine engine;
  SECTION("a string id is sent and must come back") {
    CannedServer server(Framing::kFramed, Frame(R"({"jsonrpc":"2.0","result":[5,6],"id":"q-7"})"));
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "sum", "id": "{{'q-' .. 7}}",
        "params": ["{{1 + 1}}", 3]}}, "expect": {{"result": {{"": [5, 6], "1": 6}}}}}}
    ])", server.Url())));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"pass","text":"result is [5,6]"},)"
          R"({"op_idx":0,"status":"pass","text":"result \"1\" is 6"}])");
    CHECK(server.last_request() ==
          Frame(R"({"jsonrpc":"2.0","method":"sum","params":[2,3],"id":"q-7"})"));
  }
  SECTION("an error whose id the server could not read (null) is the answer") {
    CannedServer server(Framing::kHttp,
                        HttpReply(200, "OK", R"({"jsonrpc":"2.0","error":{"code":-32700,)"
                                             R"("message":"Parse error"},"id":null})"));
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "m",
        "headers": {{"X-Extra": "1", "Content-Type": "application/json-rpc"}}}},
        "expect": {{"error_code": -32700}}}}
    ])", server.Url())));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"pass","text":"error code -32700 as expected"}])");
    std::string body = R"({"jsonrpc":"2.0","method":"m","id":0})";
    CHECK(server.last_request() ==
          fmt::format("POST /rpc HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nX-Extra: 1\r\n"
                      "Content-Type: application/json-rpc\r\n\r\n{}",
                      server.Url().substr(7, server.Url().size() - 11), body.size(), body));
  }
}

TEST_CASE("jsonrpc: every attribute problem is reported at ExecuteTest", "[integration]") {
  LiveEngine engine;
  std::string id = engine.Execute(Ops(R"([
    {"type": "jsonrpc"},
    {"type": "jsonrpc", "arguments": {"method": "m"}},
    {"type": "jsonrpc", "arguments": {"url": "ftp://x/", "method": "m"}},
    {"type": "jsonrpc", "arguments": {"url": "http://h:0/", "method": "m"}},
    {"type": "jsonrpc", "arguments": {"url": "tcp://h", "method": "m"}},
    {"type": "jsonrpc", "arguments": {"url": "tls://h:1/path", "method": "m"}},
    {"type": "jsonrpc", "arguments": {"url": "tcp://h:70000", "method": "m"}},
    {"type": "jsonrpc", "arguments": {"url": 5}},
    {"type": "jsonrpc", "arguments": {"url": "tcp://h:1", "method": "", "params": 5,
                                      "notification": "yes", "id": 1.5, "auth": 7,
                                      "timeout": 0, "tls": 3, "headers": {"A": "1"}}},
    {"type": "jsonrpc", "arguments": {"url": "http://h/", "method": 4, "timeout": 3601,
                                      "headers": {"A": "x\r\ny", "B c": "1"}}},
    {"type": "jsonrpc", "arguments": {"url": "http://h/", "method": "m", "notification": true,
                                      "id": 1}, "expect": {"error_code": null}},
    {"type": "jsonrpc", "arguments": {"url": "{v.url}", "method": "{v.m}", "params": "{v.p}",
                                      "timeout": "{v.t}"},
     "expect": {"error_code": "x", "result": [1]}, "mandatory": "yes"},
    {"type": "jsonrpc", "arguments": {"url": "http://h/", "method": "m"},
     "expect": {"error_code": 1.5, "result": "{v.r}"}, "mandatory": "{v.mandatory}"},
    {"type": "jsonrpc", "arguments": {"url": "http://h/", "method": "m"}, "expect": 3}
  ])"));
  CHECK(id.empty());
  CHECK(engine.Problems() ==
        "0|arguments|is required\n"
        "1|arguments.url|is required\n"
        "2|arguments.url|must be an http://, https://, tcp:// or tls:// URL: unknown scheme "
        "\"ftp\", got \"ftp://x/\"\n"
        "3|arguments.url|must be an http://, https://, tcp:// or tls:// URL: port 0 out of "
        "range (1-65535), got \"http://h:0/\"\n"
        "4|arguments.url|must be an http://, https://, tcp:// or tls:// URL: tcp:// needs a "
        "port, got \"tcp://h\"\n"
        "5|arguments.url|must be an http://, https://, tcp:// or tls:// URL: tls:// takes no "
        "path, got \"tls://h:1/path\"\n"
        "6|arguments.url|must be an http://, https://, tcp:// or tls:// URL: not a URL, got "
        "\"tcp://h:70000\"\n"
        "7|arguments.url|must be a string, got 5\n"
        "7|arguments.method|is required\n"
        "8|arguments.timeout|must be greater than 0 and at most 3600, got 0\n"
        "8|arguments.tls|must be true, false or an object {\"verify\", \"ca_file\", "
        "\"server_name\"}, got 3\n"
        "8|arguments.headers|apply to http:// and https:// URLs only, not to tcp:// ones\n"
        "8|arguments.method|must not be empty\n"
        "8|arguments.params|must be an object or an array, got 5\n"
        "8|arguments.notification|must be true or false, got \"yes\"\n"
        "8|arguments.id|must be a string or an integer, got 1.5\n"
        "8|arguments.auth|must be a string, got 7\n"
        "9|arguments.timeout|must be greater than 0 and at most 3600, got 3601\n"
        "9|arguments.headers.A|must not contain CR, LF or NUL\n"
        "9|arguments.headers.B c|is not an HTTP token (a header name)\n"
        "9|arguments.method|must be a string, got 4\n"
        "10|arguments.id|is not allowed in a notification\n"
        "10|expect|is not allowed with \"arguments.notification\": true (a notification gets "
        "no response)\n"
        "11|mandatory|must be true or false, got \"yes\"\n"
        "11|expect.error_code|must be an integer or null, got \"x\"\n"
        "11|expect.result|must be an object, got an array\n"
        "12|expect.error_code|must be an integer or null, got 1.5\n"
        "13|expect|must be an object, got 3\n");
}

TEST_CASE("jsonrpc: {...} values are checked when the op runs", "[integration]") {
  LiveEngine engine;
  SECTION("a bad URL") {
    std::string id = engine.Execute(R"({"vars": {"u": "gopher://x"}, "operations": [
      {"type": "jsonrpc", "arguments": {"url": "{v.u}", "method": "m"}}]})");
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"abort","text":"arguments.url must be an http://, )"
          R"(https://, tcp:// or tls:// URL: unknown scheme \"gopher\", got \"gopher://x\""}])");
  }
  SECTION("params that are neither object nor array; a notification with expect") {
    std::string id = engine.Execute(R"({"vars": {"n": true}, "operations": [
      {"type": "jsonrpc", "arguments": {"url": "tcp://127.0.0.1:1", "method": "m",
        "notification": "{v.n}"}, "expect": {"error_code": null}}]})");
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"abort","text":"expect is not allowed with )"
          R"x(\"arguments.notification\": true (a notification gets no response)"}])x");
    id = engine.Execute(R"({"operations": [
      {"type": "jsonrpc", "arguments": {"url": "tcp://127.0.0.1:1", "method": "m",
        "params": "{'x'}"}}]})");
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"abort","text":"arguments.params must be an object or )"
          R"(an array, got \"x\""}])");
  }
}

TEST_CASE("jsonrpc: every descriptor is released", "[integration]") {
  Daemon target;
  LiveEngine engine;
  engine.io.dns();  // the resolver's socket, created on first use, is no leak
  size_t before = engine.SettledDescriptors();
  SECTION("10,000 framed and 2,000 HTTP instances") {
    for (auto [framing, total] : {std::pair{Framing::kFramed, 10000}, {Framing::kHttp, 2000}}) {
      std::string id = engine.Execute(LoadOps(total, 50, fmt::format(R"([
        {{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "GetServerInfo"}},
          "expect": {{"error_code": null}}}}])", TargetUrl(target, framing))));
      REQUIRE(!id.empty());
      engine.RunUntilDone(id, 120);
      rapidjson::Document status = engine.Status(id);
      CHECK(status["counts"]["passed"].GetUint64() == static_cast<uint64_t>(total));
      CHECK(status["latency"][0]["count"].GetUint64() == static_cast<uint64_t>(total));
    }
    // Framed calls keep nothing; HTTP keeps at most the pool's idle connections.
    CHECK(engine.io.http().opened() <= 50);
    CHECK(OpenDescriptors() <= before + 50);
  }
  SECTION("cancelled and timed-out instances release their sockets and timers") {
    SilentServer server;
    for (std::string url : {fmt::format("tcp://127.0.0.1:{}", server.port()),
                            fmt::format("http://127.0.0.1:{}/", server.port())}) {
      std::string id = engine.Execute(LoadOps(200, 200, fmt::format(
          R"([{{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "m"}}}}])", url)));
      REQUIRE(!id.empty());
      engine.RunFor(0.3);
      CHECK(OpenDescriptors() >= before + 150);
      engine.CancelReleases(id, before);
      id = engine.Execute(LoadOps(200, 200, fmt::format(
          R"([{{"type": "jsonrpc", "arguments": {{"url": "{}", "method": "m", "timeout": 0.2}}}}])",
          url)));
      engine.TimeoutsRelease(id, 200, before);
    }
  }
}

TEST_CASE("jsonrpc: one testrund load-tests another", "[integration]") {
  Daemon target;
  Daemon driver;
  RpcClient client(driver, Framing::kFramed);
  std::string run = client.Execute(fmt::format(R"({{"run_id": "d2d",
    "distribution": {{"type": "linear", "rate": 200, "total": 100}}, "operations": [
    {{"type": "jsonrpc", "arguments": {{"url": "tcp://127.0.0.1:{}", "method": "GetServerInfo"}},
      "expect": {{"error_code": null}}}}]}})",
                                               target.port()));
  Reply done = client.WaitCompleted(run);
  const rapidjson::Value& result = done.result();
  CHECK(result["counts"]["passed"].GetInt() == 100);
  CHECK(result["latency"][0]["count"].GetInt() == 100);
  CHECK(ToText(result["first_call_summary"]["check_log"]) ==
        R"([{"op_idx":0,"step":0,"status":"pass","text":"no error as expected"}])");
  CHECK(driver.Stop() == 0);
  CHECK(target.Stop() == 0);
}

}  // namespace testrund::test
