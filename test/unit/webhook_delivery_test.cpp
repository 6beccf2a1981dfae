// SPDX-License-Identifier: Apache-2.0
// WebhookDelivery (ops/report/webhook_delivery.h) in process, on an IoContext built on the
// test's own event_base, against a scripted HTTP server on 127.0.0.1 (loopback_server.h) in
// the same loop: the exact request a hook receives, success on the first attempt, retries
// after non-2xx answers with the waits in their order, a refused connection failing after
// the 4th attempt, per-attempt timeouts, the TLS options reaching the call, destroying a
// pending delivery, and that on_settled comes once, from the loop, never inside Start. The
// retry waits are shortened to milliseconds; the defaults are checked as constants.
#include "ops/report/webhook_delivery.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ops/base/clock.h"
#include "ops/net/io_context.h"
#include "ops/net/url.h"
#include "ops/report/reporter_spec.h"
#include "test/unit/loopback_server.h"

using testrund::ops::DeliveryState;
using testrund::ops::DeliveryStateName;
using testrund::ops::kNsPerSecond;
using testrund::ops::MonoNs;
using testrund::ops::ParseUrl;
using testrund::ops::ReporterSpec;
using testrund::ops::WebhookDelivery;
using testrund::test::LoopbackConnection;
using testrund::test::LoopbackServer;
using testrund::test::RefusingPort;
using testrund::test::TestLoop;

namespace {

constexpr MonoNs kMs = kNsPerSecond / 1000;
constexpr std::string_view kBody = R"({"run_id":"r1","status":"completed","passed":true})";
constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
constexpr std::string_view k503 =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";

// Waits short enough for a unit test, each distinct so that their order shows.
constexpr WebhookDelivery::RetryDelays kShortDelays = {30 * kMs, 60 * kMs, 10 * kMs};
// How much earlier than planned a request may arrive, as the test measures it: libevent
// arms timers from the time it cached at the start of the loop turn.
constexpr MonoNs kSlack = 5 * kMs;

// The length of the first complete request in `bytes` (head and Content-Length body), or 0
// while it is incomplete.
size_t RequestLength(std::string_view bytes) {
  size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  std::string head(bytes.substr(0, end + 2));
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t body = 0;
  size_t at = head.find("\r\ncontent-length:");
  if (at != std::string::npos) body = std::stoul(head.substr(at + 17));
  size_t total = end + 4 + body;
  return bytes.size() >= total ? total : 0;
}

// The test's loop, a hook server on it answering each request with the next of
// `responses` (the last one repeats; "" = stay silent), the IoContext under test, and the
// record of on_settled.
struct HookFixture {
  HookFixture() : server(loop.base, [this](LoopbackConnection& c) { OnData(c); }) {}

  std::string Url(std::string_view path = "/hook") const {
    return fmt::format("http://127.0.0.1:{}{}", server.port(), path);
  }

  static ReporterSpec Spec(const std::string& url) {
    ReporterSpec spec;
    auto parsed = ParseUrl(url, false);
    REQUIRE(parsed.ok());
    spec.url = parsed.value();
    return spec;
  }

  // A delivery of kBody to `spec`, started; checks that nothing settled inside Start.
  std::unique_ptr<WebhookDelivery> Start(const ReporterSpec& spec,
                                         WebhookDelivery::RetryDelays delays = kShortDelays) {
    auto delivery = std::make_unique<WebhookDelivery>(
        io, spec, std::string(kBody),
        [this](WebhookDelivery& d) {
          ++settled;
          settled_state = d.state();
        },
        delays);
    CHECK(delivery->state() == DeliveryState::kPending);
    CHECK(delivery->attempts() == 0);
    delivery->Start();
    CHECK(delivery->attempts() == 1);
    CHECK(settled == 0);
    CHECK(delivery->state() == DeliveryState::kPending);
    return delivery;
  }

  // Runs the loop until on_settled came (fails the test after `seconds`), then a little
  // longer: it must come once and nothing may follow.
  void RunUntilSettled(double seconds = 3) {
    REQUIRE(loop.RunUntil([&] { return settled > 0; }, seconds));
    loop.RunFor(80);
    CHECK(settled == 1);
  }

  void OnData(LoopbackConnection& connection) {
    while (!connection.closed()) {
      std::string_view unread = std::string_view(connection.received()).substr(connection.handled);
      size_t length = RequestLength(unread);
      if (length == 0) return;
      connection.handled += length;
      requests.emplace_back(unread.substr(0, length));
      arrivals.push_back(loop.clock.Now());
      size_t k = std::min(requests.size(), responses.size()) - 1;
      if (!responses[k].empty()) connection.Write(responses[k]);
    }
  }

  TestLoop loop;
  LoopbackServer server;
  testrund::ops::IoContext io{loop.base, loop.clock};
  std::vector<std::string> responses = {std::string(kOk)};
  std::vector<std::string> requests;  // every complete request the server read, in order
  std::vector<MonoNs> arrivals;       // when each arrived
  int settled = 0;
  DeliveryState settled_state = DeliveryState::kPending;
};

}  // namespace

TEST_CASE("the defaults: 1 s, 5 s and 25 s between at most 4 attempts; state names", "[unit]") {
  CHECK(WebhookDelivery::kRetryDelays ==
        WebhookDelivery::RetryDelays{1 * kNsPerSecond, 5 * kNsPerSecond, 25 * kNsPerSecond});
  CHECK(WebhookDelivery::kMaxAttempts == 4);
  CHECK(std::string(DeliveryStateName(DeliveryState::kPending)) == "pending");
  CHECK(std::string(DeliveryStateName(DeliveryState::kSent)) == "sent");
  CHECK(std::string(DeliveryStateName(DeliveryState::kFailed)) == "failed");
}

TEST_CASE("sent on the first attempt: the exact POST the hook receives", "[unit]") {
  HookFixture f;
  ReporterSpec spec = HookFixture::Spec(f.Url("/hook?team=core"));
  spec.headers = {{"X-Team", "core"}, {"Authorization", "Bearer abc"}};
  auto delivery = f.Start(spec);
  f.RunUntilSettled();

  CHECK(f.settled_state == DeliveryState::kSent);
  CHECK(delivery->state() == DeliveryState::kSent);
  CHECK(std::string(delivery->StateName()) == "sent");
  CHECK(delivery->attempts() == 1);
  CHECK(delivery->last_error().empty());
  REQUIRE(f.requests.size() == 1);
  CHECK(f.requests[0] == fmt::format("POST /hook?team=core HTTP/1.1\r\n"
                                     "Host: 127.0.0.1:{}\r\n"
                                     "Content-Length: {}\r\n"
                                     "X-Team: core\r\n"
                                     "Authorization: Bearer abc\r\n"
                                     "Content-Type: application/json\r\n"
                                     "\r\n{}",
                                     f.server.port(), kBody.size(), kBody));
}

TEST_CASE("a Content-Type of the spec replaces application/json", "[unit]") {
  HookFixture f;
  f.responses = {"HTTP/1.1 204 No Content\r\n\r\n"};
  ReporterSpec spec = HookFixture::Spec(f.Url());
  spec.headers = {{"content-type", "application/vnd.testrun+json"}};
  auto delivery = f.Start(spec);
  f.RunUntilSettled();
  CHECK(delivery->state() == DeliveryState::kSent);
  REQUIRE(f.requests.size() == 1);
  CHECK(f.requests[0] == fmt::format("POST /hook HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n"
                                     "Content-Length: {}\r\n"
                                     "content-type: application/vnd.testrun+json\r\n\r\n{}",
                                     f.server.port(), kBody.size(), kBody));
}

TEST_CASE("two 503 answers, then a 2xx: sent after 3 attempts, waiting in order", "[unit]") {
  HookFixture f;
  f.responses = {std::string(k503), std::string(k503),
                 "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"};
  auto delivery = f.Start(HookFixture::Spec(f.Url()));
  f.RunUntilSettled();

  CHECK(f.settled_state == DeliveryState::kSent);
  CHECK(delivery->state() == DeliveryState::kSent);
  CHECK(delivery->attempts() == 3);
  // What the last failure was stays readable.
  CHECK(delivery->last_error() == "HTTP status 503");
  REQUIRE(f.requests.size() == 3);
  CHECK(f.requests[1] == f.requests[0]);
  CHECK(f.requests[2] == f.requests[0]);
  CHECK(f.arrivals[1] - f.arrivals[0] >= kShortDelays[0] - kSlack);
  CHECK(f.arrivals[2] - f.arrivals[1] >= kShortDelays[1] - kSlack);
}

TEST_CASE("every non-2xx status is a failure; the 4th failure is final", "[unit]") {
  HookFixture f;
  f.responses = {"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
                 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                 "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
                 "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", std::string(kOk)};
  auto delivery = f.Start(HookFixture::Spec(f.Url()));
  f.RunUntilSettled();
  CHECK(f.settled_state == DeliveryState::kFailed);
  CHECK(delivery->state() == DeliveryState::kFailed);
  CHECK(std::string(delivery->StateName()) == "failed");
  CHECK(delivery->attempts() == 4);
  CHECK(delivery->last_error() == "HTTP status 400");
  CHECK(f.requests.size() == 4);  // no 5th attempt, although it would have succeeded
}

TEST_CASE("a refused connection: failed after 4 attempts", "[unit]") {
  HookFixture f;
  RefusingPort refusing;
  auto delivery =
      f.Start(HookFixture::Spec(fmt::format("http://127.0.0.1:{}/hook", refusing.port())));
  f.RunUntilSettled();
  CHECK(f.settled_state == DeliveryState::kFailed);
  CHECK(delivery->state() == DeliveryState::kFailed);
  CHECK(delivery->attempts() == 4);
  CHECK(delivery->last_error() == "connection refused");
}

TEST_CASE("a delivery brought back after 2 failures: 2 attempts more, then failed", "[unit]") {
  HookFixture f;
  f.responses = {std::string(k503)};
  WebhookDelivery delivery(
      f.io, HookFixture::Spec(f.Url()), std::string(kBody),
      [&f](WebhookDelivery& d) {
        ++f.settled;
        f.settled_state = d.state();
      },
      kShortDelays);
  int retries = 0;
  std::vector<int> failed_seen;
  delivery.set_on_retry([&](WebhookDelivery& d) {
    ++retries;
    failed_seen.push_back(d.failed_attempts());
  });
  delivery.Resume(2, "connection refused");
  // The 3rd attempt is in progress: the 2 saved failures are all that failed.
  CHECK(delivery.attempts() == 3);
  CHECK(delivery.failed_attempts() == 2);
  CHECK(delivery.last_error() == "connection refused");
  f.RunUntilSettled();
  CHECK(f.settled_state == DeliveryState::kFailed);
  CHECK(delivery.attempts() == 4);
  CHECK(delivery.failed_attempts() == 4);
  CHECK(delivery.last_error() == "HTTP status 503");
  CHECK(f.requests.size() == 2);
  // on_retry after the 3rd attempt's failure only: the 4th settles it.
  CHECK(retries == 1);
  CHECK(failed_seen == std::vector<int>{3});
  // The wait before the 4th attempt is the one after a 3rd failure.
  REQUIRE(f.arrivals.size() == 2);
  CHECK(f.arrivals[1] - f.arrivals[0] >= kShortDelays[2] - kSlack);
}

TEST_CASE("an attempt that does not answer in time fails with its timeout", "[unit]") {
  HookFixture f;
  ReporterSpec spec = HookFixture::Spec(f.Url());
  spec.timeout = 0.1;

  SECTION("silent every time: failed after 4 attempts, each on a connection it closed") {
    f.responses = {""};
    auto delivery = f.Start(spec);
    f.RunUntilSettled();
    CHECK(f.settled_state == DeliveryState::kFailed);
    CHECK(delivery->attempts() == 4);
    CHECK(delivery->last_error() == "timeout after 0.1 s");
    CHECK(f.requests.size() == 4);
    REQUIRE(f.server.accepted() == 4);
    for (size_t i = 0; i < 4; ++i) CHECK(f.server.connection(i).peer_closed());
    for (size_t i = 1; i < 4; ++i) {
      CHECK(f.arrivals[i] - f.arrivals[i - 1] >= 100 * kMs + kShortDelays[i - 1] - kSlack);
    }
  }
  SECTION("silent once, then answered: sent after 2 attempts") {
    f.responses = {"", std::string(kOk)};
    auto delivery = f.Start(spec);
    f.RunUntilSettled();
    CHECK(f.settled_state == DeliveryState::kSent);
    CHECK(delivery->attempts() == 2);
    CHECK(delivery->last_error() == "timeout after 0.1 s");
  }
}

TEST_CASE("an https reporter's TLS options reach its calls", "[unit]") {
  HookFixture f;
  ReporterSpec spec = HookFixture::Spec(f.Url());
  spec.url.scheme = "https";
  spec.tls.ca_file = "/nonexistent/testrund-hook-ca.pem";
  auto delivery = f.Start(spec);
  f.RunUntilSettled();
  CHECK(delivery->state() == DeliveryState::kFailed);
  CHECK(delivery->attempts() == 4);
  CHECK(delivery->last_error() == "cannot load TLS CA file \"/nonexistent/testrund-hook-ca.pem\"");
  CHECK(f.server.accepted() == 0);
}

TEST_CASE("destroying a pending delivery cancels it", "[unit]") {
  HookFixture f;
  ReporterSpec spec = HookFixture::Spec(f.Url());

  SECTION("while it waits to retry: no further attempt") {
    f.responses = {std::string(k503)};
    auto delivery = f.Start(spec, {200 * kMs, 200 * kMs, 200 * kMs});
    REQUIRE(f.loop.RunUntil([&] { return !delivery->last_error().empty(); }));
    CHECK(delivery->last_error() == "HTTP status 503");
    CHECK(delivery->state() == DeliveryState::kPending);
    delivery.reset();
    f.loop.RunFor(300);
    CHECK(f.requests.size() == 1);
    CHECK(f.settled == 0);
  }
  SECTION("while an attempt is in progress: its connection is closed") {
    f.responses = {""};
    auto delivery = f.Start(spec);
    REQUIRE(f.loop.RunUntil([&] { return f.requests.size() == 1; }));
    delivery.reset();
    REQUIRE(f.loop.RunUntil([&] { return f.server.connection(0).peer_closed(); }));
    f.loop.RunFor(50);
    CHECK(f.requests.size() == 1);
    CHECK(f.settled == 0);
  }
  SECTION("before Start or right after it: nothing happens") {
    auto unstarted =
        std::make_unique<WebhookDelivery>(f.io, spec, "{}", [&](WebhookDelivery&) { ++f.settled; });
    unstarted.reset();
    auto started = f.Start(spec);
    started.reset();
    f.loop.RunFor(50);
    CHECK(f.settled == 0);
  }
}
