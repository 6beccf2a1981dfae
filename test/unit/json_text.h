// SPDX-License-Identifier: Apache-2.0
// The compact JSON text of a rapidjson value, the form in which the unit tests compare
// results: RapidJSON's own writer, so that an expected text is exact (member order, number
// format, escapes).
#pragma once

#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace testrund::ops::testing {

inline std::string ToText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

}  // namespace testrund::ops::testing
