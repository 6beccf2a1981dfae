// SPDX-License-Identifier: Apache-2.0
// SIP messages (ops/sip/): the parser on well-formed requests and responses as SIPp sends
// them, compact and folded headers, bodies by Content-Length over UDP and TCP, and every
// malformed input with the byte offset it is reported at; the writer, read back by the
// parser; header fields (parameters, CSeq, Via, name-addr URIs, a URI's host and port); and
// the uniqueness of generated branches, tags and Call-IDs.
#include "ops/sip/sip_message.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <string_view>

#include "ops/sip/sip_headers.h"
#include "ops/sip/sip_ids.h"

namespace testrund::ops::sip {
namespace {

using Kind = ParseResult::Kind;
using namespace std::string_view_literals;

constexpr std::string_view kInvite =
    "INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0\r\n"
    "From: sipp <sip:sipp@127.0.0.1:5061>;tag=1\r\n"
    "To: service <sip:service@127.0.0.1:5060>\r\n"
    "Call-ID: 1-42@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: sip:sipp@127.0.0.1:5061\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 10\r\n"
    "\r\n"
    "v=0\r\no=x\r\n";

ParseResult ParseDatagram(std::string_view bytes) { return Parse(bytes, Framing::kDatagram); }

TEST_CASE("a request is read whole", "[unit][sip]") {
  ParseResult r = ParseDatagram(kInvite);
  REQUIRE(r.kind == Kind::kMessage);
  const Message& m = r.message;
  CHECK(m.is_request);
  CHECK(m.method == "INVITE");
  CHECK(m.uri == "sip:service@127.0.0.1:5060");
  CHECK(m.headers.size() == 9);
  CHECK(*m.Find("call-id") == "1-42@127.0.0.1");
  CHECK(*m.Find("i") == "1-42@127.0.0.1");
  CHECK(*m.Find("CSEQ") == "1 INVITE");
  CHECK(m.body == "v=0\r\no=x\r\n");
  CHECK(r.consumed == kInvite.size());
}

TEST_CASE("a response is read whole", "[unit][sip]") {
  SECTION("with a reason") {
    ParseResult r = ParseDatagram("SIP/2.0 180 Ringing\r\nCall-ID: a\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(r.kind == Kind::kMessage);
    CHECK_FALSE(r.message.is_request);
    CHECK(r.message.status == 180);
    CHECK(r.message.reason == "Ringing");
    CHECK(r.message.body.empty());
  }
  SECTION("with a reason of several words") {
    ParseResult r = ParseDatagram("SIP/2.0 503 Service Unavailable\r\n\r\n");
    REQUIRE(r.kind == Kind::kMessage);
    CHECK(r.message.reason == "Service Unavailable");
  }
  SECTION("with an empty reason") {
    ParseResult r = ParseDatagram("SIP/2.0 200 \r\n\r\n");
    REQUIRE(r.kind == Kind::kMessage);
    CHECK(r.message.status == 200);
    CHECK(r.message.reason.empty());
  }
}

TEST_CASE("compact, folded and repeated headers", "[unit][sip]") {
  ParseResult r = ParseDatagram(
      "BYE sip:a@h SIP/2.0\r\n"
      "v: SIP/2.0/UDP h1;branch=z9hG4bK1\r\n"
      "Via: SIP/2.0/UDP h2;branch=z9hG4bK2\r\n"
      "Subject: one\r\n"
      " \t two\r\n"
      "l: 0\r\n"
      "\r\n");
  REQUIRE(r.kind == Kind::kMessage);
  CHECK(r.message.FindAll("via").size() == 2);
  CHECK(r.message.FindAll("VIA")[1] == "SIP/2.0/UDP h2;branch=z9hG4bK2");
  CHECK(*r.message.Find("s") == "one two");
  CHECK(*r.message.Find("Content-Length") == "0");
}

TEST_CASE("line ends: CRLF, or a lone LF", "[unit][sip]") {
  ParseResult r = ParseDatagram("OPTIONS sip:a@h SIP/2.0\nCall-ID: x\n\n");
  REQUIRE(r.kind == Kind::kMessage);
  CHECK(*r.message.Find("Call-ID") == "x");
}

TEST_CASE("bodies over UDP", "[unit][sip]") {
  SECTION("without Content-Length: the rest of the datagram") {
    ParseResult r = ParseDatagram("MESSAGE sip:a@h SIP/2.0\r\n\r\nhello");
    REQUIRE(r.kind == Kind::kMessage);
    CHECK(r.message.body == "hello");
  }
  SECTION("bytes past Content-Length are ignored") {
    ParseResult r = ParseDatagram("MESSAGE sip:a@h SIP/2.0\r\nl: 2\r\n\r\nhello");
    REQUIRE(r.kind == Kind::kMessage);
    CHECK(r.message.body == "he");
  }
}

TEST_CASE("messages of a TCP stream", "[unit][sip]") {
  std::string two = std::string(kInvite) + "\r\n" + "SIP/2.0 100 Trying\r\nl: 0\r\n\r\n";
  ParseResult first = Parse(two, Framing::kStream);
  REQUIRE(first.kind == Kind::kMessage);
  CHECK(first.consumed == kInvite.size());
  ParseResult second = Parse(std::string_view(two).substr(first.consumed), Framing::kStream);
  REQUIRE(second.kind == Kind::kMessage);
  CHECK(second.message.status == 100);
  CHECK(second.consumed == two.size() - kInvite.size());  // the keep-alive CRLF included

  SECTION("a partial head or body waits for more") {
    for (size_t cut : {size_t{0}, size_t{10}, size_t{200}, kInvite.size() - 1}) {
      CAPTURE(cut);
      CHECK(Parse(kInvite.substr(0, cut), Framing::kStream).kind == Kind::kNeedMore);
    }
  }
  SECTION("no Content-Length: no body") {
    ParseResult r = Parse("SIP/2.0 200 OK\r\n\r\nXYZ", Framing::kStream);
    REQUIRE(r.kind == Kind::kMessage);
    CHECK(r.message.body.empty());
    CHECK(r.consumed == 18);
  }
}

// The error and the offset of a malformed datagram.
std::pair<std::string, size_t> Refusal(std::string_view bytes) {
  ParseResult r = ParseDatagram(bytes);
  REQUIRE(r.kind == Kind::kMalformed);
  return {r.error, r.offset};
}

TEST_CASE("malformed messages name the byte offset", "[unit][sip]") {
  using P = std::pair<std::string, size_t>;
  CHECK(Refusal("") == P{"the message ends before the empty line after its headers", 0});
  CHECK(Refusal("\r\n") == P{"an empty line where the start line should be", 0});
  CHECK(Refusal("garbage\r\n\r\n") ==
        P{"the start line is neither a request line nor a status line", 0});
  CHECK(Refusal("SIP/2.0 20 OK\r\n\r\n") == P{"a status code must be 3 digits", 8});
  CHECK(Refusal("SIP/2.0 099 Low\r\n\r\n") == P{"status code 99 is outside 100-699", 8});
  CHECK(Refusal("SIP/2.0 2000 OK\r\n\r\n") == P{"a status code must be followed by a space", 11});
  CHECK(Refusal("INV@TE sip:a SIP/2.0\r\n\r\n") == P{"a request method must be a token", 0});
  CHECK(Refusal("INVITE sip:a\r\n\r\n") == P{"a request line needs a Request-URI and SIP/2.0", 7});
  CHECK(Refusal("INVITE sip:a SIP/3.0\r\n\r\n") == P{"the request line must end with SIP/2.0", 13});
  CHECK(Refusal("INVITE sip:\x01 SIP/2.0\r\n\r\n") ==
        P{"a control character in the start line", 11});
  CHECK(Refusal("BYE sip:a SIP/2.0\r\nCall-ID x\r\n\r\n") ==
        P{"a header line without a colon", 19});
  CHECK(Refusal("BYE sip:a SIP/2.0\r\nCall ID: x\r\n\r\n") ==
        P{"a header name must be a token", 19});
  CHECK(Refusal("BYE sip:a SIP/2.0\r\n To: x\r\n\r\n") ==
        P{"a continuation line before the first header", 19});
  CHECK(Refusal("BYE sip:a SIP/2.0\r\nTo: a\0b\r\n\r\n"sv) ==
        P{"a control character in a header", 24});
  CHECK(Refusal("BYE sip:a SIP/2.0\r\nTo: a\r\n") ==
        P{"the message ends before the empty line after its headers", 26});
  CHECK(Refusal("BYE sip:a SIP/2.0\r\nTo: a\r\nl: 1x\r\n\r\n") ==
        P{"Content-Length \"1x\" is not a number of bytes", 26});
  CHECK(Refusal("BYE sip:a SIP/2.0\r\nl: -1\r\n\r\n") ==
        P{"Content-Length \"-1\" is not a number of bytes", 19});
  CHECK(Refusal("BYE sip:a SIP/2.0\r\nl: 9\r\n\r\nabc") ==
        P{"Content-Length 9 but only 3 bytes follow the headers", 30});
}

TEST_CASE("the 64 KiB limit", "[unit][sip]") {
  std::string head = "MESSAGE sip:a@h SIP/2.0\r\n\r\n";
  SECTION("a datagram of exactly the limit is read") {
    std::string bytes = head + std::string(kMaxMessageBytes - head.size(), 'x');
    ParseResult r = ParseDatagram(bytes);
    REQUIRE(r.kind == Kind::kMessage);
    CHECK(r.message.body.size() == kMaxMessageBytes - head.size());
  }
  SECTION("a datagram one byte over is refused") {
    std::string bytes = head + std::string(kMaxMessageBytes - head.size() + 1, 'x');
    ParseResult r = ParseDatagram(bytes);
    REQUIRE(r.kind == Kind::kMalformed);
    CHECK(r.ErrorText() == "a message of 65537 bytes is over the 65536-byte limit at byte 65536");
  }
  SECTION("a stream message announcing a body past the limit is refused at once") {
    ParseResult r = Parse("MESSAGE sip:a@h SIP/2.0\r\nl: 65536\r\n\r\nx", Framing::kStream);
    REQUIRE(r.kind == Kind::kMalformed);
    CHECK(r.error == "a body of 65536 bytes makes the message longer than the 65536-byte limit");
    CHECK(r.offset == 37);
  }
  SECTION("a stream head that never ends is refused at the limit") {
    std::string bytes = "MESSAGE sip:a@h SIP/2.0\r\nSubject: " + std::string(kMaxMessageBytes, 'y');
    ParseResult r = Parse(bytes, Framing::kStream);
    REQUIRE(r.kind == Kind::kMalformed);
    CHECK(r.error == "no end of the headers within the 65536-byte limit");
    CHECK(r.offset == kMaxMessageBytes);
  }
  SECTION("more than 256 headers") {
    std::string bytes = "OPTIONS sip:a@h SIP/2.0\r\n";
    for (int k = 0; k < 257; ++k) bytes += "X: 1\r\n";
    bytes += "\r\n";
    ParseResult r = ParseDatagram(bytes);
    REQUIRE(r.kind == Kind::kMalformed);
    CHECK(r.error == "more than 256 headers");
    CHECK(r.offset == 25 + 256 * 6);
  }
}

TEST_CASE("what Serialize writes reads back the same", "[unit][sip]") {
  Message m;
  m.method = "INVITE";
  m.uri = "sip:b@h";
  m.headers = {{"Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1"}, {"i", "c1"},
               {"Content-Length", "5"}};
  m.body = "v=0\r\n";
  std::string bytes = Serialize(m);
  CHECK(bytes ==
        "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        "i: c1\r\nContent-Length: 5\r\n\r\nv=0\r\n");
  ParseResult r = ParseDatagram(bytes);
  REQUIRE(r.kind == Kind::kMessage);
  CHECK(Serialize(r.message) == bytes);

  Message response;
  response.is_request = false;
  response.status = 481;
  response.reason = "Call/Transaction Does Not Exist";
  CHECK(Serialize(response) == "SIP/2.0 481 Call/Transaction Does Not Exist\r\n\r\n");
}

TEST_CASE("header fields", "[unit][sip]") {
  SECTION("compact forms") {
    CHECK(FullName("i") == "Call-ID");
    CHECK(FullName("V") == "Via");
    CHECK(FullName("q") == "q");
    CHECK(SameName("t", "TO"));
    CHECK_FALSE(SameName("Tox", "To"));
  }
  SECTION("parameters") {
    CHECK(Param("\"A;b\" <sip:a@h;tag=no>;tag=yes", "tag") == "yes");
    CHECK(Param("sip:a@h;tag=x1 ", "TAG") == "x1");
    CHECK(Param("<sip:a@h;tag=inside>", "tag") == std::nullopt);
    CHECK(Param("SIP/2.0/UDP h:5060;rport;branch=z9hG4bKa", "branch") == "z9hG4bKa");
    CHECK(Param("SIP/2.0/UDP h:5060;rport;branch=z9hG4bKa", "rport") == "");
    CHECK(Param("SIP/2.0/UDP h1;branch=b1, SIP/2.0/UDP h2;branch=b2", "branch") == "b1");
    CHECK(Param("SIP/2.0/UDP h1, SIP/2.0/UDP h2;branch=b2", "branch") == std::nullopt);
    CHECK(Param("<sip:a@h", "tag") == std::nullopt);
  }
  SECTION("CSeq") {
    auto cseq = ParseCSeq(" 314159  INVITE ");
    REQUIRE(cseq);
    CHECK(cseq->number == 314159);
    CHECK(cseq->method == "INVITE");
    CHECK_FALSE(ParseCSeq("INVITE"));
    CHECK_FALSE(ParseCSeq("1x INVITE"));
    CHECK_FALSE(ParseCSeq("2147483648 BYE"));
    CHECK_FALSE(ParseCSeq("1 B@E"));
    CHECK_FALSE(ParseCSeq("1 "));
  }
  SECTION("the top Via") {
    CHECK(TopVia("SIP/2.0/UDP h1;branch=b1 , SIP/2.0/UDP h2") == "SIP/2.0/UDP h1;branch=b1");
  }
  SECTION("the URI of an address") {
    CHECK(AddressUri("\"Bob <x>\" <sip:bob@h:5070;lr>;tag=1") == "sip:bob@h:5070;lr");
    CHECK(AddressUri("sip:bob@h;tag=1") == "sip:bob@h");
    CHECK(AddressUri("<sip:bob@h").empty());
  }
  SECTION("a URI's host and port") {
    auto hp = UriHostPort("sip:bob@10.0.0.1:5070;transport=udp");
    REQUIRE(hp);
    CHECK(hp->host == "10.0.0.1");
    CHECK(hp->port == 5070);
    CHECK(UriHostPort("sip:example.org")->port == 5060);
    CHECK(UriHostPort("sips:example.org")->port == 5061);
    CHECK(UriHostPort("sip:u@[::1]:5062")->host == "::1");
    CHECK(UriHostPort("sip:u@[::1]:5062")->port == 5062);
    CHECK(UriHostPort("sip:u:pw@h?subject=x")->host == "h");
    CHECK_FALSE(UriHostPort("tel:+123"));
    CHECK_FALSE(UriHostPort("sip:"));
    CHECK_FALSE(UriHostPort("sip:h:0"));
    CHECK_FALSE(UriHostPort("sip:h:65536"));
    CHECK_FALSE(UriHostPort("sip:h:"));
    CHECK_FALSE(UriHostPort("sip:[::1"));
    CHECK_FALSE(UriHostPort("sip:h/x"));
  }
}

TEST_CASE("branches, tags and Call-IDs are unique", "[unit][sip]") {
  IdSource ids(0x0123456789abcdefULL);
  CHECK(ids.Branch() == "z9hG4bK0123456789abcdef0");
  CHECK(ids.Tag() == "012345671");
  CHECK(ids.CallId("127.0.0.1") == "0123456789abcdef2@127.0.0.1");
  std::set<std::string> seen;
  for (int k = 0; k < 10000; ++k) {
    REQUIRE(seen.insert(ids.Branch()).second);
    REQUIRE(seen.insert(ids.Tag()).second);
  }
  IdSource a = IdSource::Random();
  IdSource b = IdSource::Random();
  CHECK(a.Branch() != b.Branch());
}

}  // namespace
}  // namespace testrund::ops::sip
