// SPDX-License-Identifier: Apache-2.0
// The summary of a saved QueryTest object (see saved_result.h).
#include "ops/stats/saved_result.h"

namespace testrund::ops {

namespace {

uint64_t CountOf(const rapidjson::Value& counts, const char* name) {
  auto it = counts.FindMember(name);
  return it != counts.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

}  // namespace

RunCounts CountsInResult(const rapidjson::Value& result) {
  RunCounts c;
  auto it = result.FindMember("counts");
  if (it == result.MemberEnd() || !it->value.IsObject()) return c;
  const rapidjson::Value& counts = it->value;
  c.started = CountOf(counts, "started");
  c.finished = CountOf(counts, "finished");
  c.failed = CountOf(counts, "failed");
  c.aborted = CountOf(counts, "aborted");
  c.cancelled = CountOf(counts, "cancelled");
  c.passed = CountOf(counts, "passed");
  c.late = CountOf(counts, "late");
  return c;
}

WallTime WallInResult(const rapidjson::Value& result, const char* name) {
  auto it = result.FindMember(name);
  if (it == result.MemberEnd() || !it->value.IsArray() || it->value.Size() != 2 ||
      !it->value[0].IsInt64() || !it->value[1].IsInt64()) {
    return WallTime{};
  }
  return WallTime{it->value[0].GetInt64(), it->value[1].GetInt64()};
}

std::vector<std::string> TagsInResult(const rapidjson::Value& result) {
  std::vector<std::string> tags;
  auto it = result.FindMember("tags");
  if (it == result.MemberEnd() || !it->value.IsArray()) return tags;
  for (const rapidjson::Value& tag : it->value.GetArray()) {
    if (tag.IsString()) tags.emplace_back(tag.GetString(), tag.GetStringLength());
  }
  return tags;
}

}  // namespace testrund::ops
