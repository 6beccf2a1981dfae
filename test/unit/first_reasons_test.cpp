// SPDX-License-Identifier: Apache-2.0
// FirstReasons: first-occurrence order, counts, the "(other reasons)" overflow, merge.
#include <catch2/catch.hpp>

#include <string>

#include <fmt/format.h>

#include "ops/base/json_writer.h"
#include "ops/stats/first_reasons.h"

using testrund::ops::FirstReasons;

namespace {

// The entries as QueryTest lists them, in the same JSON form, to compare with one string.
std::string Json(const FirstReasons& r) {
  std::string out = "[";
  for (const FirstReasons::Entry& e : r.Entries()) {
    if (out.size() > 1) out += ",";
    out += fmt::format(R"({{"op_idx":{},"text":{},"count":{}}})", e.op_idx,
                       testrund::ops::JsonString(e.text), e.count);
  }
  return out + "]";
}

}  // namespace

TEST_CASE("first reasons keep first-occurrence order and count per (op_idx, text)", "[unit]") {
  FirstReasons r;
  CHECK(r.empty());
  CHECK(Json(r) == "[]");
  r.Add(4, "cause 31");
  r.Add(2, "timeout");
  r.Add(4, "cause 31");
  r.Add(5, "cause 31");  // same text, other op: a distinct entry
  r.Add(2, "timeout", 3);
  auto e = r.Entries();
  REQUIRE(e.size() == 3);
  CHECK((e[0].op_idx == 4 && e[0].text == "cause 31" && e[0].count == 2));
  CHECK((e[1].op_idx == 2 && e[1].text == "timeout" && e[1].count == 4));
  CHECK((e[2].op_idx == 5 && e[2].text == "cause 31" && e[2].count == 1));
  CHECK(r.total() == 7);
  CHECK(Json(r) ==
        R"([{"op_idx":4,"text":"cause 31","count":2},{"op_idx":2,"text":"timeout","count":4},)"
        R"({"op_idx":5,"text":"cause 31","count":1}])");
}

TEST_CASE("first reasons beyond 100 distinct go to (other reasons), listed last", "[unit]") {
  FirstReasons r;
  for (int i = 0; i < 150; ++i) r.Add(i, "reason " + std::to_string(i));
  r.Add(0, "reason 0");      // a kept key still counts in its own entry
  r.Add(120, "reason 120");  // an overflowed key goes to other reasons again
  auto e = r.Entries();
  REQUIRE(e.size() == 101);
  CHECK(e[0].count == 2);
  CHECK(e[99].op_idx == 99);
  CHECK(e[100].op_idx == -1);
  CHECK(e[100].text == "(other reasons)");
  CHECK(e[100].count == 51);
  CHECK(r.other_count() == 51);
  CHECK(r.total() == 152);
}

TEST_CASE("first reasons cap is configurable", "[unit]") {
  FirstReasons r(2);
  r.Add(1, "a");
  r.Add(1, "b");
  r.Add(1, "c", 5);
  CHECK(Json(r) == R"([{"op_idx":1,"text":"a","count":1},{"op_idx":1,"text":"b","count":1},)"
                   R"j({"op_idx":-1,"text":"(other reasons)","count":5}])j");
}

TEST_CASE("first reasons merge adds by key, keeps our order, then theirs", "[unit]") {
  FirstReasons a;
  a.Add(1, "x");
  a.Add(2, "y");
  FirstReasons b;
  b.Add(3, "z", 4);
  b.Add(1, "x", 2);
  a.Merge(b);
  auto e = a.Entries();
  REQUIRE(e.size() == 3);
  CHECK((e[0].op_idx == 1 && e[0].count == 3));
  CHECK((e[1].op_idx == 2 && e[1].count == 1));
  CHECK((e[2].op_idx == 3 && e[2].count == 4));
  CHECK(a.total() == 8);

  SECTION("other reasons add up and overflowing keys join them") {
    FirstReasons small(3);
    small.Add(9, "q");
    small.Add(8, "r");
    FirstReasons big(2);
    big.Add(7, "s");
    big.Add(6, "t");
    big.Add(5, "u", 10);  // other reasons in big
    small.Merge(big);     // 7/s fits, 6/t overflows, big's 10 others added
    auto m = small.Entries();
    REQUIRE(m.size() == 4);
    CHECK(m[2].text == "s");
    CHECK((m[3].op_idx == -1 && m[3].count == 11));
    CHECK(small.total() == 14);
  }
  SECTION("self merge doubles") {
    a.Merge(a);
    CHECK(a.Entries()[0].count == 6);
    CHECK(a.total() == 16);
  }
}

TEST_CASE("first reasons copies own their index", "[unit]") {
  FirstReasons a;
  a.Add(1, "short");
  a.Add(2, std::string(100, 'L'));
  FirstReasons b = a;
  a.Add(3, "more");  // touching a must not disturb b
  b.Add(1, "short");
  b.Add(2, std::string(100, 'L'));
  auto e = b.Entries();
  REQUIRE(e.size() == 2);
  CHECK(e[0].count == 2);
  CHECK(e[1].count == 2);
  FirstReasons c(5);
  c = b;
  c.Add(1, "short");
  CHECK(c.Entries().size() == 2);
  CHECK(c.Entries()[0].count == 3);
  FirstReasons d = std::move(c);
  d.Add(2, std::string(100, 'L'));
  CHECK(d.Entries()[1].count == 3);
}
