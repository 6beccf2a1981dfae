// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the coordinator's merge of its workers' answers (rpc/merged_result.h),
// which reads JSON from other processes. The input is a JSON array; each element is one
// shard's QueryTest result (null: a shard without an answer) and also a ListTests entry.
// Documents the rpc layer would refuse (nested deeper than 64 levels) are passed over.
// Oracles: no crash, leak or sanitizer report; an error names a shard; a merged result is
// an object whose `shards` counts the elements and lists the null ones as missing, and whose
// counts are the sums of the shards' counts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "rpc/merged_result.h"

namespace {

using namespace testrund;

constexpr int kMaxDepth = 64;
constexpr size_t kMaxShards = 64;

[[noreturn]] void Fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "fuzz oracle: %s: %.*s\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

bool TooDeep(std::string_view text, int limit) {
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// counts.started of a result that merged (every present shard was read).
uint64_t Started(const rapidjson::Value& result) { return result["counts"]["started"].GetUint64(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (TooDeep(text, kMaxDepth)) return 0;
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsArray() || doc.Size() > kMaxShards) return 0;
  std::vector<rpc::ShardAnswer> answers;
  std::vector<const rapidjson::Value*> entries;
  size_t missing = 0;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const rapidjson::Value& element = doc[i];
    answers.push_back({static_cast<int>(i), element.IsNull() ? nullptr : &element});
    if (element.IsNull()) ++missing;
    entries.push_back(&element);
  }
  rapidjson::Document out;
  rapidjson::Value globals(rapidjson::kObjectType);
  auto merged = rpc::MergedQueryTestResult(answers, globals, out.GetAllocator(),
                                           rpc::ResultDetail::kMergeable);
  if (!merged.ok()) {
    if (merged.message().rfind("shard ", 0) != 0 && merged.message() != "no shard answered") {
      Fail("an error that names no shard", merged.message());
    }
  } else {
    const rapidjson::Value& r = merged.value();
    if (!r.IsObject() || !r.HasMember("shards")) Fail("no shards member", text);
    if (r["shards"]["count"].GetUint64() != doc.Size()) Fail("shards.count", text);
    if (r["shards"]["missing"].Size() != missing) Fail("shards.missing", text);
    uint64_t sum = 0;
    for (const rpc::ShardAnswer& a : answers) {
      if (a.result != nullptr) sum += (*a.result)["counts"]["started"].GetUint64();
    }
    if (Started(r) != sum) Fail("counts.started is not the sum", text);
  }
  rapidjson::Value entry = rpc::MergedListTestsEntry(entries, out.GetAllocator());
  if (!entry.IsObject()) Fail("a ListTests entry that is not an object", text);
  return 0;
}
