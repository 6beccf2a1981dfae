// SPDX-License-Identifier: Apache-2.0
// FramedCall in process, on an IoContext built on the test's own event_base, against a
// scripted server on 127.0.0.1 (loopback_server.h) in the same loop: the frame as the server
// read it (4-byte big-endian length, then the body), responses written whole or in pieces,
// notifications, one request per connection, the failure texts (length prefix 0, a length
// over the limit, a close before the response is complete, refused, a CA file that cannot be
// loaded), destroying an unfinished call, and that no completion ever runs inside Start.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ops/net/framed_client.h"
#include "ops/net/io_context.h"
#include "ops/net/url.h"
#include "test/unit/loopback_server.h"

using testrund::ops::FramedCall;
using testrund::ops::FramedOutcome;
using testrund::ops::FramedRequest;
using testrund::ops::ParseUrl;
using testrund::test::ClientFixture;
using testrund::test::LoopbackConnection;
using testrund::test::OpenDescriptors;
using testrund::test::RefusingPort;

namespace {

// The four length bytes of a frame, written out by hand so that the test does not trust the
// encoder it checks.
std::string Prefix(uint32_t length) {
  return std::string{static_cast<char>(length >> 24), static_cast<char>((length >> 16) & 0xff),
                     static_cast<char>((length >> 8) & 0xff), static_cast<char>(length & 0xff)};
}

// ClientFixture (loopback_server.h) whose server answers one frame per connection, and
// FramedCall's start.
struct FramedFixture : ClientFixture<FramedOutcome> {
  // What the server does once it has read `request_bytes` bytes on a connection.
  using Responder = std::function<void(LoopbackConnection& connection)>;

  FramedFixture() : ClientFixture([this](LoopbackConnection& c) { OnData(c); }) {}

  // "tcp://127.0.0.1:<port>" (the server's port unless given).
  std::string Address(int port = -1) const {
    return "tcp://127.0.0.1:" + std::to_string(port < 0 ? server.port() : port);
  }

  static FramedRequest Request(const std::string& url, std::string body,
                               bool await_response = true) {
    FramedRequest request;
    auto parsed = ParseUrl(url, /*allow_tcp=*/true);
    REQUIRE(parsed.ok());
    request.url = parsed.value();
    request.body = std::move(body);
    request.await_response = await_response;
    return request;
  }

  // Starts `request`; its completion is recorded in `outcome` and `completions`.
  std::unique_ptr<FramedCall> Start(FramedRequest request) {
    return Started([&](FramedCall::OnDone on_done) {
      return FramedCall::Start(io, std::move(request), std::move(on_done));
    });
  }

  // Starts `request` and runs the loop until it completes (fails the test after 3 s).
  FramedOutcome Call(FramedRequest request) {
    int before = completions;
    auto call = Start(std::move(request));
    RunUntilCompleted(before);
    return outcome;
  }

  void OnData(LoopbackConnection& connection) {
    if (connection.handled == 0 && connection.received().size() >= request_bytes) {
      connection.handled = connection.received().size();
      respond(connection);
    }
  }

  size_t request_bytes = 1;  // the server answers once it has read this many bytes
  Responder respond = [](LoopbackConnection&) {};
};

// The request body most tests send, and the body of the server's reply.
const std::string kBody = R"({"jsonrpc":"2.0","method":"ping","id":1})";
const std::string kReply = R"({"jsonrpc":"2.0","result":"pong","id":1})";

}  // namespace

TEST_CASE("a request is written as a length prefix and the body, the response read whole",
          "[unit]") {
  REQUIRE(kBody.size() == 40);
  FramedFixture f;
  const std::string frame = std::string("\0\0\0\x28", 4) + kBody;
  f.request_bytes = frame.size();
  f.respond = [](LoopbackConnection& c) { c.Write(Prefix(kReply.size()) + kReply); };

  auto call = f.Start(FramedFixture::Request(f.Address(), kBody));
  CHECK(call->raw_request() == frame);
  f.RunUntilCompleted(0);
  CHECK(f.outcome.error == "");
  CHECK(f.outcome.frame == Prefix(kReply.size()) + kReply);
  CHECK(f.outcome.body() == kReply);

  REQUIRE(f.server.accepted() == 1);
  CHECK(f.server.connection(0).received() == frame);
  // One request per connection: the client closes it once the response is in.
  REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));

  SECTION("the next request opens a connection of its own") {
    FramedOutcome second = f.Call(FramedFixture::Request(f.Address(), kBody));
    CHECK(second.error == "");
    CHECK(second.body() == kReply);
    REQUIRE(f.server.accepted() == 2);
    CHECK(f.server.connection(1).received() == frame);
  }
}

TEST_CASE("a long body gets a length prefix using every byte", "[unit]") {
  FramedFixture f;
  // 0x010203 bytes: three prefix bytes that differ, so a swapped byte order would show.
  const std::string body = "\"" + std::string(66049, 'a') + "\"";
  REQUIRE(body.size() == 0x010203);
  f.request_bytes = 4 + body.size();
  f.respond = [](LoopbackConnection& c) { c.Write(Prefix(2) + "{}"); };
  FramedOutcome outcome = f.Call(FramedFixture::Request(f.Address(), body));
  CHECK(outcome.error == "");
  CHECK(outcome.body() == "{}");
  CHECK(f.server.connection(0).received() == std::string("\0\x01\x02\x03", 4) + body);
}

TEST_CASE("a response written in pieces is put together", "[unit]") {
  FramedFixture f;
  f.request_bytes = 4 + kBody.size();
  const std::string frame = Prefix(kReply.size()) + kReply;

  SECTION("the prefix itself split") {
    f.respond = [&](LoopbackConnection& c) {
      c.WriteInPieces({frame.substr(0, 1), frame.substr(1, 2), frame.substr(3, 10),
                       frame.substr(13, 20), frame.substr(33)},
                      5);
    };
  }
  SECTION("the body split, the server closing after the last piece") {
    f.respond = [&](LoopbackConnection& c) {
      c.WriteInPieces({frame.substr(0, 4), frame.substr(4, 1), frame.substr(5)}, 5,
                      /*close_after=*/true);
    };
  }
  FramedOutcome outcome = f.Call(FramedFixture::Request(f.Address(), kBody));
  CHECK(outcome.error == "");
  CHECK(outcome.frame == frame);
  CHECK(outcome.body() == kReply);
}

TEST_CASE("bytes after the response frame are dropped with the connection", "[unit]") {
  FramedFixture f;
  f.request_bytes = 4 + kBody.size();
  f.respond = [](LoopbackConnection& c) {
    c.Write(Prefix(kReply.size()) + kReply + Prefix(3) + "{}}");
  };
  FramedOutcome outcome = f.Call(FramedFixture::Request(f.Address(), kBody));
  CHECK(outcome.error == "");
  CHECK(outcome.frame == Prefix(kReply.size()) + kReply);
}

TEST_CASE("a notification is over once its frame is written", "[unit]") {
  FramedFixture f;
  const std::string body = R"({"jsonrpc":"2.0","method":"note"})";
  // The server never answers.
  FramedOutcome outcome = f.Call(FramedFixture::Request(f.Address(), body, false));
  CHECK(outcome.error == "");
  CHECK(outcome.frame == "");
  CHECK(outcome.body() == "");
  REQUIRE(f.loop.RunUntil([&] { return f.server.accepted() == 1; }));
  REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
  CHECK(f.server.connection(0).received() == Prefix(body.size()) + body);
}

TEST_CASE("a bad response length fails the call", "[unit]") {
  FramedFixture f;
  f.request_bytes = 4 + kBody.size();
  constexpr size_t kLimit = FramedCall::kMaxResponseBytes;
  REQUIRE(kLimit == 16777216);

  SECTION("zero") {
    f.respond = [](LoopbackConnection& c) { c.Write(Prefix(0)); };
    CHECK(f.Call(FramedFixture::Request(f.Address(), kBody)).error == "invalid length prefix 0");
  }
  SECTION("one over the limit") {
    f.respond = [](LoopbackConnection& c) { c.Write(Prefix(16777217)); };
    FramedOutcome outcome = f.Call(FramedFixture::Request(f.Address(), kBody));
    CHECK(outcome.error == "response length 16777217 over the limit of 16777216 bytes");
    CHECK(outcome.frame == "");
  }
  SECTION("the largest length, 0xffffffff") {
    f.respond = [](LoopbackConnection& c) { c.Write(Prefix(0xffffffffu)); };
    CHECK(f.Call(FramedFixture::Request(f.Address(), kBody)).error ==
          "response length 4294967295 over the limit of 16777216 bytes");
  }
  SECTION("exactly the limit is a length the client waits for") {
    // The server announces the limit and closes: the call fails for the close, not for the
    // length.
    f.respond = [](LoopbackConnection& c) {
      c.Write(Prefix(16777216) + "{");
      c.CloseAfterWrite();
    };
    CHECK(f.Call(FramedFixture::Request(f.Address(), kBody)).error ==
          "connection closed before the response was complete");
  }
  // The client closed the connection on its own.
  REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).closed(); }));
}

TEST_CASE("a connection that closes early fails the call", "[unit]") {
  FramedFixture f;
  f.request_bytes = 4 + kBody.size();

  SECTION("in the middle of the body") {
    f.respond = [](LoopbackConnection& c) {
      c.Write(Prefix(kReply.size()) + kReply.substr(0, 10));
      c.CloseAfterWrite();
    };
    FramedOutcome outcome = f.Call(FramedFixture::Request(f.Address(), kBody));
    CHECK(outcome.error == "connection closed before the response was complete");
    CHECK(outcome.frame == "");
  }
  SECTION("in the middle of the prefix") {
    f.respond = [](LoopbackConnection& c) {
      c.Write(std::string("\0\0", 2));
      c.CloseAfterWrite();
    };
    CHECK(f.Call(FramedFixture::Request(f.Address(), kBody)).error ==
          "connection closed before the response was complete");
  }
  SECTION("before any response byte") {
    f.respond = [](LoopbackConnection& c) { c.Close(); };
    CHECK(f.Call(FramedFixture::Request(f.Address(), kBody)).error ==
          "connection closed by peer");
  }
}

TEST_CASE("a refused connection fails the call with \"connection refused\"", "[unit]") {
  FramedFixture f;
  RefusingPort refusing;

  SECTION("a request") {
    CHECK(f.Call(FramedFixture::Request(f.Address(refusing.port()), kBody)).error ==
          "connection refused");
  }
  SECTION("a notification") {
    CHECK(f.Call(FramedFixture::Request(f.Address(refusing.port()), kBody, false)).error ==
          "connection refused");
  }
  CHECK(f.outcome.frame == "");
  f.CheckCompletionsStay(1);
}

TEST_CASE("a tls:// call whose CA file cannot be loaded fails from the loop", "[unit]") {
  FramedFixture f;
  FramedRequest request = FramedFixture::Request(
      "tls://127.0.0.1:" + std::to_string(f.server.port()), kBody);
  request.tls.ca_file = "/nonexistent/testrund-ca.pem";
  auto call = f.Start(request);
  f.CheckStartFailsFromTheLoop(call, "cannot load TLS CA file \"/nonexistent/testrund-ca.pem\"");
}

TEST_CASE("destroying an unfinished call closes its connection, with no callback",
          "[unit]") {
  FramedFixture f;
  f.io.dns();  // the resolver's descriptors, if any, belong to the baseline
  const size_t baseline = OpenDescriptors();
  f.request_bytes = 4 + kBody.size();

  SECTION("waiting for the response") {
    bool read = false;
    f.respond = [&](LoopbackConnection&) { read = true; };
    auto call = f.Start(FramedFixture::Request(f.Address(), kBody));
    REQUIRE(f.loop.RunUntil([&] { return read; }));
    call.reset();
    REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
  }
  SECTION("in the middle of the response") {
    f.respond = [](LoopbackConnection& c) { c.Write(Prefix(kReply.size()) + "{"); };
    auto call = f.Start(FramedFixture::Request(f.Address(), kBody));
    REQUIRE(f.loop.RunUntil([&] { return f.server.accepted() == 1; }));
    f.loop.RunFor(20);  // the first piece of the response arrives
    call.reset();
    REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
  }
  SECTION("before the connection is made") {
    auto call = f.Start(FramedFixture::Request(f.Address(), kBody));
    call.reset();
  }
  CHECK(f.loop.RunUntil([&] { return OpenDescriptors() == baseline; }));
  f.CheckCompletionsStay(0);
  CHECK(OpenDescriptors() == baseline);
}
