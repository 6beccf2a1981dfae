// SPDX-License-Identifier: Apache-2.0
// CheckLog and TraceLog: entry shapes, order, the trace_log cap and its truncation entry.
#include <catch2/catch.hpp>

#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fmt/format.h>

#include "ops/base/json_writer.h"
#include "ops/stats/check_log.h"
#include "ops/stats/trace_log.h"

using testrund::ops::CheckLog;
using testrund::ops::CheckStatus;
using testrund::ops::TraceLog;
using testrund::ops::WallTime;

namespace {

std::string Json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

std::string Json(const TraceLog& log) { return Json(log.entries()); }

// The entries as QueryTest lists them, in the same JSON form, to compare with one string.
std::string Json(const CheckLog& log) {
  std::string out = "[";
  for (const CheckLog::Entry& e : log.entries()) {
    if (out.size() > 1) out += ",";
    out += fmt::format(R"({{"op_idx":{},"step":{},"status":"{}","text":{}}})", e.op_idx, e.step,
                       testrund::ops::CheckStatusName(e.status),
                       testrund::ops::JsonString(e.text()));
  }
  return out + "]";
}

}  // namespace

TEST_CASE("check log keeps every check in order", "[unit]") {
  CheckLog log;
  CHECK(log.empty());
  CHECK(log.Add(4, 8, CheckStatus::kPass, "Got it."));
  CHECK(log.Add(4, 8, CheckStatus::kFail, "'cause' should = 30, but = 31."));
  CHECK(log.Add(5, 9, CheckStatus::kAbort, "boom"));
  const std::string expected =
      R"([{"op_idx":4,"step":8,"status":"pass","text":"Got it."},)"
      R"({"op_idx":4,"step":8,"status":"fail","text":"'cause' should = 30, but = 31."},)"
      R"({"op_idx":5,"step":9,"status":"abort","text":"boom"}])";
  CHECK(Json(log) == expected);

  SECTION("a safety cap drops and counts the rest") {
    CheckLog small(2);
    CHECK(small.Add(0, 0, CheckStatus::kPass, "a"));
    CHECK(small.Add(0, 1, CheckStatus::kPass, "b"));
    CHECK_FALSE(small.Add(0, 2, CheckStatus::kPass, "c"));
    CHECK(small.size() == 2);
    CHECK(small.dropped() == 1);
  }
}

TEST_CASE("trace log entries: time, step, op_idx, path, fields", "[unit]") {
  TraceLog log;
  CHECK(log.empty());
  CHECK(Json(log) == "[]");
  CHECK(log.AddText(WallTime{1389747502, 86887}, 7, 3, "trace.notice", "halt: waiting"));
  auto ref = log.Add(WallTime{1389747502, 87524}, 8, 4, "http.tester_to_sut");
  REQUIRE(ref);
  ref.SetString("protocol", "http").SetString("hex", "6281").SetInt("len", -2).SetUint("u", 7);
  ref.SetDouble("f", 0.5).SetBool("b", true);
  rapidjson::Value headers(rapidjson::kObjectType);
  headers.AddMember("Host", rapidjson::Value("x", ref.allocator()), ref.allocator());
  ref.SetValue("headers", std::move(headers));
  CHECK(Json(log) ==
        R"([{"time":[1389747502,86887],"step":7,"op_idx":3,"path":"trace.notice",)"
        R"("text":"halt: waiting"},)"
        R"({"time":[1389747502,87524],"step":8,"op_idx":4,"path":"http.tester_to_sut",)"
        R"("protocol":"http","hex":"6281","len":-2,"u":7,"f":0.5,"b":true,)"
        R"("headers":{"Host":"x"}}])");
  CHECK(log.size() == 2);
}

TEST_CASE("trace log hex: at once, or deferred until EncodeDeferredHex", "[unit]") {
  TraceLog now;
  now.Add(WallTime{1, 0}, 0, 0, "tcp.tester_to_sut").SetHex(std::string("A\0\xff", 3));
  CHECK(Json(now) == R"([{"time":[1,0],"step":0,"op_idx":0,"path":"tcp.tester_to_sut",)"
                     R"("hex":"4100ff"}])");
  TraceLog later;
  later.DeferHex();
  later.Add(WallTime{1, 0}, 0, 0, "tcp.tester_to_sut").SetHex("AB").SetInt("n", 1);
  later.AddText(WallTime{1, 1}, 1, 0, "trace.notice", "AB");
  later.Add(WallTime{1, 2}, 2, 0, "tcp.sut_to_tester").SetHex("");
  later.EncodeDeferredHex();
  // Encoded once: entries added after it are encoded at once.
  later.Add(WallTime{1, 3}, 3, 0, "tcp.sut_to_tester").SetHex("C");
  CHECK(Json(later) ==
        R"([{"time":[1,0],"step":0,"op_idx":0,"path":"tcp.tester_to_sut","hex":"4142","n":1},)"
        R"({"time":[1,1],"step":1,"op_idx":0,"path":"trace.notice","text":"AB"},)"
        R"({"time":[1,2],"step":2,"op_idx":0,"path":"tcp.sut_to_tester","hex":""},)"
        R"({"time":[1,3],"step":3,"op_idx":0,"path":"tcp.sut_to_tester","hex":"43"}])");
}

TEST_CASE("trace log is capped with one final truncation warning", "[unit]") {
  SECTION("default cap of 10,000") {
    TraceLog log;
    for (int i = 0; i < 10'000; ++i) {
      REQUIRE(log.AddText(WallTime{100, i}, static_cast<uint64_t>(i), 0, "trace.debug", "x"));
    }
    CHECK_FALSE(log.truncated());
    CHECK_FALSE(log.AddText(WallTime{200, 0}, 10'000, 1, "trace.debug", "over"));
    CHECK(log.truncated());
    for (int i = 0; i < 5; ++i) {
      auto ref = log.Add(WallTime{300, 0}, 1, 1, "tcp.sut_to_tester");
      CHECK_FALSE(ref);
      ref.SetString("hex", "00");  // a no-op on a dropped entry
    }
    CHECK(log.size() == 10'001);
    CHECK(log.dropped() == 6);
    const rapidjson::Value& last = log.entries()[10'000];
    CHECK(Json(last) == R"({"time":[200,0],"step":10000,"op_idx":1,"path":"trace.warning",)"
                        R"("text":"trace_log truncated after 10000 entries"})");
  }
  SECTION("configurable cap") {
    TraceLog log(2);
    log.AddText(WallTime{1, 0}, 0, 0, "trace.notice", "a");
    log.AddText(WallTime{1, 1}, 1, 1, "trace.notice", "b");
    log.AddText(WallTime{1, 2}, 2, 2, "trace.notice", "c");
    CHECK(Json(log) == R"([{"time":[1,0],"step":0,"op_idx":0,"path":"trace.notice","text":"a"},)"
                       R"({"time":[1,1],"step":1,"op_idx":1,"path":"trace.notice","text":"b"},)"
                       R"({"time":[1,2],"step":2,"op_idx":2,"path":"trace.warning",)"
                       R"("text":"trace_log truncated after 2 entries"}])");
  }
  SECTION("byte cap: the entry after the one that crosses it is the warning") {
    TraceLog log(100, 1000);
    log.AddText(WallTime{1, 0}, 0, 0, "trace.notice", "a");
    log.Add(WallTime{1, 1}, 1, 1, "tcp.tester_to_sut").SetString("hex", std::string(990, 'f'));
    CHECK(log.bytes() >= 1000);
    CHECK_FALSE(log.truncated());
    CHECK_FALSE(log.AddText(WallTime{1, 2}, 2, 2, "trace.notice", "c"));
    CHECK(log.truncated());
    CHECK(log.size() == 3);
    CHECK(Json(log.entries()[2]) ==
          R"({"time":[1,2],"step":2,"op_idx":2,"path":"trace.warning",)"
          R"("text":"trace_log truncated after 2 entries, over 1000 bytes"})");
  }
}
