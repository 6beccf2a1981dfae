// SPDX-License-Identifier: Apache-2.0
// Integration tests of the transports (docs/api.md#1-transports, docs/configuration.md)
// against the real binary: both framings, keep-alive and pipelining, batches and
// notifications, /health, the HTTP error statuses, bad length prefixes, TLS, tokens and
// roles, the idle timeout, max_connections, max_json_depth, signals, the log file, and the
// command line (config errors, --check-config, --version).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "test/integration/harness.h"

namespace testrund::test {
namespace {

constexpr const char* kInfo = R"({"jsonrpc":"2.0","method":"GetServerInfo","id":1})";
constexpr const char* kInfoNotification = R"({"jsonrpc":"2.0","method":"GetServerInfo"})";

std::string InfoWithId(int id) {
  return R"({"jsonrpc":"2.0","method":"GetServerInfo","id":)" + std::to_string(id) + "}";
}

std::string InfoWithAuth(const std::string& token) {
  return R"({"jsonrpc":"2.0","method":"GetServerInfo","id":7,"auth":")" + token + R"("})";
}

// The error code of a single JSON-RPC response.
int ErrorCode(const std::string& body) {
  rapidjson::Document doc = ParseJson(body);
  REQUIRE(doc.IsObject());
  REQUIRE(doc.HasMember("error"));
  return doc["error"]["code"].GetInt();
}

void CheckServerInfoResult(const std::string& body, int id) {
  rapidjson::Document doc = ParseJson(body);
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["jsonrpc"].GetString()) == "2.0");
  REQUIRE(doc["id"].IsInt());
  CHECK(doc["id"].GetInt() == id);
  REQUIRE(doc.HasMember("result"));
  CHECK(std::string(doc["result"]["version"].GetString()) == TESTRUND_VERSION_FOR_TESTS);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Waits until `path` contains `text` (the daemon writes its log file asynchronously).
bool WaitForFileText(const std::string& path, const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("HTTP: POST / and /jsonrpc answer 200 application/json", "[integration]") {
  Daemon d;
  HttpClient http = d.Http();
  HttpResponse r = http.Post("/", kInfo);
  CHECK(r.status == 200);
  CHECK(r.Header("content-type") == "application/json");
  CheckServerInfoResult(r.body, 1);
  r = http.Post("/jsonrpc", InfoWithId(2));
  CHECK(r.status == 200);
  CheckServerInfoResult(r.body, 2);
}

TEST_CASE("HTTP: keep-alive serves many requests on one socket, pipelined in order",
          "[integration]") {
  Daemon d;
  HttpClient http = d.Http();
  for (int id = 1; id <= 20; ++id) {
    HttpResponse r = http.Post("/", InfoWithId(id));
    REQUIRE(r.status == 200);
    CHECK(r.Header("connection") != "close");
    CheckServerInfoResult(r.body, id);
  }
  std::string pipelined;
  for (int id = 100; id < 105; ++id) {
    std::string body = InfoWithId(id);
    pipelined += "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                 "\r\n\r\n" + body;
  }
  http.SendRaw(pipelined);
  for (int id = 100; id < 105; ++id) CheckServerInfoResult(http.ReadResponse().body, id);
}

TEST_CASE("HTTP: Connection: close and HTTP/1.0 close after the response", "[integration]") {
  Daemon d;
  SECTION("Connection: close") {
    HttpClient http = d.Http();
    HttpResponse r = http.Post("/", kInfo, {{"Connection", "close"}});
    CHECK(r.status == 200);
    CHECK(r.Header("connection") == "close");
    CHECK(http.WaitClosed());
  }
  SECTION("HTTP/1.0 without keep-alive") {
    HttpClient http = d.Http();
    std::string body = kInfo;
    http.SendRaw("POST / HTTP/1.0\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                 body);
    HttpResponse r = http.ReadResponse();
    CHECK(r.status == 200);
    CHECK(http.WaitClosed());
  }
}

TEST_CASE("HTTP: chunked bodies and Expect: 100-continue", "[integration]") {
  Daemon d;
  HttpClient http = d.Http();
  std::string body = kInfo;
  std::stringstream chunked;
  chunked << std::hex << 10 << "\r\n"
          << body.substr(0, 10) << "\r\n"
          << (body.size() - 10) << "\r\n"
          << body.substr(10) << "\r\n0\r\n\r\n";
  http.SendRaw("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked.str());
  HttpResponse r = http.ReadResponse();
  CHECK(r.status == 200);
  CheckServerInfoResult(r.body, 1);

  http.SendRaw("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n");
  std::optional<std::string> interim = http.stream().ReadSome();
  REQUIRE(interim.has_value());
  CHECK(*interim == "HTTP/1.1 100 Continue\r\n\r\n");
  http.SendRaw(body);
  r = http.ReadResponse();
  CHECK(r.status == 200);
}

TEST_CASE("batches and notifications over both framings", "[integration]") {
  Daemon d;
  std::string batch =
      std::string("[") + InfoWithId(1) + "," + kInfoNotification + "," + InfoWithId(2) + "]";
  auto check_batch = [](const std::string& body) {
    rapidjson::Document doc = ParseJson(body);
    REQUIRE(doc.IsArray());
    REQUIRE(doc.Size() == 2);
    std::set<int> ids;
    for (auto& response : doc.GetArray()) ids.insert(response["id"].GetInt());
    CHECK(ids == std::set<int>{1, 2});
  };
  SECTION("HTTP") {
    HttpClient http = d.Http();
    HttpResponse r = http.Post("/", batch);
    CHECK(r.status == 200);
    check_batch(r.body);
    r = http.Post("/", kInfoNotification);
    CHECK(r.status == 204);
    CHECK(r.body.empty());
    CHECK(r.Header("content-length").empty());
    r = http.Post("/", std::string("[") + kInfoNotification + "," + kInfoNotification + "]");
    CHECK(r.status == 204);
    // The connection is still usable after a 204.
    CHECK(http.Post("/", kInfo).status == 200);
  }
  SECTION("framed") {
    std::optional<std::string> response = d.Framed(batch);
    REQUIRE(response);
    check_batch(*response);
    // A notification gets no response: the daemon just closes.
    CHECK_FALSE(d.Framed(kInfoNotification).has_value());
  }
}

TEST_CASE("framed: one request, the framed response, then close", "[integration]") {
  Daemon d;
  std::optional<std::string> response = d.Framed(kInfo);
  REQUIRE(response);
  CheckServerInfoResult(*response, 1);
  SECTION("the body may arrive in pieces") {
    std::unique_ptr<Stream> stream = Stream::Connect(d.port(), false);
    std::string frame = Frame(InfoWithId(3));
    for (char byte : frame) REQUIRE(stream->WriteAll(std::string(1, byte)));
    std::string raw = stream->ReadToEof();
    REQUIRE(raw.size() > 4);
    CheckServerInfoResult(raw.substr(4), 3);
  }
  SECTION("not JSON is -32700") {
    std::optional<std::string> bad = d.Framed("{nope");
    REQUIRE(bad);
    CHECK(ErrorCode(*bad) == -32700);
  }
}

TEST_CASE("framed: a length prefix of 0 or over max_body_bytes is -32700 and close",
          "[integration]") {
  Daemon d({"--max-body-bytes", "1K"});
  auto check_parse_error = [](const std::string& raw) {
    REQUIRE(raw.size() > 4);
    rapidjson::Document doc = ParseJson(raw.substr(4));
    CHECK(doc["error"]["code"].GetInt() == -32700);
    CHECK(doc["id"].IsNull());
  };
  SECTION("zero") { check_parse_error(d.FramedRaw(FramePrefix(0))); }
  SECTION("over the limit") { check_parse_error(d.FramedRaw(FramePrefix(1025))); }
  SECTION("far over the limit, with bytes following") {
    check_parse_error(d.FramedRaw(FramePrefix(0x3fffffff) + std::string(3000, 'x')));
  }
  SECTION("exactly the limit is read") {
    std::string body = kInfo;
    body.resize(1024, ' ');
    std::optional<std::string> response = d.Framed(body);
    REQUIRE(response);
    CheckServerInfoResult(*response, 1);
  }
}

TEST_CASE("GET /health", "[integration]") {
  Daemon d;
  HttpClient http = d.Http();
  HttpResponse r = http.Get("/health");
  CHECK(r.status == 200);
  CHECK(r.Header("content-type") == "application/json");
  rapidjson::Document doc = ParseJson(r.body);
  CHECK(std::string(doc["status"].GetString()) == "ok");
  CHECK(std::string(doc["version"].GetString()) == TESTRUND_VERSION_FOR_TESTS);
  CHECK(doc["uptime_seconds"].IsNumber());
  CHECK(doc["connections"].GetInt() == 1);
  CHECK(doc["runs"].GetInt() == 0);
}

TEST_CASE("HTTP: 404 and 405 keep the connection", "[integration]") {
  Daemon d;
  HttpClient http = d.Http();
  HttpResponse r = http.Get("/nope");
  CHECK(r.status == 404);
  r = http.Post("/nope", kInfo);
  CHECK(r.status == 404);
  r = http.Get("/");
  CHECK(r.status == 405);
  CHECK(r.Header("allow") == "POST");
  r = http.Request("PUT", "/jsonrpc", kInfo);
  CHECK(r.status == 405);
  CHECK(r.Header("allow") == "POST");
  r = http.Post("/health", "");
  CHECK(r.status == 405);
  CHECK(r.Header("allow") == "GET");
  CHECK(http.Post("/", kInfo).status == 200);
}

TEST_CASE("HTTP: 413 for a body over max_body_bytes, then close", "[integration]") {
  Daemon d({"--max-body-bytes", "1K"});
  SECTION("Content-Length") {
    HttpClient http = d.Http();
    HttpResponse r = http.Post("/", std::string(2000, ' '));
    CHECK(r.status == 413);
    CHECK(r.Header("connection") == "close");
    CHECK(http.WaitClosed());
  }
  SECTION("chunked") {
    HttpClient http = d.Http();
    std::string chunk(800, ' ');
    http.SendRaw("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" + chunk +
                 "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
    CHECK(http.ReadResponse().status == 413);
    CHECK(http.WaitClosed());
  }
  SECTION("exactly the limit is accepted") {
    HttpClient http = d.Http();
    std::string body = kInfo;
    body.resize(1024, ' ');
    CHECK(http.Post("/", body).status == 200);
  }
}

TEST_CASE("HTTP: invalid requests get 400 and close", "[integration]") {
  Daemon d;
  const char* bad[] = {
      "HELLO\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "POST / HTTP/9.9x\r\n\r\n",
  };
  for (const char* request : bad) {
    INFO(request);
    HttpClient http = d.Http();
    http.SendRaw(request);
    HttpResponse r = http.ReadResponse();
    CHECK(r.status == 400);
    CHECK(r.Header("connection") == "close");
    CHECK(http.WaitClosed());
  }
}

TEST_CASE("HTTP: 431 for headers over max_header_bytes, then close", "[integration]") {
  Daemon d({"--max-header-bytes", "1K"});
  HttpClient http = d.Http();
  CHECK(http.Get("/health", {{"X-Small", std::string(500, 'a')}}).status == 200);
  http.SendRaw("GET /health HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  HttpResponse r = http.ReadResponse();
  CHECK(r.status == 431);
  CHECK(http.WaitClosed());
}

TEST_CASE("TLS: both framings inside TLS", "[integration]") {
  Daemon d({}, Daemon::Options{.tls = true});
  CHECK(d.listeners().size() == 2);
  HttpClient https = d.Https();
  for (int id = 1; id <= 3; ++id) {
    HttpResponse r = https.Post("/", InfoWithId(id));
    CHECK(r.status == 200);
    CheckServerInfoResult(r.body, id);
  }
  CHECK(https.Get("/health").status == 200);
  std::optional<std::string> framed = d.Framed(kInfo, true);
  REQUIRE(framed);
  CheckServerInfoResult(*framed, 1);
  std::string raw = d.FramedRaw(FramePrefix(0), true);
  REQUIRE(raw.size() > 4);
  CHECK(ErrorCode(raw.substr(4)) == -32700);
  // The plain port still speaks plain.
  CHECK(d.Http().Post("/", kInfo).status == 200);
  CHECK(d.Log().find("(tls)") != std::string::npos);
}

TEST_CASE("TLS only: the plain listener can be disabled", "[integration]") {
  Daemon d({"--listen", ""}, Daemon::Options{.tls = true});
  REQUIRE(d.listeners().size() == 1);
  CHECK(d.listeners()[0].second);
  CHECK(d.Https().Post("/", kInfo).status == 200);
}

// Whether a TLS handshake with the daemon succeeds for a client limited to the protocol
// versions [min_version, max_version] and the TLS 1.2 cipher list `ciphers`.
bool TlsHandshakeSucceeds(uint16_t port, int min_version, int max_version, const char* ciphers) {
  std::unique_ptr<Stream> tcp = Stream::Connect(port, false);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        &SSL_CTX_free);
  REQUIRE(ctx);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_security_level(ctx.get(), 0);  // let the client offer what the server must refuse
  REQUIRE(SSL_CTX_set_min_proto_version(ctx.get(), min_version) == 1);
  REQUIRE(SSL_CTX_set_max_proto_version(ctx.get(), max_version) == 1);
  REQUIRE(SSL_CTX_set_cipher_list(ctx.get(), ciphers) == 1);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  REQUIRE(ssl);
  SSL_set_fd(ssl.get(), tcp->fd());
  bool ok = SSL_connect(ssl.get()) == 1;
  ERR_clear_error();
  return ok;
}

TEST_CASE("TLS: 1.2 or 1.3 only, and TLS 1.2 only with forward-secret AEAD ciphers",
          "[integration]") {
  Daemon d({"--listen", ""}, Daemon::Options{.tls = true});
  uint16_t port = d.tls_port();
  CHECK(TlsHandshakeSucceeds(port, TLS1_3_VERSION, TLS1_3_VERSION, "DEFAULT"));
  CHECK(TlsHandshakeSucceeds(port, TLS1_2_VERSION, TLS1_2_VERSION,
                             "ECDHE-ECDSA-AES128-GCM-SHA256"));
  CHECK(TlsHandshakeSucceeds(port, TLS1_2_VERSION, TLS1_2_VERSION,
                             "ECDHE-ECDSA-CHACHA20-POLY1305"));
  // CBC with SHA-1 / SHA-384 MACs: offered by OpenSSL's defaults, refused here.
  CHECK_FALSE(TlsHandshakeSucceeds(port, TLS1_2_VERSION, TLS1_2_VERSION,
                                   "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384"));
  CHECK_FALSE(TlsHandshakeSucceeds(port, TLS1_VERSION, TLS1_1_VERSION, "DEFAULT"));
  // The daemon still serves a normal client.
  CHECK(d.Https().Post("/", kInfo).status == 200);
}

TEST_CASE("tokens: HTTP 401 without a valid Bearer token", "[integration]") {
  Daemon d({"--token", "op-secret:operator", "--token", "obs-secret:observer"});
  HttpClient http = d.Http();
  HttpResponse r = http.Post("/", kInfo);
  CHECK(r.status == 401);
  CHECK(r.Header("www-authenticate") == "Bearer");
  CHECK(ErrorCode(r.body) == -32010);
  r = http.Post("/", kInfo, {{"Authorization", "Bearer wrong"}});
  CHECK(r.status == 401);
  CHECK(r.Header("www-authenticate").starts_with("Bearer"));
  r = http.Post("/", kInfo, {{"Authorization", "Basic b3Atc2VjcmV0"}});
  CHECK(r.status == 401);
  r = http.Post("/", kInfo, {{"Authorization", "Bearer op-secret"}});
  CHECK(r.status == 200);
  CheckServerInfoResult(r.body, 1);
  r = http.Post("/", kInfo, {{"Authorization", "bearer obs-secret"}});
  CHECK(r.status == 200);
  CheckServerInfoResult(r.body, 1);
  // /health needs no token.
  CHECK(http.Get("/health").status == 200);
  // Tokens never reach the log.
  CHECK(d.Log().find("op-secret") == std::string::npos);
  CHECK(d.Log().find("obs-secret") == std::string::npos);
}

TEST_CASE("tokens: the body of an RPC POST without a valid token is not buffered",
          "[integration]") {
  Daemon d({"--token", "op-secret:operator"});
  constexpr size_t kClients = 16;
  constexpr size_t kSent = 4u << 20;
  constexpr size_t kAnnounced = 16'000'000;
  int64_t before = ResidentKiB(d.pid());
  std::vector<HttpClient> clients;
  for (size_t k = 0; k < kClients; ++k) {
    clients.push_back(d.Http());
    clients.back().SendRaw(fmt::format("POST / HTTP/1.1\r\nHost: x\r\n{}Content-Length: {}\r\n\r\n",
                                       k % 2 == 0 ? "" : "Authorization: Bearer wrong\r\n",
                                       kAnnounced) +
                           std::string(kSent, 'x'));
  }
  // Every client's 4 MiB has been written, so the daemon read it (the socket buffers hold
  // far less): buffered, it would be 64 MiB.
  HttpResponse info = d.Http().Post("/", kInfo, {{"Authorization", "Bearer op-secret"}});
  CHECK(info.status == 200);
  int64_t grown_kib = ResidentKiB(d.pid()) - before;
  INFO("RSS grew by " << grown_kib << " KiB");
  if (!kAddressSanitizer) CHECK(grown_kib < 16 * 1024);
  // The rest of the body is read and dropped too; the answer is a 401 on a live connection.
  clients[0].SendRaw(std::string(kAnnounced - kSent, 'x'));
  HttpResponse r = clients[0].ReadResponse();
  CHECK(r.status == 401);
  CHECK(ErrorCode(r.body) == -32010);
  r = clients[0].Post("/", kInfo, {{"Authorization", "Bearer op-secret"}});
  CHECK(r.status == 200);
  clients[1].SendRaw(std::string(kAnnounced - kSent, 'x'));
  CHECK(clients[1].ReadResponse().Header("www-authenticate").starts_with("Bearer error="));
}

TEST_CASE("tokens: framed requests carry auth; missing or wrong is -32010", "[integration]") {
  Daemon d({"--token", "op-secret:operator", "--token", "obs-secret:observer"});
  std::optional<std::string> r = d.Framed(kInfo);
  REQUIRE(r);
  CHECK(ErrorCode(*r) == -32010);
  r = d.Framed(InfoWithAuth("wrong"));
  REQUIRE(r);
  CHECK(ErrorCode(*r) == -32010);
  r = d.Framed(InfoWithAuth("op-secret"));
  REQUIRE(r);
  CheckServerInfoResult(*r, 7);
  r = d.Framed(InfoWithAuth("obs-secret"));
  REQUIRE(r);
  CheckServerInfoResult(*r, 7);
}

TEST_CASE("tokens: an observer may not call an operator method (-32011)", "[integration]") {
  Daemon d({"--token", "op-secret:operator", "--token", "obs-secret:observer"});
  const std::string cancel = R"({"jsonrpc":"2.0","method":"CancelTest","params":{"run_id":"x"},)"
                             R"("id":3)";
  HttpClient http = d.Http();
  HttpResponse h = http.Post("/", cancel + "}", {{"Authorization", "Bearer op-secret"}});
  if (ErrorCode(h.body) == -32601) {
    // Until the run methods are in the method table there is no operator-only method.
    WARN("CancelTest is not registered yet: role check not exercised");
    return;
  }
  // The operator gets past the role check (the run does not exist).
  CHECK(h.status == 200);
  CHECK(ErrorCode(h.body) == -32001);
  std::optional<std::string> r = d.Framed(cancel + R"(,"auth":"obs-secret"})");
  REQUIRE(r);
  CHECK(ErrorCode(*r) == -32011);
  h = http.Post("/", cancel + "}", {{"Authorization", "Bearer obs-secret"}});
  CHECK(h.status == 200);
  CHECK(ErrorCode(h.body) == -32011);
}

TEST_CASE("idle_timeout closes idle and stalled connections", "[integration]") {
  Daemon d({"--idle-timeout", "1"});
  using std::chrono::steady_clock;
  SECTION("half a request, then nothing") {
    HttpClient http = d.Http();
    auto start = steady_clock::now();
    http.SendRaw("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"");
    CHECK(http.WaitClosed(10));
    double waited = std::chrono::duration<double>(steady_clock::now() - start).count();
    CHECK(waited >= 0.9);
    CHECK(waited < 5);
  }
  SECTION("an idle keep-alive connection") {
    HttpClient http = d.Http();
    CHECK(http.Post("/", kInfo).status == 200);
    CHECK(http.WaitClosed(10));
  }
  SECTION("half a length prefix") {
    std::unique_ptr<Stream> stream = Stream::Connect(d.port(), false);
    REQUIRE(stream->WriteAll(std::string("\0\0", 2)));
    CHECK(stream->WaitClosed(10));
  }
}

TEST_CASE("max_connections: connections over the limit are closed at once", "[integration]") {
  Daemon d({"--max-connections", "2"});
  std::optional<HttpClient> first(d.Http());
  HttpClient second = d.Http();
  CHECK(first->Get("/health").status == 200);
  CHECK(second.Get("/health").status == 200);
  std::unique_ptr<Stream> third = Stream::Connect(d.port(), false);
  CHECK(third->WaitClosed(10));
  // The two accepted connections are unaffected.
  CHECK(second.Post("/", kInfo).status == 200);
  // After one closes, a new connection is served (the daemon sees the close first).
  first.reset();
  bool served = false;
  for (int attempt = 0; attempt < 200 && !served; ++attempt) {
    std::unique_ptr<Stream> next = Stream::Connect(d.port(), false);
    REQUIRE(next->WriteAll("GET /health HTTP/1.1\r\n\r\n"));
    std::optional<std::string> reply = next->ReadSome(10);
    served = reply && reply->starts_with("HTTP/1.1 200");
  }
  CHECK(served);
}

TEST_CASE("max_json_depth: deeper nesting is -32700", "[integration]") {
  Daemon d({"--max-json-depth", "4"});
  HttpClient http = d.Http();
  std::string shallow =
      R"({"jsonrpc":"2.0","method":"GetServerInfo","params":{"a":{"b":{}}},"id":1})";
  std::string deep =
      R"({"jsonrpc":"2.0","method":"GetServerInfo","params":{"a":{"b":{"c":{"d":{}}}}},"id":1})";
  HttpResponse r = http.Post("/", shallow);
  CHECK(r.status == 200);
  CheckServerInfoResult(r.body, 1);
  r = http.Post("/", deep);
  CHECK(r.status == 200);
  CHECK(ErrorCode(r.body) == -32700);
  std::optional<std::string> framed = d.Framed(std::string(100, '[') + std::string(100, ']'));
  REQUIRE(framed);
  CHECK(ErrorCode(*framed) == -32700);
}

TEST_CASE("start-up lines and signals", "[integration]") {
  SECTION("SIGTERM exits 0 and stops listening") {
    Daemon d;
    uint16_t port = d.port();
    HttpClient http = d.Http();
    CHECK(http.Get("/health").status == 200);
    CHECK(d.Log().find("no tokens configured") != std::string::npos);
    CHECK(d.Stop(SIGTERM) == 0);
    CHECK(http.WaitClosed());
    CHECK(d.Log().find("SIGTERM: stopping") != std::string::npos);
    (void)port;
  }
  SECTION("SIGINT exits 0") {
    Daemon d;
    CHECK(d.Stop(SIGINT) == 0);
  }
  SECTION("several listeners, one line each, real ports") {
    Daemon d({"--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"});
    REQUIRE(d.listeners().size() == 2);
    CHECK(d.listeners()[0].first != 0);
    CHECK(d.listeners()[0].first != d.listeners()[1].first);
    for (const auto& [port, tls] : d.listeners()) {
      CHECK(HttpClient(port, false).Get("/health").status == 200);
    }
  }
  SECTION("a non-loopback listener without tokens is warned about") {
    Daemon d({"--listen", "0.0.0.0:0"});
    CHECK(d.Log().find("warn no tokens configured: 0.0.0.0:") != std::string::npos);
  }
  SECTION("with tokens there is no warning") {
    Daemon d({"--listen", "0.0.0.0:0", "--token", "t:operator"});
    CHECK(d.Log().find("no tokens configured") == std::string::npos);
  }
  SECTION("an address in use fails start-up with exit 1") {
    Daemon d;
    auto r = RunToExit({"--listen", "127.0.0.1:" + std::to_string(d.port())});
    CHECK(r.exit_status == 1);
    CHECK(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(d.port())) !=
          std::string::npos);
  }
}

TEST_CASE("log_file: the log goes to the file and SIGHUP reopens it", "[integration]") {
  TempDir dir;
  std::string log = dir.path() + "/testrund.log";
  Daemon d({"--log-file", log}, Daemon::Options{.expected_listeners = 0});
  REQUIRE(WaitForFileText(log, "listening on 127.0.0.1:"));
  std::filesystem::rename(log, log + ".1");
  kill(d.pid(), SIGHUP);
  REQUIRE(WaitForFileText(log, "log file reopened"));
  CHECK(ReadFile(log + ".1").find("listening on") != std::string::npos);
  CHECK(d.Stop() == 0);
  CHECK(ReadFile(log).find("SIGTERM: stopping") != std::string::npos);
}

TEST_CASE("state_dir: a missing folder is created at start-up", "[integration]") {
  TempDir dir;
  std::string state = dir.path() + "/state";
  Daemon d({"--state-dir", state});
  CHECK(std::filesystem::is_directory(state));
  CHECK(std::filesystem::is_empty(state));  // the write probe is gone
  CHECK(d.Stop() == 0);
}

TEST_CASE("command line: --version, --help, --check-config, config errors exit 2",
          "[integration]") {
  TempDir dir;
  SECTION("--version") {
    auto r = RunToExit({"--version"});
    CHECK(r.exit_status == 0);
    CHECK(r.out == std::string("testrund ") + TESTRUND_VERSION_FOR_TESTS + "\n");
  }
  SECTION("--help") {
    auto r = RunToExit({"--help"});
    CHECK(r.exit_status == 0);
    CHECK(r.out.find("--max-body-bytes") != std::string::npos);
    CHECK(r.out.find("--tls-listen") != std::string::npos);
  }
  SECTION("--check-config with a good file") {
    std::string conf = dir.Write("good.conf", "listen = 127.0.0.1:0\nmax_runs = 5\n");
    auto r = RunToExit({"--config", conf, "--check-config"});
    CHECK(r.exit_status == 0);
    CHECK(r.out == "testrund: configuration ok\n");
  }
  SECTION("the shipped conf/testrund.conf is valid") {
    auto r = RunToExit({"--config", TESTRUND_SOURCE_DIR "/conf/testrund.conf", "--check-config"});
    CHECK(r.exit_status == 0);
  }
  SECTION("a bad value names file, line and key") {
    std::string conf = dir.Write("bad.conf", "# comment\nmax_runs = lots\n");
    auto r = RunToExit({"--config", conf, "--check-config"});
    CHECK(r.exit_status == 2);
    CHECK(r.err == "testrund: " + conf + ":2: max_runs: \"lots\" is not a non-negative integer\n");
    r = RunToExit({"--config", conf});
    CHECK(r.exit_status == 2);
  }
  SECTION("an unknown key") {
    std::string conf = dir.Write("bad.conf", "max_runs = 1\n\nfrobnicate = 3\n");
    auto r = RunToExit({"--config", conf});
    CHECK(r.exit_status == 2);
    CHECK(r.err == "testrund: " + conf + ":3: frobnicate: unknown key\n");
  }
  SECTION("an unreadable file") {
    auto r = RunToExit({"--config", dir.path() + "/missing.conf"});
    CHECK(r.exit_status == 2);
    CHECK(r.err.find("missing.conf: cannot read config file") != std::string::npos);
  }
  SECTION("a bad flag") {
    auto r = RunToExit({"--max-body-bytes", "12Q"});
    CHECK(r.exit_status == 2);
    CHECK(r.err ==
          "testrund: command line: --max-body-bytes: \"12Q\" is not a size (bytes, "
          "or a number with a K, M or G suffix)\n");
    r = RunToExit({"--bogus"});
    CHECK(r.exit_status == 2);
  }
  SECTION("a state_dir that cannot be written is a configuration error") {
    // Under a regular file: no directory can be made there, even by root.
    std::string file = dir.Write("file", "x");
    std::string conf = dir.Write("state.conf", "state_dir = " + file + "/state\n");
    auto r = RunToExit({"--config", conf, "--listen", "127.0.0.1:0"});
    CHECK(r.exit_status == 2);
    CHECK_THAT(r.err, Catch::EndsWith(" error cannot create state_dir " + file +
                                      "/state: Not a directory\n"));
    CHECK(r.err.find("listening on") == std::string::npos);
  }
  SECTION("--check-config loads the TLS files") {
    std::string cert = dir.Write("cert.pem", "not a certificate\n");
    auto r = RunToExit(
        {"--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", cert, "--check-config"});
    CHECK(r.exit_status == 2);
    CHECK(r.err.find("tls_cert: cannot load " + cert) != std::string::npos);
  }
}

}  // namespace testrund::test
