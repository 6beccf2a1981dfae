// SPDX-License-Identifier: Apache-2.0
// What the libFuzzer targets share: engine limits small enough that one input runs in
// milliseconds, a bounded number of event-loop turns on a FakeClock (a run of endless
// instances must not keep the fuzzer busy forever), and the oracles that turn a wrong
// answer into a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/engine_limits.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/test_limits.h"

namespace testrund::fuzz {

// Limits of the fuzzed engine: the defaults' rules with smaller numbers.
inline ops::EngineLimits FuzzEngineLimits() {
  ops::EngineLimits limits = test::TestEngineLimits();
  limits.max_runs = 8;
  limits.max_instances = 64;
  limits.max_operations = 200;
  limits.lua.instruction_limit = 20'000;
  limits.lua.memory_limit = 32u << 20;
  limits.max_steps_without_wait = 500;
  // One turn of the daemon's 10,000 steps is ~0.1 s under ASan: bound each turn lower.
  limits.turn.steps = 100;
  return limits;
}

// Fires at most `turns` timers (instance starts, waits, halts timing out, ...): on a clock
// that stands still a `load` run of instances that end at once never runs out of turns.
inline void RunLoopTurns(ops::FakeClock& clock, int turns) {
  for (int i = 0; i < turns && clock.FireNext(); ++i) {
  }
}

[[noreturn]] inline void Fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "fuzz oracle: %s: %.*s\n", what, static_cast<int>(text.size()),
               text.data());
  std::abort();
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
inline bool IsStrictUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned c = *p++;
    if (c < 0x80) continue;
    int more;
    unsigned lo = 0x80, hi = 0xBF;  // bounds of the first continuation byte
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // U+D800..U+DFFF are surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p < more) return false;
    if (*p < lo || *p > hi) return false;
    for (int k = 1; k < more; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
    }
    p += more;
  }
  return true;
}

// Every string and member name in `v` is strict UTF-8 (what ParseJson promises).
inline void CheckUtf8Tree(const rapidjson::Value& v) {
  auto check = [](const rapidjson::Value& s) {
    std::string_view text(s.GetString(), s.GetStringLength());
    if (!IsStrictUtf8(text)) Fail("a parsed string is not valid UTF-8", text);
  };
  if (v.IsString()) {
    check(v);
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) CheckUtf8Tree(e);
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      check(m.name);
      CheckUtf8Tree(m.value);
    }
  }
}

// A response body: strict UTF-8 (JsonWriter writes the bytes of a Lua string that are not
// UTF-8 as U+FFFD), and one JSON object or a non-empty array of objects.
inline void CheckResponse(std::string_view body) {
  if (!IsStrictUtf8(body)) Fail("response is not valid UTF-8", body);
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) Fail("response is not JSON", body);
  if (doc.IsArray()) {
    if (doc.Empty()) Fail("empty batch response", body);
    for (const auto& r : doc.GetArray()) {
      if (!r.IsObject()) Fail("batch response element is not an object", body);
    }
  } else if (!doc.IsObject()) {
    Fail("response is not an object", body);
  }
}

}  // namespace testrund::fuzz
