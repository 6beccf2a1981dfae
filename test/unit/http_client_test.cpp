// SPDX-License-Identifier: Apache-2.0
// HttpCall and HttpPool in process, on an IoContext built on the test's own event_base,
// against a scripted HTTP server on 127.0.0.1 (loopback_server.h) in the same loop: the
// request bytes as the server read them, response parsing (status, header names lower-cased
// in order, Content-Length, chunked and close-delimited bodies, HEAD, 1xx), keep-alive reuse,
// the one retry after a server closed an idle connection, the failure texts (refused,
// invalid response, over the size limit, a CA file that cannot be loaded), destroying an
// unfinished call, and that no completion ever runs inside Start.
#include <fmt/core.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ops/net/http_client.h"
#include "ops/net/io_context.h"
#include "ops/net/url.h"
#include "test/unit/loopback_server.h"

using testrund::ops::HeaderList;
using testrund::ops::HttpCall;
using testrund::ops::HttpOutcome;
using testrund::ops::HttpRequest;
using testrund::ops::ParseUrl;
using testrund::ops::PrepareHttpRequest;
using testrund::test::ClientFixture;
using testrund::test::LoopbackConnection;
using testrund::test::OpenDescriptors;
using testrund::test::RefusingPort;

namespace {

constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The length of the first complete request in `bytes` (head and Content-Length body), or 0
// while it is incomplete.
size_t RequestLength(std::string_view bytes) {
  size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  std::string head = Lower(bytes.substr(0, end + 2));
  size_t body = 0;
  size_t at = head.find("\r\ncontent-length:");
  if (at != std::string::npos) body = std::stoul(head.substr(at + 17));
  size_t total = end + 4 + body;
  return bytes.size() >= total ? total : 0;
}

// ClientFixture (loopback_server.h) whose server answers each complete HTTP request and
// records them, and HttpCall's start.
struct HttpFixture : ClientFixture<HttpOutcome> {
  // What the server does with each complete request it read on `connection`.
  using Responder = std::function<void(LoopbackConnection& connection, const std::string&)>;

  HttpFixture() : ClientFixture([this](LoopbackConnection& c) { OnData(c); }) {}

  // "http://127.0.0.1:<server port><path>".
  std::string Address(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server.port()) + std::string(path);
  }

  static HttpRequest Request(std::string method, const std::string& url, std::string body = "",
                             HeaderList headers = {}) {
    HttpRequest request;
    request.method = std::move(method);
    auto parsed = ParseUrl(url, false);
    REQUIRE(parsed.ok());
    request.url = parsed.value();
    request.body = std::move(body);
    request.headers = std::move(headers);
    return request;
  }

  // Starts `request`; its completion is recorded in `outcome` and `completions`.
  std::unique_ptr<HttpCall> Start(HttpRequest request, bool keep_raw = false) {
    auto call = Started([&](HttpCall::OnDone on_done) {
      return HttpCall::Start(io, PrepareHttpRequest(std::move(request)), keep_raw,
                             std::move(on_done));
    });
    CHECK_FALSE(call->done());
    return call;
  }

  // Starts `request` and runs the loop until it completes (fails the test after 3 s).
  HttpOutcome Call(HttpRequest request, bool keep_raw = false) {
    int before = completions;
    auto call = Start(std::move(request), keep_raw);
    RunUntilCompleted(before);
    CHECK(call->done());
    return outcome;
  }

  void OnData(LoopbackConnection& connection) {
    while (!connection.closed()) {
      std::string_view unread = std::string_view(connection.received()).substr(connection.handled);
      size_t length = RequestLength(unread);
      if (length == 0) return;
      std::string request(unread.substr(0, length));
      connection.handled += length;
      requests.push_back(request);
      respond(connection, request);
    }
  }

  Responder respond = [](LoopbackConnection& c, const std::string&) { c.Write(kOk); };
  std::vector<std::string> requests;  // every complete request the server read, in order
};

// A responder writing `response` to every request.
HttpFixture::Responder Reply(std::string response) {
  return [response](LoopbackConnection& c, const std::string&) { c.Write(response); };
}

// A responder writing `pieces` a few milliseconds apart (the client reads them one by one).
HttpFixture::Responder ReplyInPieces(std::vector<std::string> pieces, bool close_after = false) {
  return [pieces, close_after](LoopbackConnection& c, const std::string&) {
    c.WriteInPieces(pieces, 5, close_after);
  };
}

}  // namespace

TEST_CASE("a GET sends its request line and Host, and reads status, headers and body",
          "[unit]") {
  HttpFixture f;
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-ID: Abc-1\r\n"
      "Set-Cookie: a=1\r\nX-Empty:\r\nset-cookie: b=2\r\nCONTENT-LENGTH: 5\r\n\r\nhello";
  f.respond = Reply(response);
  const std::string host = "127.0.0.1:" + std::to_string(f.server.port());
  const std::string expected = "GET /items/7?full=1 HTTP/1.1\r\nHost: " + host + "\r\n\r\n";

  auto call = f.Start(HttpFixture::Request("GET", f.Address("/items/7?full=1")),
                      /*keep_raw=*/true);
  CHECK(call->raw_request() == expected);
  REQUIRE(f.loop.RunUntil([&] { return f.completions == 1; }));

  REQUIRE(f.server.accepted() == 1);
  CHECK(f.server.connection(0).received() == expected);
  CHECK(f.outcome.error == "");
  CHECK(f.outcome.status == 200);
  // Repeated names stay separate entries; an empty value does not merge two names.
  CHECK(f.outcome.headers == HeaderList{{"content-type", "text/plain"},
                                        {"x-request-id", "Abc-1"},
                                        {"set-cookie", "a=1"},
                                        {"x-empty", ""},
                                        {"set-cookie", "b=2"},
                                        {"content-length", "5"}});
  CHECK(f.outcome.body == "hello");
  CHECK(f.outcome.raw_response == response);
  CHECK_FALSE(f.completed_in_start);

  SECTION("without keep_raw the response bytes are not kept") {
    HttpOutcome second = f.Call(HttpFixture::Request("GET", f.Address("/")));
    CHECK(second.error == "");
    CHECK(second.body == "hello");
    CHECK(second.raw_response == "");
  }
}

TEST_CASE("a POST gets Host and Content-Length before the given headers, then the body",
          "[unit]") {
  HttpFixture f;
  f.respond = Reply("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  const std::string host = "Host: 127.0.0.1:" + std::to_string(f.server.port()) + "\r\n";

  HttpOutcome outcome = f.Call(HttpFixture::Request(
      "POST", f.Address("/submit"), R"({"n":1})",
      {{"Content-Type", "application/json"}, {"X-Trace", "t-1"}}));
  CHECK(outcome.error == "");
  CHECK(outcome.status == 201);
  CHECK(outcome.headers == HeaderList{{"content-length", "0"}});
  CHECK(outcome.body == "");
  REQUIRE(f.requests.size() == 1);
  CHECK(f.requests[0] == "POST /submit HTTP/1.1\r\n" + host +
                             "Content-Length: 7\r\n"
                             "Content-Type: application/json\r\nX-Trace: t-1\r\n\r\n"
                             R"({"n":1})");

  SECTION("an empty POST body still gets Content-Length: 0") {
    CHECK(f.Call(HttpFixture::Request("POST", f.Address("/empty"))).error == "");
    REQUIRE(f.requests.size() == 2);
    CHECK(f.requests[1] == "POST /empty HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n");
  }
  SECTION("a given Host or Content-Length, in any case, is not added again") {
    CHECK(f.Call(HttpFixture::Request("PUT", f.Address("/x"), "abc",
                                      {{"host", "api.example"}, {"CONTENT-LENGTH", "3"}}))
              .error == "");
    REQUIRE(f.requests.size() == 2);
    CHECK(f.requests[1] == "PUT /x HTTP/1.1\r\nhost: api.example\r\nCONTENT-LENGTH: 3\r\n\r\nabc");
  }
  SECTION("a DELETE without a body gets no Content-Length") {
    CHECK(f.Call(HttpFixture::Request("DELETE", f.Address("/x/1"))).error == "");
    REQUIRE(f.requests.size() == 2);
    CHECK(f.requests[1] == "DELETE /x/1 HTTP/1.1\r\n" + host + "\r\n");
  }
}

TEST_CASE("a chunked body is decoded across reads, headers split between reads", "[unit]") {
  HttpFixture f;
  f.respond = ReplyInPieces({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Pa",
                             "rt: o", "ne\r\n\r\n5\r\nhel", "lo\r\n7\r\n, world\r\n", "0\r\n\r\n"});
  HttpOutcome outcome = f.Call(HttpFixture::Request("GET", f.Address("/chunks")));
  CHECK(outcome.error == "");
  CHECK(outcome.status == 200);
  CHECK(outcome.headers == HeaderList{{"transfer-encoding", "chunked"}, {"x-part", "one"}});
  CHECK(outcome.body == "hello, world");
  // The body's end is known: the connection is kept.
  CHECK(f.io.http().idle() == 1);
}

TEST_CASE("the body's end: Content-Length, the close, or none for HEAD", "[unit]") {
  HttpFixture f;

  SECTION("Content-Length, the body in pieces") {
    f.respond = ReplyInPieces({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012", "3456",
                               "789"});
    HttpOutcome outcome = f.Call(HttpFixture::Request("GET", f.Address("/")));
    CHECK(outcome.error == "");
    CHECK(outcome.body == "0123456789");
    CHECK(f.io.http().idle() == 1);
  }
  SECTION("no length: the body ends with the connection, which is not kept") {
    f.respond = ReplyInPieces({"HTTP/1.1 200 OK\r\nX-A: b\r\n\r\nuntil ", "the end"},
                              /*close_after=*/true);
    HttpOutcome outcome = f.Call(HttpFixture::Request("GET", f.Address("/")));
    CHECK(outcome.error == "");
    CHECK(outcome.status == 200);
    CHECK(outcome.headers == HeaderList{{"x-a", "b"}});
    CHECK(outcome.body == "until the end");
    CHECK(f.io.http().idle() == 0);
  }
  SECTION("an HTTP/1.0 response is not kept alive") {
    f.respond = Reply("HTTP/1.0 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
    HttpOutcome outcome = f.Call(HttpFixture::Request("GET", f.Address("/missing")));
    CHECK(outcome.error == "");
    CHECK(outcome.status == 404);
    CHECK(outcome.body == "nope");
    CHECK(f.io.http().idle() == 0);
    REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
  }
  SECTION("a HEAD response announces a body it does not send") {
    f.respond = Reply("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    HttpOutcome outcome = f.Call(HttpFixture::Request("HEAD", f.Address("/")));
    CHECK(outcome.error == "");
    CHECK(outcome.status == 200);
    CHECK(outcome.headers == HeaderList{{"content-length", "5"}});
    CHECK(outcome.body == "");
    CHECK(f.io.http().idle() == 1);
    // The connection is in step: the next response is read whole.
    f.respond = Reply(std::string(kOk));
    CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).body == "ok");
    CHECK(f.io.http().opened() == 1);
  }
  SECTION("a 1xx response is skipped for the final one") {
    f.respond = Reply(
        "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
        "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok");
    HttpOutcome outcome = f.Call(HttpFixture::Request("POST", f.Address("/"), "x"));
    CHECK(outcome.error == "");
    CHECK(outcome.status == 202);
    CHECK(outcome.headers == HeaderList{{"content-length", "2"}});
    CHECK(outcome.body == "ok");
  }
}

TEST_CASE("sequential calls reuse one keep-alive connection", "[unit]") {
  HttpFixture f;
  CHECK(f.io.http().opened() == 0);
  CHECK(f.io.http().idle() == 0);
  std::string all;
  for (int i = 1; i <= 3; ++i) {
    std::string path = fmt::format("/{}", i);
    f.respond = Reply("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + std::to_string(i));
    HttpOutcome outcome = f.Call(HttpFixture::Request("GET", f.Address(path)));
    CHECK(outcome.error == "");
    CHECK(outcome.body == std::to_string(i));
    CHECK(f.io.http().opened() == 1);
    CHECK(f.io.http().idle() == 1);
    all += "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(f.server.port()) +
           "\r\n\r\n";
  }
  CHECK(f.server.accepted() == 1);
  CHECK(f.server.connection(0).received() == all);

  SECTION("a server's Connection: close is honoured") {
    f.respond = Reply("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).body == "ok");
    CHECK(f.io.http().idle() == 0);
    f.respond = Reply(std::string(kOk));
    CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).body == "ok");
    CHECK(f.io.http().opened() == 2);
    CHECK(f.server.accepted() == 2);
    CHECK(f.io.http().idle() == 1);
  }
  SECTION("bytes after the response make the connection unfit for reuse") {
    f.respond = Reply(std::string(kOk) + "HTTP/1.1 200 OK\r\n");
    CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).body == "ok");
    CHECK(f.io.http().idle() == 0);
  }
}

TEST_CASE("an idle connection the server closed is replaced", "[unit]") {
  HttpFixture f;
  const std::string request = "GET /again HTTP/1.1\r\nHost: 127.0.0.1:" +
                              std::to_string(f.server.port()) + "\r\n\r\n";
  CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).body == "ok");
  REQUIRE(f.io.http().idle() == 1);
  f.server.CloseAll();

  SECTION("seen while idle: the pool drops it") {
    REQUIRE(f.loop.RunUntil([&] { return f.io.http().idle() == 0; }));
    HttpOutcome outcome = f.Call(HttpFixture::Request("GET", f.Address("/again")));
    CHECK(outcome.error == "");
    CHECK(outcome.body == "ok");
    CHECK(f.io.http().opened() == 2);
    REQUIRE(f.server.accepted() == 2);
    CHECK(f.server.connection(1).received() == request);
  }
  SECTION("not seen yet: the request is sent once more on a new connection") {
    // No loop turn since the close: the call takes the dead connection from the pool.
    auto call = f.Start(HttpFixture::Request("GET", f.Address("/again")));
    CHECK(f.io.http().idle() == 0);
    CHECK(f.io.http().opened() == 1);
    REQUIRE(f.loop.RunUntil([&] { return f.completions == 2; }));
    const HttpOutcome& outcome = f.outcome;
    CHECK(outcome.error == "");
    CHECK(outcome.status == 200);
    CHECK(outcome.body == "ok");
    CHECK(f.io.http().opened() == 2);
    CHECK(f.io.http().idle() == 1);
    REQUIRE(f.server.accepted() == 2);
    CHECK(f.server.connection(1).received() == request);
    CHECK(f.requests.size() == 2);
  }
  SECTION("not seen yet, and the new connection fails too: no second retry") {
    f.respond = [](LoopbackConnection& c, const std::string&) { c.Close(); };
    auto call = f.Start(HttpFixture::Request("GET", f.Address("/again")));
    CHECK(f.io.http().idle() == 0);
    REQUIRE(f.loop.RunUntil([&] { return f.completions == 2; }));
    CHECK(f.outcome.error == "connection closed by peer");
    CHECK(f.io.http().opened() == 2);
    CHECK(f.server.accepted() == 2);
    CHECK(f.io.http().idle() == 0);
  }
}

TEST_CASE("a refused connection fails the call with \"connection refused\"", "[unit]") {
  HttpFixture f;
  RefusingPort refusing;
  auto call = f.Start(HttpFixture::Request(
      "GET", "http://127.0.0.1:" + std::to_string(refusing.port()) + "/"));
  f.RunUntilCompleted(0);
  CHECK(f.outcome.error == "connection refused");
  CHECK(f.outcome.status == 0);
  CHECK(f.outcome.headers.empty());
  CHECK(f.outcome.body == "");
  CHECK(f.io.http().idle() == 0);
  // Exactly once.
  f.CheckCompletionsStay(1);
}

TEST_CASE("a start-up failure is reported from the loop, never inside Start", "[unit]") {
  HttpFixture f;
  HttpRequest request = HttpFixture::Request(
      "GET", "https://127.0.0.1:" + std::to_string(f.server.port()) + "/");
  request.tls.ca_file = "/nonexistent/testrund-ca.pem";
  auto call = f.Start(request);
  f.CheckStartFailsFromTheLoop(call, "cannot load TLS CA file \"/nonexistent/testrund-ca.pem\"",
                               [&] {
                                 CHECK(call->done());
                                 CHECK(f.outcome.status == 0);
                                 CHECK(f.io.http().opened() == 0);
                               });
}

TEST_CASE("an invalid response fails the call and closes its connection", "[unit]") {
  HttpFixture f;

  SECTION("not HTTP at all") {
    f.respond = Reply("SSH-2.0-OpenSSH_9.2\r\n");
    CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).error ==
          "invalid HTTP response: invalid constant string");
  }
  SECTION("a bad Content-Length") {
    f.respond = Reply("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n");
    CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).error ==
          "invalid HTTP response: invalid character in content-length header");
  }
  SECTION("a bad chunk size") {
    f.respond = Reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).error ==
          "invalid HTTP response: invalid character in chunk size header");
  }
  CHECK(f.io.http().idle() == 0);
  REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
  CHECK(f.io.http().retired() == 0);
}

TEST_CASE("a response over kMaxResponseBytes fails the call", "[unit]") {
  HttpFixture f;
  constexpr size_t kLimit = HttpCall::kMaxResponseBytes;
  REQUIRE(kLimit == 16777216);

  SECTION("one byte over") {
    // Head plus body is one byte more than the limit.
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 16777172\r\n\r\n";
    REQUIRE(head.size() + 16777172 == kLimit + 1);
    f.respond = Reply(head + std::string(16777172, 'x'));
    HttpOutcome outcome = f.Call(HttpFixture::Request("GET", f.Address("/big")));
    CHECK(outcome.error == "response over the limit of 16777216 bytes");
    CHECK(f.io.http().idle() == 0);
    REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
  }
  SECTION("exactly the limit is accepted") {
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 16777171\r\n\r\n";
    REQUIRE(head.size() + 16777171 == kLimit);
    f.respond = Reply(head + std::string(16777171, 'x'));
    HttpOutcome outcome = f.Call(HttpFixture::Request("GET", f.Address("/big")));
    CHECK(outcome.error == "");
    CHECK(outcome.status == 200);
    CHECK(outcome.body.size() == 16777171);
    CHECK(f.io.http().idle() == 1);
  }
}

TEST_CASE("destroying an unfinished call closes its connection, with no callback",
          "[unit]") {
  HttpFixture f;
  f.io.dns();  // the resolver's descriptors, if any, belong to the baseline
  const size_t baseline = OpenDescriptors();

  SECTION("waiting for the response") {
    f.respond = [](LoopbackConnection&, const std::string&) {};
    auto call = f.Start(HttpFixture::Request("GET", f.Address("/slow")));
    REQUIRE(f.loop.RunUntil([&] { return f.requests.size() == 1; }));
    call.reset();
    // Freed on a later turn, like every connection closed from inside a callback.
    CHECK(f.io.http().retired() == 1);
    REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
  }
  SECTION("in the middle of the response: the connection is closed, not pooled") {
    f.respond = Reply("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
    auto call = f.Start(HttpFixture::Request("GET", f.Address("/slow")));
    REQUIRE(f.loop.RunUntil([&] { return f.requests.size() == 1; }));
    f.loop.RunFor(20);  // the first half of the body arrives
    call.reset();
    REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
  }
  SECTION("before the connection is made") {
    auto call = f.Start(HttpFixture::Request("GET", f.Address("/")));
    call.reset();
  }
  // Both ends of the connection closed (the server closes on the client's close).
  CHECK(f.loop.RunUntil([&] { return OpenDescriptors() == baseline; }));
  f.CheckCompletionsStay(0);
  CHECK(f.io.http().retired() == 0);
  CHECK(f.io.http().idle() == 0);
  CHECK(OpenDescriptors() == baseline);
}

TEST_CASE("a body larger than the socket's buffer is written in parts on a reused connection",
          "[unit]") {
  HttpFixture f;
  // The first call connects; the second goes through the connection's own socket
  // (PlainSocket), whose send takes part of 4 MiB and writes the rest when writable.
  CHECK(f.Call(HttpFixture::Request("GET", f.Address("/"))).body == "ok");
  std::string body(4u << 20, 'b');
  for (size_t k = 0; k < body.size(); k += 4096) body[k] = static_cast<char>('a' + k % 26);
  HttpOutcome outcome = f.Call(HttpFixture::Request("POST", f.Address("/big"), body));
  CHECK(outcome.error == "");
  CHECK(outcome.body == "ok");
  CHECK(f.io.http().opened() == 1);
  REQUIRE(f.requests.size() == 2);
  CHECK(f.requests[1].size() > body.size());
  CHECK(f.requests[1].substr(f.requests[1].size() - body.size()) == body);
}

TEST_CASE("a call that keeps no headers reads the status and body alone", "[unit]") {
  HttpFixture f;
  f.respond = Reply("HTTP/1.1 200 OK\r\nX-One: 1\r\nContent-Length: 2\r\n\r\nok");
  for (int i = 0; i < 2; ++i) {  // a new connection, then the reused one
    int before = f.completions;
    auto call = f.Started([&](HttpCall::OnDone on_done) {
      return HttpCall::Start(f.io, PrepareHttpRequest(HttpFixture::Request("GET", f.Address("/"))),
                             false, std::move(on_done), /*keep_headers=*/false);
    });
    f.RunUntilCompleted(before);
    CHECK(f.outcome.error == "");
    CHECK(f.outcome.status == 200);
    CHECK(f.outcome.headers.empty());
    CHECK(f.outcome.body == "ok");
  }
  CHECK(f.io.http().opened() == 1);
}
