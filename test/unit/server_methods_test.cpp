// SPDX-License-Identifier: Apache-2.0
// The daemon's default method table and GetServerInfo, called through the dispatcher as a
// client would: no params, {} or [], and by an observer.
#include <optional>
#include <string>

#include <catch2/catch.hpp>
#include <lua.h>
#include <rapidjson/document.h>

#include "ops/engine_limits.h"
#include "test/fakes/fake_clock.h"
#include "ops/run_registry.h"
#include "rpc/dispatcher.h"
#include "rpc/methods.h"
#include "test/fakes/test_limits.h"

namespace testrund::rpc {
namespace {

rapidjson::Document Call(Dispatcher& d, std::string_view body, const Caller& caller = {}) {
  std::optional<std::string> out = d.Handle(body, caller);
  REQUIRE(out.has_value());
  INFO(*out);
  rapidjson::Document doc;
  doc.Parse(out->data(), out->size());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

TEST_CASE("Default method table: roles as docs/api.md#1-transports says", "[unit]") {
  ServerState state;
  MethodTable table = BuildDefaultMethods(state);
  REQUIRE(table.Find("GetServerInfo") != nullptr);
  CHECK(table.Find("GetServerInfo")->required == Role::kObserver);
  // Observers may call exactly QueryTest, ListTests and GetServerInfo.
  for (const char* name : {"ExecuteTest", "CancelTest", "ResumeInstance", "PauseTest",
                           "UnpauseTest"}) {
    if (const Method* m = table.Find(name)) CHECK(m->required == Role::kOperator);
  }
  for (const char* name : {"QueryTest", "ListTests"}) {
    if (const Method* m = table.Find(name)) CHECK(m->required == Role::kObserver);
  }
}

TEST_CASE("GetServerInfo", "[unit]") {
  ops::FakeClock clock;
  ops::RunRegistry runs(clock, test::TestEngineLimits());
  ServerState state{.runs = &runs, .time_start = ops::WallTime{1'700'000'123, 456'789}};
  MethodTable table = BuildDefaultMethods(state);
  Dispatcher d(table, test::TestDispatchLimits(), [](std::string_view token) -> std::optional<Role> {
    if (token == "obs") return Role::kObserver;
    return std::nullopt;
  });

  for (const char* params : {"", R"(,"params":{})", R"(,"params":[])"}) {
    INFO(params);
    rapidjson::Document r = Call(
        d, std::string(R"({"jsonrpc":"2.0","method":"GetServerInfo")") + params + R"(,"id":1})");
    REQUIRE(r.HasMember("result"));
    const rapidjson::Value& info = r["result"];
    REQUIRE(info.IsObject());
    CHECK(info.MemberCount() == 7);
    CHECK(info["version"] == TESTRUND_VERSION);
    REQUIRE(info["time_start"].IsArray());
    REQUIRE(info["time_start"].Size() == 2);
    CHECK(info["time_start"][0].GetInt64() == 1'700'000'123);
    CHECK(info["time_start"][1].GetInt64() == 456'789);
    CHECK(info["runs"].GetUint64() == 0);
    CHECK(info["instances_live"].GetUint64() == 0);
    REQUIRE(info["memory_bytes"].IsUint64());
    CHECK(info["memory_bytes"].GetUint64() > 1'000'000);  // a live process has some RSS
    CHECK(info["lua_version"] == LUA_RELEASE);
    CHECK(std::string(LUA_RELEASE).rfind("Lua 5.4", 0) == 0);
    CHECK(info["role"] == "operator");  // no tokens: every caller is an operator
    CHECK(r["id"].GetInt() == 1);
  }

  SECTION("non-empty positional params: -32602") {
    rapidjson::Document r =
        Call(d, R"({"jsonrpc":"2.0","method":"GetServerInfo","params":[1],"id":1})");
    REQUIRE(r.HasMember("error"));
    CHECK(r["error"]["code"].GetInt() == -32602);
  }
  SECTION("an observer may call it") {
    const Caller framed{.auth_required = true, .role = std::nullopt};
    rapidjson::Document r =
        Call(d, R"({"jsonrpc":"2.0","method":"GetServerInfo","auth":"obs","id":1})", framed);
    REQUIRE(r.HasMember("result"));
    CHECK(r["result"]["role"] == "observer");
    r = Call(d, R"({"jsonrpc":"2.0","method":"GetServerInfo","id":1})", framed);
    CHECK(r["error"]["code"].GetInt() == -32010);
  }
  SECTION("without a registry the counts are 0") {
    ServerState bare;
    MethodTable t = BuildDefaultMethods(bare);
    Dispatcher d2(t, test::TestDispatchLimits(), {});
    rapidjson::Document r = Call(d2, R"({"jsonrpc":"2.0","method":"GetServerInfo","id":"x"})");
    CHECK(r["result"]["runs"].GetUint64() == 0);
    CHECK(r["result"]["time_start"][0].GetInt64() == 0);
  }
}

}  // namespace
}  // namespace testrund::rpc
