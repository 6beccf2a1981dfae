// SPDX-License-Identifier: Apache-2.0
// LiveEngine and the small helpers of the protocol-op tests (see live_engine.h).
#include "test/integration/live_engine.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "ops/protocol/protocol_ops.h"
#include "rpc/run_result.h"
#include "test/integration/harness.h"

namespace testrund::test {
namespace {

// Descriptors a released run may leave above the settled baseline (live_engine.h).
constexpr size_t kReleaseMargin = 2;

}  // namespace

std::string ToText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

std::string Ops(std::string_view ops) { return fmt::format(R"({{"operations": {}}})", ops); }

std::string LoadOps(int total, int backlog, std::string_view ops) {
  return fmt::format(
      R"({{"distribution": {{"type": "load", "total": {}, "backlog": {}}}, "operations": {}}})",
      total, backlog, ops);
}

LiveEngine::LiveEngine(ops::EngineLimits limits)
    : base_owner(event_base_new()),
      base(base_owner.get()),
      clock(base),
      io(base, clock),
      registry(clock, std::move(limits), ops::AllOpTypes(), &io) {}

std::string LiveEngine::Execute(std::string_view params) {
  rapidjson::Document doc = ParseJson(params);
  last = registry.Execute(doc);
  return last.run_id;
}

bool LiveEngine::Completed(const std::string& run_id) {
  rapidjson::Document scratch;
  std::optional<ops::RunSnapshot> run = registry.Peek(run_id, 0, scratch.GetAllocator());
  REQUIRE(run.has_value());
  return run->completed;
}

void LiveEngine::RunUntilDone(const std::string& run_id, double seconds) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (!Completed(run_id)) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    event_base_loop(base, EVLOOP_ONCE);
  }
  Turns(3);
}

bool LiveEngine::Cancel(const std::string& run_id) {
  rapidjson::Document scratch;
  return registry.Cancel(run_id, 0, scratch.GetAllocator()).ok();
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

std::string LiveEngine::RunOnceTimingOut(std::string_view operations) {
  auto before = std::chrono::steady_clock::now();
  std::string log = RunOnce(operations);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
  CHECK(took >= 0.29);
  CHECK(took < 1.5);
  rapidjson::Document status = Status(last_id);
  CHECK(status["latency"][0]["count"].GetUint64() == 1);
  CHECK(status["latency"][0]["min"].GetDouble() >= 0.29);
  return log;
}

rapidjson::Document LiveEngine::Status(const std::string& run_id) {
  rapidjson::Document doc;
  std::optional<ops::RunSnapshot> run =
      registry.Peek(run_id, ops::kSnapshotQueryTest, doc.GetAllocator());
  REQUIRE(run.has_value());
  static_cast<rapidjson::Value&>(doc) = rpc::QueryTestResult(std::move(*run), doc.GetAllocator());
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

size_t LiveEngine::SettledDescriptors() {
  Turns(2);
  return OpenDescriptors();
}

void LiveEngine::CancelReleases(const std::string& run_id, size_t baseline) {
  CHECK(Cancel(run_id));
  Turns(3);
  CHECK(OpenDescriptors() <= baseline + kReleaseMargin);
  CHECK(registry.instances_live() == 0);
}

void LiveEngine::TimeoutsRelease(const std::string& run_id, uint64_t total, size_t baseline) {
  RunUntilDone(run_id);
  CHECK(Status(run_id)["counts"]["aborted"].GetUint64() == total);
  CHECK(OpenDescriptors() <= baseline + kReleaseMargin);
}

}  // namespace testrund::test
