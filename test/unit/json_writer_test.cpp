// SPDX-License-Identifier: Apache-2.0
// JsonWriter: doubles in shortest round-trip form, integral doubles keep ".0", NaN and
// infinities become null, everything else as RapidJSON writes it.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "ops/json_writer.h"

using testrund::ops::JsonText;

namespace {
std::string Text(double d) { return JsonText(rapidjson::Value(d)); }
}  // namespace

TEST_CASE("doubles are written in their shortest round-trip form", "[unit]") {
  CHECK(Text(0.1 + 0.2) == "0.30000000000000004");
  CHECK(Text(0.1) == "0.1");
  CHECK(Text(0.5) == "0.5");
  CHECK(Text(-2.25) == "-2.25");
  CHECK(Text(1e300) == "1e+300");
  CHECK(Text(5e-324) == "5e-324");
  CHECK(Text(123456789.125) == "123456789.125");
}

TEST_CASE("an integral double stays a float", "[unit]") {
  CHECK(Text(6.0) == "6.0");
  CHECK(Text(-0.0) == "-0.0");
  CHECK(Text(1e15) == "1e+15");  // shortest: the exponent form is shorter
  CHECK(Text(123456.0) == "123456.0");
}

TEST_CASE("NaN and infinities are written as null", "[unit]") {
  CHECK(Text(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(Text(std::numeric_limits<double>::infinity()) == "null");
  CHECK(Text(-std::numeric_limits<double>::infinity()) == "null");
}

TEST_CASE("integers, strings and containers are unchanged", "[unit]") {
  rapidjson::Document doc;
  doc.Parse(R"({"i":6,"big":18446744073709551615,"s":"é\"x","a":[1,2.5,null,true]})");
  REQUIRE(!doc.HasParseError());
  CHECK(JsonText(doc) == R"({"i":6,"big":18446744073709551615,"s":"é\"x","a":[1,2.5,null,true]})");
}
