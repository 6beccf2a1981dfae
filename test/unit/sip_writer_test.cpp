// SPDX-License-Identifier: Apache-2.0
// MessageWriter (ops/sip/sip_writer.h): a message written straight into its bytes is the
// message the sip.* ops built before it — a sip::Message of the default fields, each user
// field set over them in turn, then Serialize — for every mix of default and user
// fields (compact names, other cases, repeated names, fields of their own), and it reads
// back through the parser.
#include "ops/sip/sip_writer.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ops/sip/sip_headers.h"
#include "ops/sip/sip_message.h"

namespace testrund::ops::sip {
namespace {

// The rule the writer implements, the way sip.send applied it before: each user field in
// turn sets the first field of its name (keeping that field's name) and removes any later
// one of that name, or is appended.
void SetField(std::vector<Header>& fields, const Header& user) {
  bool set = false;
  for (auto it = fields.begin(); it != fields.end();) {
    if (!SameName(it->name, user.name)) {
      ++it;
    } else if (!set) {
      it->value = user.value;
      set = true;
      ++it;
    } else {
      it = fields.erase(it);
    }
  }
  if (!set) fields.push_back(user);
}

std::string ByMessage(const std::vector<Header>& defaults, const std::vector<Header>& user,
                      std::string_view body) {
  Message m;
  m.method = "INVITE";
  m.uri = "sip:service@127.0.0.1:5060";
  m.headers = defaults;
  for (const Header& h : user) SetField(m.headers, h);
  m.body = body;
  return Serialize(m);
}

std::string ByWriter(const std::vector<Header>& defaults, const std::vector<Header>& user,
                     std::string_view body) {
  MessageWriter w(user, body.size());
  w.RequestLine("INVITE", "sip:service@127.0.0.1:5060");
  for (const Header& h : defaults) w.Field(h.name, h.value);
  return w.Finish(body);
}

const std::vector<Header> kDefaults = {
    {"Via", "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1;rport"},
    {"From", "<sip:testrund@127.0.0.1:5061>;tag=a1"},
    {"To", "<sip:service@127.0.0.1:5060>"},
    {"Call-ID", "c1@127.0.0.1"},
    {"CSeq", "1 INVITE"},
    {"Max-Forwards", "70"},
    {"Contact", "<sip:testrund@127.0.0.1:5061>"},
    {"Content-Type", "application/sdp"},
    {"Content-Length", "5"},
};

TEST_CASE("no user fields: the defaults in order, then the body", "[unit][sip]") {
  std::string bytes = ByWriter(kDefaults, {}, "v=0\r\n");
  CHECK(bytes == ByMessage(kDefaults, {}, "v=0\r\n"));
  ParseResult r = Parse(bytes, Framing::kDatagram);
  REQUIRE(r.kind == ParseResult::Kind::kMessage);
  CHECK(r.message.headers.size() == kDefaults.size());
  CHECK(r.message.body == "v=0\r\n");
}

TEST_CASE("a user field replaces the default of its name in place, under the default's name",
          "[unit][sip]") {
  const std::vector<Header> user = {{"i", "mine@host"}, {"cseq", "7 INVITE"},
                                    {"X-Test", "1"}};
  std::string bytes = ByWriter(kDefaults, user, "v=0\r\n");
  CHECK(bytes == ByMessage(kDefaults, user, "v=0\r\n"));
  CHECK(bytes.find("Call-ID: mine@host\r\nCSeq: 7 INVITE\r\n") != std::string::npos);
  CHECK(bytes.find("Content-Length: 5\r\nX-Test: 1\r\n\r\n") != std::string::npos);
}

TEST_CASE("of several user fields of one name the last wins, at the first one's place",
          "[unit][sip]") {
  const std::vector<Header> user = {{"Route", "<sip:a>"}, {"Subject", "s"}, {"route", "<sip:b>"},
                                    {"v", "SIP/2.0/UDP x;branch=z9hG4bK-u"}, {"Via", "SIP/2.0/UDP y"}};
  std::string bytes = ByWriter(kDefaults, user, "");
  CHECK(bytes == ByMessage(kDefaults, user, ""));
  CHECK(bytes.find("Via: SIP/2.0/UDP y\r\n") != std::string::npos);
  CHECK(bytes.find("Route: <sip:b>\r\nSubject: s\r\n\r\n") != std::string::npos);
}

TEST_CASE("a response's several Vias: all of them, or the user's one line", "[unit][sip]") {
  const std::vector<std::string_view> vias = {"SIP/2.0/UDP a;branch=z9hG4bK-1",
                                              "SIP/2.0/UDP b;branch=z9hG4bK-2"};
  const std::vector<Header> none_given;
  MessageWriter plain(none_given, 0);
  plain.StatusLine(200, "OK");
  plain.Fields("Via", vias);
  CHECK(plain.Finish("") ==
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK-1\r\n"
        "Via: SIP/2.0/UDP b;branch=z9hG4bK-2\r\n\r\n");

  const std::vector<Header> user = {{"v", "SIP/2.0/UDP c"}};
  MessageWriter replaced(user, 0);
  replaced.StatusLine(180, "Ringing");
  replaced.Fields("Via", vias);
  CHECK(replaced.Finish("") == "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP c\r\n\r\n");

  // A request without Via: the user's goes with the user's other fields.
  MessageWriter none(user, 0);
  none.StatusLine(200, "OK");
  none.Fields("Via", {});
  none.Field("CSeq", "1 BYE");
  CHECK(none.Finish("") == "SIP/2.0 200 OK\r\nCSeq: 1 BYE\r\nv: SIP/2.0/UDP c\r\n\r\n");
}

TEST_CASE("random mixes of default and user fields write what setting them in turn wrote",
          "[unit][sip]") {
  const std::vector<std::string> names = {
      "Via", "v", "VIA", "From", "f", "To", "t", "Call-ID", "i", "call-id", "CSeq",
      "Max-Forwards", "Contact", "m", "Content-Type", "c", "Content-Length", "l", "Route",
      "route", "Subject", "s", "X-A", "x-a", "Record-Route"};
  std::mt19937 rng(20261207);
  for (int round = 0; round < 2000; ++round) {
    std::vector<Header> defaults;
    for (const Header& h : kDefaults) {
      if (rng() % 4 != 0) defaults.push_back(h);  // a message may lack any of them
    }
    std::vector<Header> user;
    size_t count = rng() % 7;
    for (size_t k = 0; k < count; ++k) {
      user.push_back({names[rng() % names.size()], "value-" + std::to_string(rng() % 100)});
    }
    std::string body = rng() % 2 ? "v=0\r\n" : "";
    INFO("round " << round);
    REQUIRE(ByWriter(defaults, user, body) == ByMessage(defaults, user, body));
  }
}

}  // namespace
}  // namespace testrund::ops::sip
