// SPDX-License-Identifier: Apache-2.0
// Shard shares and a shard's ExecuteTest params (see coordinated_run.h).
#include "daemon/coordinator/coordinated_run.h"

#include <algorithm>

namespace testrund::daemon {
namespace {

using Allocator = rapidjson::Document::AllocatorType;

// Sets `object[name]` (an object) to `value`, replacing a member of that name.
void Set(rapidjson::Value& object, const char* name, rapidjson::Value value, Allocator& a) {
  auto it = object.FindMember(name);
  if (it != object.MemberEnd()) {
    it->value = value;
  } else {
    object.AddMember(rapidjson::StringRef(name), value, a);
  }
}

}  // namespace

uint64_t Share(uint64_t x, uint32_t index, uint32_t count) {
  return x / count + (index < x % count ? 1 : 0);
}

rapidjson::Value ShardParams(const rapidjson::Value& params, const ops::RunDefinition& def,
                             uint32_t index, uint32_t count, double start_at, Allocator& a) {
  rapidjson::Value p(params, a);
  Set(p, "run_id", rapidjson::Value(def.run_id.c_str(), a), a);
  rapidjson::Value shard(rapidjson::kObjectType);
  shard.AddMember("index", index, a);
  shard.AddMember("count", count, a);
  Set(p, "shard", std::move(shard), a);
  Set(p, "start_at", rapidjson::Value(start_at), a);
  // The seed drawn here when the client gave none: every shard must draw the same.
  Set(p, "seed", rapidjson::Value(static_cast<int64_t>(def.seed)), a);
  auto distribution = p.FindMember("distribution");
  if (distribution != p.MemberEnd() && distribution->value.IsObject()) {
    uint64_t backlog = std::max<uint64_t>(1, Share(def.distribution.backlog, index, count));
    Set(distribution->value, "backlog", rapidjson::Value(backlog), a);
  }
  if (def.max_failures) {
    Set(p, "max_failures", rapidjson::Value(Share(*def.max_failures, index, count)), a);
  }
  return p;
}

}  // namespace testrund::daemon
