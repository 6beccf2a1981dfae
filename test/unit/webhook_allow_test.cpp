// SPDX-License-Identifier: Apache-2.0
// WebhookAllowList (ops/report/webhook_allow.h): the default is loopback and equals its
// text, separators, addresses and CIDR networks of both families (prefix edges, IPv4-mapped
// IPv6 hosts), host names matched exactly ignoring case and never as addresses, and the
// exact error sentence of every kind of bad entry.
#include "ops/report/webhook_allow.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using testrund::ops::WebhookAllowList;

namespace {

WebhookAllowList Parse(const std::string& text) {
  auto list = WebhookAllowList::Parse(text);
  INFO(text << ": " << (list.ok() ? std::string() : list.message()));
  REQUIRE(list.ok());
  return list.value();
}

std::string Error(const std::string& text) {
  auto list = WebhookAllowList::Parse(text);
  return list.ok() ? std::string() : list.message();
}

}  // namespace

TEST_CASE("the default list is loopback and equals its text", "[unit]") {
  WebhookAllowList list;
  CHECK(list == Parse(std::string(WebhookAllowList::kDefaultText)));
  CHECK(WebhookAllowList::kDefaultText == "127.0.0.0/8,::1,localhost");
  CHECK(list.Allows("127.0.0.1"));
  CHECK(list.Allows("127.255.1.2"));
  CHECK(list.Allows("::1"));
  CHECK(list.Allows("localhost"));
  CHECK(list.Allows("LocalHost"));
  CHECK(list.Allows("::ffff:127.0.0.1"));
  CHECK_FALSE(list.Allows("128.0.0.1"));
  CHECK_FALSE(list.Allows("10.0.0.1"));
  CHECK_FALSE(list.Allows("::2"));
  CHECK_FALSE(list.Allows("0.0.0.0"));
  CHECK_FALSE(list.Allows("example.com"));
  CHECK_FALSE(list.Allows("localhost.example.com"));
  CHECK_FALSE(list.Allows("localhost."));
  CHECK_FALSE(list.Allows(""));
  CHECK_FALSE(list.empty());
}

TEST_CASE("entries are separated by commas and white space", "[unit]") {
  WebhookAllowList list = Parse(" 10.1.2.3,, hooks.example.com\t fd00::/8 ,");
  CHECK(list.Allows("10.1.2.3"));
  CHECK_FALSE(list.Allows("10.1.2.4"));
  CHECK(list.Allows("hooks.example.com"));
  CHECK(list.Allows("fd12:3456::1"));
  CHECK_FALSE(list.Allows("fe00::1"));
  // The text replaces the default: loopback is no longer allowed.
  CHECK_FALSE(list.Allows("127.0.0.1"));
  CHECK_FALSE(list.Allows("localhost"));
}

TEST_CASE("an empty text allows nothing", "[unit]") {
  for (const char* text : {"", " ", ",", " , \t"}) {
    WebhookAllowList list = Parse(text);
    CHECK(list.empty());
    CHECK_FALSE(list.Allows("127.0.0.1"));
    CHECK_FALSE(list.Allows("localhost"));
  }
}

TEST_CASE("CIDR networks match by prefix, of their own family only", "[unit]") {
  WebhookAllowList list = Parse("10.0.0.0/8 192.168.4.0/22 172.16.5.7/32 2001:db8::/32");
  CHECK(list.Allows("10.0.0.0"));
  CHECK(list.Allows("10.255.255.255"));
  CHECK_FALSE(list.Allows("11.0.0.0"));
  CHECK_FALSE(list.Allows("9.255.255.255"));
  CHECK(list.Allows("192.168.4.0"));
  CHECK(list.Allows("192.168.7.255"));
  CHECK_FALSE(list.Allows("192.168.8.0"));
  CHECK_FALSE(list.Allows("192.168.3.255"));
  CHECK(list.Allows("172.16.5.7"));
  CHECK_FALSE(list.Allows("172.16.5.6"));
  CHECK(list.Allows("2001:db8::1"));
  CHECK(list.Allows("2001:DB8:ffff::"));
  CHECK_FALSE(list.Allows("2001:db9::1"));
  // An IPv4-mapped IPv6 address reaches the IPv4 host; a v4-compatible one is plain IPv6.
  CHECK(list.Allows("::ffff:10.9.8.7"));
  CHECK(list.Allows("::ffff:a09:807"));
  CHECK_FALSE(list.Allows("::ffff:11.0.0.1"));
  CHECK_FALSE(list.Allows("::10.9.8.7"));
}

TEST_CASE("/0 allows a whole family", "[unit]") {
  WebhookAllowList v4 = Parse("0.0.0.0/0");
  CHECK(v4.Allows("8.8.8.8"));
  CHECK(v4.Allows("::ffff:8.8.8.8"));
  CHECK_FALSE(v4.Allows("2001:db8::1"));
  CHECK_FALSE(v4.Allows("example.com"));
  WebhookAllowList v6 = Parse("::/0");
  CHECK(v6.Allows("2001:db8::1"));
  CHECK_FALSE(v6.Allows("8.8.8.8"));
}

TEST_CASE("names match names only, exactly and ignoring case", "[unit]") {
  WebhookAllowList list = Parse("Hooks.Example.COM,ci_runner-1");
  CHECK(list.Allows("hooks.example.com"));
  CHECK(list.Allows("HOOKS.EXAMPLE.COM"));
  CHECK(list.Allows("ci_runner-1"));
  CHECK_FALSE(list.Allows("example.com"));
  CHECK_FALSE(list.Allows("a.hooks.example.com"));
  CHECK_FALSE(list.Allows("hooks.example.com."));
  CHECK_FALSE(list.Allows("hooks.example.co"));
  // Names are not resolved: an address is never allowed by a name, whatever it resolves to.
  CHECK_FALSE(Parse("localhost").Allows("127.0.0.1"));
  // Numeric forms the resolver would read as an address are not IP literals here, and
  // never names: they match nothing.
  WebhookAllowList loopback = Parse("127.0.0.0/8");
  CHECK_FALSE(loopback.Allows("127.1"));
  CHECK_FALSE(loopback.Allows("2130706433"));
  CHECK_FALSE(loopback.Allows("0x7f.0.0.1"));
  CHECK_FALSE(loopback.Allows("0177.0.0.1"));
}

TEST_CASE("every bad entry is named in the error", "[unit]") {
  CHECK(Error("10.0.0.0/33") ==
        "\"10.0.0.0/33\" is not a CIDR network: the prefix length must be 0 to 32");
  CHECK(Error("fd00::/129") ==
        "\"fd00::/129\" is not a CIDR network: the prefix length must be 0 to 128");
  CHECK(Error("10.0.0.0/") ==
        "\"10.0.0.0/\" is not a CIDR network: the prefix length must be 0 to 32");
  CHECK(Error("10.0.0.0/-1") ==
        "\"10.0.0.0/-1\" is not a CIDR network: the prefix length must be 0 to 32");
  CHECK(Error("10.0.0.0/8/9") ==
        "\"10.0.0.0/8/9\" is not a CIDR network: the prefix length must be 0 to 32");
  CHECK(Error("10.0.0.0/+8") ==
        "\"10.0.0.0/+8\" is not a CIDR network: the prefix length must be 0 to 32");
  CHECK(Error("10.0.0/8") ==
        "\"10.0.0/8\" is not a CIDR network: \"10.0.0\" is not an IPv4 or IPv6 address");
  CHECK(Error("example.com/8") ==
        "\"example.com/8\" is not a CIDR network: \"example.com\" is "
        "not an IPv4 or IPv6 address");
  CHECK(Error("10.0.0.1/8") ==
        "\"10.0.0.1/8\" is not a CIDR network: bits are set past the /8 "
        "prefix (the network is 10.0.0.0/8)");
  CHECK(Error("fd00::1/8") ==
        "\"fd00::1/8\" is not a CIDR network: bits are set past the /8 "
        "prefix (the network is fd00::/8)");
  const char* kNotEntry = "\" is not an IP address, a CIDR network or a host name";
  for (std::string bad : std::vector<std::string>{
           "[::1]", "fe80::1%eth0", "300.1.1.1", "10.0.0", "127.1", "a..b", ".example.com",
           "example.com.", "exa!mple", "host:80", std::string(64, 'a'), "1.2.3.4.5"}) {
    CHECK(Error("localhost, " + bad) == "\"" + bad + kNotEntry);
  }
  CHECK(Error("http://localhost") ==
        "\"http://localhost\" is not a CIDR network: \"http:\" is "
        "not an IPv4 or IPv6 address");
  // The first bad entry is the one named.
  CHECK(Error("localhost 10.0.0.0/40 a..b") ==
        "\"10.0.0.0/40\" is not a CIDR network: the prefix length must be 0 to 32");
}

TEST_CASE("edge entries that are fine", "[unit]") {
  CHECK(Parse("0.0.0.0/0").Allows("1.2.3.4"));
  CHECK(Parse("255.255.255.255/32").Allows("255.255.255.255"));
  CHECK(Parse("::/128").Allows("::"));
  CHECK(Parse("10.0.0.0/08").Allows("10.1.1.1"));
  CHECK(Parse(std::string(63, 'a') + ".example").Allows(std::string(63, 'A') + ".example"));
  CHECK(Parse("a1").Allows("a1"));
  CHECK(Parse("1a.example").Allows("1a.example"));
  CHECK(Parse("localhost,::1") == Parse(" localhost  ::1 "));
}
