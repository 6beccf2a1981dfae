// SPDX-License-Identifier: Apache-2.0
// JsonWriter: doubles in shortest round-trip form, integral doubles keep ".0", NaN and
// infinities become null, everything else as RapidJSON writes it.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "ops/base/json_writer.h"

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

TEST_CASE("strings and keys are always written as UTF-8", "[unit]") {
  rapidjson::StringBuffer buffer;
  testrund::ops::JsonWriter writer(buffer);
  SECTION("well-formed text, NUL included, is written as it is") {
    writer.StartObject();
    writer.Key("gr\xC3\xBC\xC3\x9F");
    writer.String(std::string("a\0b", 3));
    writer.EndObject();
    CHECK(std::string(buffer.GetString()) == "{\"gr\xC3\xBC\xC3\x9F\":\"a\\u0000b\"}");
  }
  SECTION("ill-formed bytes become U+FFFD in strings and keys") {
    writer.StartObject();
    writer.Key("k\xFF", 2);
    writer.String("a\xFF\xFE" "b\xE2\x82", 6, true);
    writer.EndObject();
    CHECK(std::string(buffer.GetString()) ==
          "{\"k\xEF\xBF\xBD\":\"a\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD\"}");
  }
  SECTION("Value::Accept goes through the same check") {
    rapidjson::Document doc(rapidjson::kObjectType);
    doc.AddMember(rapidjson::Value("\xC0", doc.GetAllocator()),
                  rapidjson::Value("\xED\xA0\x80", doc.GetAllocator()), doc.GetAllocator());
    CHECK(JsonText(doc) == "{\"\xEF\xBF\xBD\":\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"}");
  }
}
