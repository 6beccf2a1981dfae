// SPDX-License-Identifier: Apache-2.0
// ParseUrl and Url::HostHeader: every scheme with its default port, IPv6 hosts in brackets,
// request targets (path and query, "/" when empty), the tcp:// and tls:// rules of the
// jsonrpc op, and the exact error sentences a user reads after the attribute name.
#include <catch2/catch.hpp>

#include <string>

#include "ops/net/url.h"

using testrund::ops::ParseUrl;
using testrund::ops::Url;

namespace {

// The parsed URL; fails the test (with the error text) when `text` is refused.
Url Parse(const std::string& text, bool allow_tcp = false) {
  auto url = ParseUrl(text, allow_tcp);
  INFO(text << ": " << (url.ok() ? std::string() : url.message()));
  REQUIRE(url.ok());
  return url.value();
}

// The error sentence for `text` ("" when it parsed).
std::string Error(const std::string& text, bool allow_tcp = false) {
  auto url = ParseUrl(text, allow_tcp);
  return url.ok() ? std::string() : url.message();
}

}  // namespace

TEST_CASE("http and https take their default ports", "[unit]") {
  Url http = Parse("http://example.com");
  CHECK(http.scheme == "http");
  CHECK(http.host == "example.com");
  CHECK(http.port == 80);
  CHECK(http.target == "/");
  CHECK_FALSE(http.tls());
  CHECK_FALSE(http.framed());
  CHECK(http.HostHeader() == "example.com");

  Url https = Parse("https://example.com/");
  CHECK(https.scheme == "https");
  CHECK(https.host == "example.com");
  CHECK(https.port == 443);
  CHECK(https.target == "/");
  CHECK(https.tls());
  CHECK_FALSE(https.framed());
  CHECK(https.HostHeader() == "example.com");
}

TEST_CASE("an explicit port is kept and written in Host unless it is the default", "[unit]") {
  Url http = Parse("http://127.0.0.1:8080/x");
  CHECK(http.host == "127.0.0.1");
  CHECK(http.port == 8080);
  CHECK(http.HostHeader() == "127.0.0.1:8080");

  CHECK(Parse("http://example.com:80/").HostHeader() == "example.com");
  CHECK(Parse("https://example.com:443/").HostHeader() == "example.com");
  // The default of the other scheme is not this scheme's default.
  CHECK(Parse("http://example.com:443/").HostHeader() == "example.com:443");
  CHECK(Parse("https://example.com:80/").HostHeader() == "example.com:80");

  Url highest = Parse("http://example.com:65535");
  CHECK(highest.port == 65535);
  CHECK(highest.HostHeader() == "example.com:65535");
  CHECK(Parse("http://example.com:1").port == 1);
}

TEST_CASE("the scheme is matched without case and stored lower-cased", "[unit]") {
  Url url = Parse("HTTPS://Example.COM/Path");
  CHECK(url.scheme == "https");
  CHECK(url.port == 443);
  CHECK(url.tls());
  // Host and path are kept as written.
  CHECK(url.host == "Example.COM");
  CHECK(url.target == "/Path");
}

TEST_CASE("the target is the path plus the query, \"/\" when the path is empty", "[unit]") {
  CHECK(Parse("http://h").target == "/");
  CHECK(Parse("http://h/").target == "/");
  CHECK(Parse("http://h/a/b/c.json").target == "/a/b/c.json");
  CHECK(Parse("http://h/search?q=1&lang=en").target == "/search?q=1&lang=en");
  CHECK(Parse("http://h?q=1").target == "/?q=1");
  CHECK(Parse("http://h:81?q=1").target == "/?q=1");
  CHECK(Parse("http://h/p%20q?x=%2F").target == "/p%20q?x=%2F");
  // A fragment never reaches the server.
  CHECK(Parse("http://h/page?x=1#part").target == "/page?x=1");
  CHECK(Parse("http://h/page#part").target == "/page");
}

TEST_CASE("IPv6 hosts are stored without brackets and written with them", "[unit]") {
  Url loopback = Parse("http://[::1]:8080/health");
  CHECK(loopback.host == "::1");
  CHECK(loopback.port == 8080);
  CHECK(loopback.target == "/health");
  CHECK(loopback.HostHeader() == "[::1]:8080");

  Url plain = Parse("http://[2001:db8::7]/");
  CHECK(plain.host == "2001:db8::7");
  CHECK(plain.port == 80);
  CHECK(plain.HostHeader() == "[2001:db8::7]");

  Url https = Parse("https://[fe80::1]:443");
  CHECK(https.host == "fe80::1");
  CHECK(https.HostHeader() == "[fe80::1]");
}

TEST_CASE("tcp:// and tls:// are the framed transports, with a port and no path", "[unit]") {
  Url tcp = Parse("tcp://127.0.0.1:7000", true);
  CHECK(tcp.scheme == "tcp");
  CHECK(tcp.host == "127.0.0.1");
  CHECK(tcp.port == 7000);
  CHECK(tcp.target == "/");
  CHECK(tcp.framed());
  CHECK_FALSE(tcp.tls());
  CHECK(tcp.HostHeader() == "127.0.0.1:7000");

  Url tls = Parse("tls://svc.example:7443", true);
  CHECK(tls.scheme == "tls");
  CHECK(tls.host == "svc.example");
  CHECK(tls.port == 7443);
  CHECK(tls.framed());
  CHECK(tls.tls());
  CHECK(tls.HostHeader() == "svc.example:7443");

  // A lone "/" is no path.
  CHECK(Parse("tcp://h:9/", true).target == "/");
  Url ipv6 = Parse("TCP://[::1]:9", true);
  CHECK(ipv6.scheme == "tcp");
  CHECK(ipv6.host == "::1");
  CHECK(ipv6.HostHeader() == "[::1]:9");

  // http and https stay accepted where tcp is.
  CHECK(Parse("http://h/x", true).target == "/x");
}

TEST_CASE("refused URLs name what is wrong", "[unit]") {
  CHECK(Error("ftp://example.com/file") == "unknown scheme \"ftp\"");
  CHECK(Error("FTP://example.com/file") == "unknown scheme \"ftp\"");
  CHECK(Error("ws://example.com/") == "unknown scheme \"ws\"");
  // Outside jsonrpc the framed schemes are unknown.
  CHECK(Error("tcp://127.0.0.1:7000") == "unknown scheme \"tcp\"");
  CHECK(Error("tls://127.0.0.1:7000") == "unknown scheme \"tls\"");

  CHECK(Error("http://:8080/") == "no host");
  CHECK(Error("http:///path") == "no host");
  CHECK(Error("http://") == "no host");
  CHECK(Error("tcp://:7000", true) == "no host");

  CHECK(Error("http://example.com:0/") == "port 0 out of range (1-65535)");
  CHECK(Error("tcp://example.com:0", true) == "port 0 out of range (1-65535)");

  CHECK(Error("tcp://127.0.0.1", true) == "tcp:// needs a port");
  CHECK(Error("tls://svc.example/", true) == "tls:// needs a port");

  CHECK(Error("tcp://127.0.0.1:7000/rpc", true) == "tcp:// takes no path");
  CHECK(Error("tls://127.0.0.1:7000?x=1", true) == "tls:// takes no path");

  CHECK(Error("http://user:secret@example.com/") == "user info is not supported");

  CHECK(Error("/relative/path") == "no scheme (http:// or https://)");

  CHECK(Error("") == "not a URL");
  CHECK(Error("not a url") == "not a URL");
  CHECK(Error("http://exa mple.com/") == "not a URL");
  CHECK(Error("http://example.com:65536/") == "not a URL");
  CHECK(Error("http://example.com:port/") == "not a URL");
  CHECK(Error("http://[::1/") == "not a URL");
}

