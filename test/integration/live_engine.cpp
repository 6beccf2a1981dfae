// SPDX-License-Identifier: Apache-2.0
// LiveEngine and the small helpers of the protocol-op tests (see live_engine.h).
#include "test/integration/live_engine.h"

#include <catch2/catch.hpp>
#include <chrono>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "rpc/run_result.h"
#include "test/integration/harness.h"

namespace testrund::test {

std::string ToText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

std::string Ops(std::string_view ops) { return fmt::format(R"({{"operations": {}}})", ops); }

LiveEngine::LiveEngine(ops::EngineLimits limits)
    : base_owner(event_base_new()),
      base(base_owner.get()),
      clock(base),
      io(base),
      registry(clock, std::move(limits), &io) {}

std::string LiveEngine::Execute(std::string_view params) {
  rapidjson::Document doc = ParseJson(params);
  last = registry.Execute(doc);
  return last.run_id;
}

ops::Run* LiveEngine::Get(const std::string& run_id) {
  for (const ops::Run* run : registry.Runs()) {
    if (run->run_id() == run_id) return const_cast<ops::Run*>(run);
  }
  return nullptr;
}

void LiveEngine::RunUntilDone(const std::string& run_id, double seconds) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  ops::Run* run = Get(run_id);
  REQUIRE(run != nullptr);
  while (!run->completed()) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    event_base_loop(base, EVLOOP_ONCE);
  }
  Turns(3);
}

void LiveEngine::Turns(int n) {
  for (int i = 0; i < n; ++i) event_base_loop(base, EVLOOP_NONBLOCK);
}

void LiveEngine::RunFor(double seconds) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    timeval tick{0, 10'000};
    event_base_loopexit(base, &tick);
    event_base_dispatch(base);
  }
}

void LiveEngine::RunUntil(const std::function<bool()>& done, double seconds) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (!done()) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    timeval tick{0, 10'000};
    event_base_loopexit(base, &tick);
    event_base_dispatch(base);
  }
}

std::string LiveEngine::RunOnce(std::string_view operations, std::string_view extra) {
  std::string id = Execute(fmt::format(R"({{{} "operations": {}}})", extra, operations));
  REQUIRE(!id.empty());
  RunUntilDone(id);
  last_id = id;
  return CheckLog(id);
}

rapidjson::Document LiveEngine::Status(const std::string& run_id) {
  rapidjson::Document doc;
  ops::WriteRunStatus(*Get(run_id), doc, doc.GetAllocator());
  return doc;
}

std::string LiveEngine::CheckLog(const std::string& run_id) {
  rapidjson::Document status = Status(run_id);
  const auto& summary = status["first_call_summary"];
  if (!summary.HasMember("check_log")) return "[]";
  rapidjson::Value log(summary["check_log"], status.GetAllocator());
  for (auto& entry : log.GetArray()) entry.EraseMember("step");
  return ToText(log);
}

std::string LiveEngine::Problems() const {
  std::string all;
  for (const auto& p : last.problems) {
    all += fmt::format("{}|{}|{}\n", p.op_idx, p.field, p.problem);
  }
  return all;
}

}  // namespace testrund::test
