// SPDX-License-Identifier: Apache-2.0
// Protocol ops against real servers on 127.0.0.1, started inside the test: an evhttp server
// (plain and TLS with a generated certificate) with a slow path and an invalid-JSON path on
// its own thread, a server that resets every connection, and a port nobody listens on. The
// engine runs in process on a real event_base (LiveEngine, live_engine.h), so the tests read
// check_log texts, i.* values, trace entries, latency counts and descriptor counts exactly;
// one test drives the real testrund binary to check the daemon's wiring.
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "ops/net/http_client.h"
#include "ops/base/hex.h"
#include "ops/net/io_context.h"
#include "ops/protocol/op_protocol.h"
#include "ops/run_registry.h"
#include "test/integration/harness.h"
#include "test/integration/live_engine.h"
#include "test/integration/server_loop.h"

namespace testrund::test {
namespace {

using testrund::ops::HexEncode;

// An evhttp server on its own thread and event_base.
class TestHttpServer {
 public:
  // `own_process`: serve from a forked child, so that the server's descriptors do not count
  // in this process's (the descriptor-release tests).
  explicit TestHttpServer(const TlsFiles* tls = nullptr, bool own_process = false) {
    int fd = BindLoopback(SOCK_STREAM | SOCK_NONBLOCK, &port_);
    REQUIRE(listen(fd, 1024) == 0);
    loop_.Start(own_process, fd, [&] {
      Setup(tls, fd);
      return base_;
    });
  }
  ~TestHttpServer() {
    loop_.Stop();
    if (loop_.forked()) return;
    evhttp_free(http_);
    event_base_free(base_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  std::string Url(std::string_view path, bool tls = false) const {
    return fmt::format("{}://127.0.0.1:{}{}", tls ? "https" : "http", port_, path);
  }
  int requests() const { return requests_; }

 private:
  void Setup(const TlsFiles* tls, int fd) {
    base_ = event_base_new();
    http_ = evhttp_new(base_);
    if (tls != nullptr) {
      ctx_ = NewServerTlsContext(*tls);
      evhttp_set_bevcb(http_, &TestHttpServer::OnNewTls, ctx_);
    }
    evhttp_set_gencb(http_, &TestHttpServer::OnRequest, this);
    evhttp_accept_socket(http_, fd);
  }

  static bufferevent* OnNewTls(event_base* base, void* arg) {
    SSL* ssl = SSL_new(static_cast<SSL_CTX*>(arg));
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
  }
  static void Reply(evhttp_request* req, int code, std::string_view body,
                    const char* type = "text/plain") {
    evbuffer* out = evbuffer_new();
    evbuffer_add(out, body.data(), body.size());
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", out);
    evbuffer_free(out);
  }
  static void OnSlowReply(evutil_socket_t, short, void* arg) {
    Reply(static_cast<evhttp_request*>(arg), 200, "slow");
  }
  static void OnRequest(evhttp_request* req, void* arg) {
    auto* self = static_cast<TestHttpServer*>(arg);
    ++self->requests_;
    std::string path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (path == "/json") {
      Reply(req, 200, R"({"a":{"b":1},"list":[10,20],"name":"x"})", "application/json");
    } else if (path == "/echo") {
      evbuffer* in = evhttp_request_get_input_buffer(req);
      std::string body(evbuffer_get_length(in), '\0');
      evbuffer_copyout(in, body.data(), body.size());
      const char* type = evhttp_find_header(evhttp_request_get_input_headers(req),
                                            "Content-Type");
      const char* custom = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Custom");
      evhttp_add_header(evhttp_request_get_output_headers(req), "X-Got-Type",
                        type != nullptr ? type : "none");
      evhttp_add_header(evhttp_request_get_output_headers(req), "X-Got-Custom",
                        custom != nullptr ? custom : "none");
      Reply(req, 200, body);
    } else if (path == "/slow") {
      timeval two{2, 0};
      event_base_once(self->base_, -1, EV_TIMEOUT, &TestHttpServer::OnSlowReply, req, &two);
    } else if (path == "/badjson") {
      Reply(req, 200, "{not json", "application/json");
    } else if (path == "/huge") {
      Reply(req, 200, std::string(testrund::ops::HttpCall::kMaxResponseBytes, 'x'));
    } else if (path == "/hello") {
      Reply(req, 200, "hello world");
    } else {
      Reply(req, 404, "no such path");
    }
  }

  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  SSL_CTX* ctx_ = nullptr;
  uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  ServerLoop loop_;
};

// Accepts connections, reads a little, and resets them (SO_LINGER 0).
class ResetServer {
 public:
  ResetServer() {
    fd_ = BindLoopback(SOCK_STREAM, &port_);
    REQUIRE(listen(fd_, 64) == 0);
    thread_ = std::thread([this] {
      while (true) {
        int client = accept(fd_, nullptr, nullptr);
        if (client < 0 || stop_) {
          if (client >= 0) close(client);
          return;
        }
        char buffer[4096];
        (void)read(client, buffer, sizeof(buffer));
        linger lin{1, 0};
        setsockopt(client, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
        close(client);
      }
    });
  }
  ~ResetServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One http op of `url` (`more`: further arguments, each after a comma) as the operations.
std::string HttpOp(std::string_view url, std::string_view more = "") {
  return fmt::format(R"([{{"type": "http", "arguments": {{"url": "{}"{}}}}}])", url, more);
}

// The check_log of a lone http op that aborted: "HTTP <method> <url> <what>".
std::string HttpAborted(std::string_view method, std::string_view url, std::string_view what) {
  return fmt::format(R"([{{"op_idx":0,"status":"abort","text":"HTTP {} {} {}"}}])", method, url,
                     what);
}

}  // namespace

TEST_CASE("http: GET, expectations, i.http, trace hex and latency", "[integration]") {
  TestHttpServer server;
  LiveEngine engine;
  std::string id = engine.Execute(Ops(fmt::format(R"([
    {{"type": "http", "arguments": {{"url": "{}"}},
      "expect": {{"status": 200, "body_contains": "\"b\":1",
                 "header": {{"Content-Type": "application/json"}},
                 "json": {{"a.b": 1, "list.1": 20, "name": "x"}}}}}},
    {{"type": "assert", "expression": "i.http.status == 200 and i.http.json.a.b == 1 and i.http.json.list[2] == 20 and i.http.headers['content-type'] == 'application/json' and type(i.http.time) == 'number' and i.http.body:sub(1, 5) == '{{\"a\":'"}}
  ])", server.Url("/json"))));
  REQUIRE(!id.empty());
  engine.RunUntilDone(id);
  CHECK(engine.CheckLog(id) ==
        R"([{"op_idx":0,"status":"pass","text":"status 200 as expected"},)"
        R"({"op_idx":0,"status":"pass","text":"body contains \"\\\"b\\\":1\""},)"
        R"({"op_idx":0,"status":"pass","text":"header \"content-type\" is \"application/json\""},)"
        R"({"op_idx":0,"status":"pass","text":"json \"a.b\" is 1"},)"
        R"({"op_idx":0,"status":"pass","text":"json \"list.1\" is 20"},)"
        R"({"op_idx":0,"status":"pass","text":"json \"name\" is \"x\""},)"
        R"({"op_idx":1,"status":"pass","text":"Assert tested TRUE."}])");
  rapidjson::Document status = engine.Status(id);
  CHECK(status["counts"]["passed"].GetUint64() == 1);
  const auto& trace = status["first_call_summary"]["trace_log"];
  REQUIRE(trace.Size() == 2);
  std::string request = fmt::format("GET /json HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
                                    server.port());
  CHECK(std::string(trace[0]["path"].GetString()) == "http.tester_to_sut");
  CHECK(std::string(trace[0]["protocol"].GetString()) == "http");
  CHECK(std::string(trace[0]["hex"].GetString()) == HexEncode(request));
  CHECK(trace[0]["length"].GetUint64() == request.size());
  CHECK_FALSE(trace[0].HasMember("truncated"));
  CHECK(std::string(trace[0]["method"].GetString()) == "GET");
  CHECK(std::string(trace[0]["url"].GetString()) == server.Url("/json"));
  CHECK(trace[0]["op_idx"].GetInt() == 0);
  CHECK(trace[0]["step"].GetInt() == 0);
  CHECK(std::string(trace[1]["path"].GetString()) == "http.sut_to_tester");
  CHECK(trace[1]["status"].GetInt() == 200);
  CHECK(trace[1]["step"].GetInt() == 0);
  std::string response_hex = trace[1]["hex"].GetString();
  CHECK(response_hex.rfind(HexEncode("HTTP/1.1 200 OK\r\n"), 0) == 0);
  CHECK(response_hex.size() % 2 == 0);
  const auto& latency = status["latency"];
  REQUIRE(latency.Size() == 1);
  CHECK(latency[0]["op_idx"].GetInt() == 0);
  CHECK(latency[0]["count"].GetUint64() == 1);
  CHECK(latency[0]["max"].GetDouble() < 5);
}

TEST_CASE("http: first_fail_summary traces the failing instance's messages in hex",
          "[integration]") {
  TestHttpServer server;
  LiveEngine engine;
  std::string request = fmt::format("GET /json HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
                                    server.port());
  // The fail after the messages (they were traced before it was known to fail), and the
  // fail before them.
  for (bool fail_first : {false, true}) {
    std::string http = fmt::format(R"({{"type": "http", "arguments": {{"url": "{}"}}}})",
                                   server.Url("/json"));
    std::string check = R"({"type": "assert", "expression": "instance ~= 3"})";
    std::string id = engine.Execute(fmt::format(
        R"({{"distribution": {{"type": "load", "total": 6}}, "operations": [{}, {}]}})",
        fail_first ? check : http, fail_first ? http : check));
    engine.RunUntilDone(id);
    rapidjson::Document status = engine.Status(id);
    INFO("fail first: " << fail_first << ", " << ToText(status["first_fail_summary"]));
    const auto& ffs = status["first_fail_summary"];
    CHECK(ffs["idx"].GetInt64() == 3);
    const auto& trace = ffs["trace_log"];
    REQUIRE(trace.Size() == 2);
    CHECK(std::string(trace[0]["hex"].GetString()) == HexEncode(request));
    CHECK(trace[0]["length"].GetUint64() == request.size());
    std::string response_hex = trace[1]["hex"].GetString();
    CHECK(response_hex.rfind(HexEncode("HTTP/1.1 200 OK\r\n"), 0) == 0);
    CHECK(response_hex.size() == 2 * trace[1]["length"].GetUint64());
  }
}

TEST_CASE("http: an i.http over the Lua memory limit aborts the instance", "[integration]") {
  TestHttpServer server;
  testrund::ops::EngineLimits limits = testrund::test::TestEngineLimits();
  limits.lua.memory_limit = 1u << 20;
  LiveEngine engine(limits);
  CHECK(engine.RunOnce(fmt::format(
      R"([{{"type": "http", "arguments": {{"method": "POST", "url": "{}", "body": "{}"}}}},
          {{"type": "eval", "expression": "v.status = i.http.status"}}])",
      server.Url("/echo"), std::string(2'000'000, 'b'))) ==
        R"x([{"op_idx":0,"status":"abort","text":"Lua memory limit (1048576 bytes) exceeded )x"
        R"x(storing i.http in op 0 (http)"}])x");
  // The sandbox is usable afterwards: a second run in the same registry passes.
  std::string next = engine.Execute(Ops(R"([{"type": "eval", "expression": "v.x = 1"}])"));
  engine.RunUntilDone(next);
  CHECK(engine.Status(next)["counts"]["passed"].GetUint64() == 1);
}

TEST_CASE("http: a message over 64 KiB is traced by its first 64 KiB", "[integration]") {
  TestHttpServer server;
  LiveEngine engine;
  std::string body(100'000, 'b');
  std::string id = engine.Execute(Ops(fmt::format(
      R"([{{"type": "http", "arguments": {{"method": "POST", "url": "{}", "body": "{}"}},
           "expect": {{"status": 200}}}}])", server.Url("/echo"), body)));
  engine.RunUntilDone(id);
  rapidjson::Document status = engine.Status(id);
  CHECK(status["counts"]["passed"].GetUint64() == 1);
  const auto& trace = status["first_call_summary"]["trace_log"];
  REQUIRE(trace.Size() == 2);
  std::string head = fmt::format("POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", server.port());
  for (int k = 0; k < 2; ++k) {
    std::string hex = trace[k]["hex"].GetString();
    CHECK(hex.size() == 2 * testrund::ops::kMaxTracedMessageBytes);
    CHECK(trace[k]["length"].GetUint64() > body.size());
    CHECK(trace[k]["truncated"].GetBool());
  }
  CHECK(std::string(trace[0]["hex"].GetString()).rfind(HexEncode(head), 0) == 0);
}

TEST_CASE("http: POST json/body and headers; failed and mandatory expectations",
          "[integration]") {
  TestHttpServer server;
  LiveEngine engine;
  SECTION("json body is serialised with a Content-Type; {...} values evaluate") {
    std::string id = engine.Execute(fmt::format(R"({{"vars": {{"n": 6}}, "operations": [
      {{"type": "http", "arguments": {{"method": "post", "url": "{}",
        "headers": {{"X-Custom": "{{'v' .. v.n}}"}}, "json": {{"n": "{{v.n}}", "s": "t"}}}},
        "expect": {{"json": {{"n": 6}}, "header": {{"x-got-type": "application/json",
                                                   "X-Got-Custom": "v6"}}}}}}
    ]}})", server.Url("/echo")));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"pass","text":"header \"x-got-type\" is \"application/json\""},)"
          R"({"op_idx":0,"status":"pass","text":"header \"x-got-custom\" is \"v6\""},)"
          R"({"op_idx":0,"status":"pass","text":"json \"n\" is 6"}])");
  }
  SECTION("failed expectations are fails; the instance continues") {
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "http", "arguments": {{"url": "{}"}},
        "expect": {{"status": [200, 201], "body_contains": "zzz", "header": {{"X-None": "1"}},
                   "json": {{"a": 1}}}}}},
      {{"type": "http", "arguments": {{"url": "{}"}}, "expect": {{"status": 200}}}}
    ])", server.Url("/nowhere"), server.Url("/hello"))));
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"fail","text":"status 404, expected one of [200,201]"},)"
          R"({"op_idx":0,"status":"fail","text":"body does not contain \"zzz\""},)"
          R"({"op_idx":0,"status":"fail","text":"header \"x-none\" is missing, expected \"1\""},)"
          R"({"op_idx":0,"status":"fail","text":"body is not JSON, expected json \"a\" to be 1"},)"
          R"({"op_idx":1,"status":"pass","text":"status 200 as expected"}])");
    CHECK(engine.Status(id)["counts"]["failed"].GetUint64() == 1);
  }
  SECTION("an expected header that is null, or a {...} that gives nil, expects nothing") {
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "http", "arguments": {{"url": "{}"}},
        "expect": {{"header": {{"X-A": null, "X-B": "{{nil}}", "X-C": "{{v.none}}"}}}}}}
    ])", server.Url("/hello"))));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) == "[]");
    CHECK(engine.Status(id)["counts"]["passed"].GetUint64() == 1);
  }
  SECTION("mandatory: the first failed expectation aborts") {
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "http", "arguments": {{"url": "{}"}}, "mandatory": true,
        "expect": {{"status": 200, "body_contains": "zzz"}}}},
      {{"type": "comment", "text": "never"}}
    ])", server.Url("/hello"))));
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"pass","text":"status 200 as expected"},)"
          R"({"op_idx":0,"status":"abort","text":"body does not contain \"zzz\""}])");
    rapidjson::Document status = engine.Status(id);
    CHECK(status["counts"]["aborted"].GetUint64() == 1);
    CHECK(ToText(status["first_aborts"]) ==
          R"([{"op_idx":0,"text":"body does not contain \"zzz\"","count":1}])");
  }
  SECTION("invalid JSON: no i.http.json, the body is kept") {
    CHECK(engine.RunOnce(fmt::format(R"([
      {{"type": "http", "arguments": {{"url": "{}"}}}},
      {{"type": "assert", "expression": "i.http.json == nil and i.http.body == '{{not json'"}}
    ])", server.Url("/badjson"))) ==
          R"([{"op_idx":1,"status":"pass","text":"Assert tested TRUE."}])");
  }
}

TEST_CASE("http: refused, reset and timed-out requests abort naming the URL and cause",
          "[integration]") {
  LiveEngine engine;
  SECTION("refused") {
    std::string url = fmt::format("http://127.0.0.1:{}/x", RefusedPort());
    CHECK(engine.RunOnce(HttpOp(url)) == HttpAborted("GET", url, "failed: connection refused"));
  }
  SECTION("reset") {
    ResetServer server;
    std::string url = fmt::format("http://127.0.0.1:{}/", server.port());
    CHECK(engine.RunOnce(HttpOp(url, R"(, "method": "POST", "body": "0123456789")")) ==
          HttpAborted("POST", url, "failed: connection reset by peer"));
  }
  SECTION("a response over the limit") {
    TestHttpServer server;
    std::string url = server.Url("/huge");
    CHECK(engine.RunOnce(HttpOp(url)) ==
          HttpAborted("GET", url, "failed: response over the limit of 16777216 bytes"));
  }
  SECTION("timeout, with the latency recorded") {
    TestHttpServer server;
    std::string url = server.Url("/slow");
    CHECK(engine.RunOnceTimingOut(HttpOp(url, R"(, "timeout": 0.3)")) ==
          HttpAborted("GET", url, "timed out after 0.3 seconds"));
  }
}

TEST_CASE("https: verified with the CA file, refused without it, unverified on request",
          "[integration]") {
  TempDir dir;
  TlsFiles tls = GenerateSelfSignedCert(dir);
  TestHttpServer server(&tls);
  LiveEngine engine;
  std::string url = server.Url("/hello", true);
  SECTION("ca_file") {
    std::string id = engine.Execute(Ops(fmt::format(R"([
      {{"type": "http", "arguments": {{"url": "{}", "tls": {{"ca_file": "{}"}}}},
        "expect": {{"status": 200, "body_contains": "hello"}}}}])", url, tls.cert)));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id);
    CHECK(engine.CheckLog(id) ==
          R"([{"op_idx":0,"status":"pass","text":"status 200 as expected"},)"
          R"({"op_idx":0,"status":"pass","text":"body contains \"hello\""}])");
  }
  SECTION("untrusted certificate") {
    CHECK(engine.RunOnce(HttpOp(url)) ==
          HttpAborted("GET", url, "failed: TLS error: certificate verify failed"));
  }
  SECTION("verify false") {
    CHECK(engine.RunOnce(fmt::format(R"([
      {{"type": "http", "arguments": {{"url": "{}", "tls": {{"verify": false}}}},
        "expect": {{"status": 200}}}}])", url)) ==
          R"([{"op_idx":0,"status":"pass","text":"status 200 as expected"}])");
  }
}

TEST_CASE("http: every attribute problem is reported at ExecuteTest", "[integration]") {
  LiveEngine engine;
  std::string id = engine.Execute(Ops(R"([
    {"type": "http"},
    {"type": "http", "arguments": {"url": "ftp://x/"}},
    {"type": "http", "arguments": {"url": "http://h:0/"}},
    {"type": "http", "arguments": {"url": "http://h/", "body": "a", "json": {}}},
    {"type": "http", "arguments": {"url": "http://h/", "timeout": 0, "method": "G T",
                                   "headers": {"A": "x\r\ny", "B": []}, "tls": 3}},
    {"type": "http", "arguments": {"url": "{v.url}", "timeout": "{v.t}"},
     "expect": {"status": 99, "body_contains": 5, "header": [], "json": 1},
     "mandatory": "yes"}
  ])"));
  CHECK(id.empty());
  for (const auto& p : engine.last.problems) {
    CHECK(!p.problem.empty());
  }
  CHECK(engine.Problems() ==
        "0|arguments|is required\n"
        "1|arguments.url|must be an http:// or https:// URL: unknown scheme \"ftp\", got "
        "\"ftp://x/\"\n"
        "2|arguments.url|must be an http:// or https:// URL: port 0 out of range (1-65535), "
        "got \"http://h:0/\"\n"
        "3|arguments|must not have both \"body\" and \"json\"\n"
        "4|arguments.timeout|must be greater than 0 and at most 3600, got 0\n"
        "4|arguments.tls|must be true, false or an object {\"verify\", \"ca_file\", "
        "\"server_name\"}, got 3\n"
        "4|arguments.headers.A|must not contain CR, LF or NUL\n"
        "4|arguments.headers.B|must be a string or a number, got an empty array\n"
        "4|arguments.method|must be an HTTP method, got \"G T\"\n"
        "5|mandatory|must be true or false, got \"yes\"\n"
        "5|expect.status|must be an HTTP status (100-599) or a list of them, got 99\n"
        "5|expect.body_contains|must be a string, got 5\n"
        "5|expect.json|must be an object, got 1\n"
        "5|expect.header|must be an object, got an empty array\n");
}

TEST_CASE("http: an expression that evaluates to a bad URL aborts at execution",
          "[integration]") {
  LiveEngine engine;
  std::string id = engine.Execute(
      R"({"vars": {"u": "gopher://x"}, "operations": [
        {"type": "http", "arguments": {"url": "{v.u}"}}]})");
  REQUIRE(!id.empty());
  engine.RunUntilDone(id);
  CHECK(engine.CheckLog(id) ==
        R"([{"op_idx":0,"status":"abort","text":"arguments.url must be an http:// or )"
        R"(https:// URL: unknown scheme \"gopher\", got \"gopher://x\""}])");
}

TEST_CASE("http: connections are pooled and every descriptor is released",
          "[integration]") {
  TestHttpServer server(nullptr, /*own_process=*/true);
  LiveEngine engine;
  size_t before = engine.SettledDescriptors();
  SECTION("10,000 instances reuse a bounded pool") {
    std::string id = engine.Execute(LoadOps(10000, 50, fmt::format(R"([
      {{"type": "http", "arguments": {{"url": "{}"}}, "expect": {{"status": 200}}}}])",
                                                   server.Url("/hello"))));
    REQUIRE(!id.empty());
    engine.RunUntilDone(id, 120);
    rapidjson::Document status = engine.Status(id);
    CHECK(status["counts"]["passed"].GetUint64() == 10000);
    CHECK(status["latency"][0]["count"].GetUint64() == 10000);
    CHECK(engine.io.http().opened() <= 50);
    CHECK(engine.io.http().idle() <= testrund::ops::HttpPool::kMaxIdlePerTarget);
    CHECK(OpenDescriptors() <= before + testrund::ops::HttpPool::kMaxIdlePerTarget);
  }
  SECTION("cancelled instances release their sockets and timers") {
    std::string id = engine.Execute(LoadOps(300, 300, HttpOp(server.Url("/slow"))));
    REQUIRE(!id.empty());
    engine.RunFor(0.5);
    CHECK(OpenDescriptors() >= before + 250);
    engine.CancelReleases(id, before);
  }
  SECTION("aborted (timed-out) instances release theirs") {
    std::string id =
        engine.Execute(LoadOps(300, 300, HttpOp(server.Url("/slow"), R"(, "timeout": 0.2)")));
    engine.TimeoutsRelease(id, 300, before);
  }
}

TEST_CASE("http through the daemon: ExecuteTest to QueryTest", "[integration]") {
  TestHttpServer server;
  Daemon daemon;
  auto client = daemon.Http();
  std::string body = fmt::format(R"({{"jsonrpc": "2.0", "id": 1, "method": "ExecuteTest",
    "params": {{"run_id": "p1", "operations": [
      {{"type": "http", "arguments": {{"url": "{}"}}, "expect": {{"status": 200}}}}]}}}})",
                                 server.Url("/hello"));
  auto response = client.Post("/", body);
  REQUIRE(response.status == 200);
  rapidjson::Document reply = ParseJson(response.body);
  REQUIRE(reply.HasMember("result"));
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto query = client.Post("/", R"({"jsonrpc": "2.0", "id": 2, "method": "QueryTest",
                                      "params": {"run_id": "p1"}})");
    rapidjson::Document status = ParseJson(query.body);
    REQUIRE(status.HasMember("result"));
    if (status["result"]["completed"].GetInt() == 1) {
      CHECK(status["result"]["counts"]["passed"].GetUint64() == 1);
      CHECK(ToText(status["result"]["first_call_summary"]["check_log"]) ==
            R"([{"op_idx":0,"step":0,"status":"pass","text":"status 200 as expected"}])");
      CHECK(daemon.Stop() == 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("the run did not complete");
}

}  // namespace testrund::test
