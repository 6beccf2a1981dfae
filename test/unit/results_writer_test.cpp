// SPDX-License-Identifier: Apache-2.0
// ResultsWriter: results_dir files written when a run ends (completed, cancelled, or at the
// daemon's stop), atomically and 0640, a failed write reported, counted and retried once
// when the run is discarded, and a symlink at the temporary name never followed.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/results_writer.h"
#include "test/unit/engine_test_util.h"

namespace testrund::daemon {
namespace {

using ops::EngineError;
using ops::testing::Engine;
using ops::testing::ParseJson;
using ops::testing::ToText;

std::string Str(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// A temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "results_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A ResultsWriter on an engine's registry, keeping the errors it reports.
struct Writer {
  Writer(std::string dir, Engine& e)
      : writer(std::move(dir), e.registry, [this](std::string_view run_id, const Status& error) {
          reports.push_back(std::string(run_id) + ": " + error.message());
        }) {}
  std::vector<std::string> reports;
  ResultsWriter writer;
};

TEST_CASE("results_dir: the final status is written when the run ends", "[unit]") {
  TempDir dir;
  Engine e;
  Writer w(dir.path(), e);
  auto id = e.Execute(R"J({"run_id": "rd", "tags": ["t"], "operations": [{"type": "comment"}]})J");
  std::string path = dir.path() + "/rd.json";
  CHECK_FALSE(std::filesystem::exists(path));
  e.clock.RunDue();
  REQUIRE(std::filesystem::exists(path));
  std::string text = ReadFile(path);
  REQUIRE(text.back() == '\n');
  rapidjson::Document file = ParseJson(text);
  CHECK(Str(file["run_id"]) == "rd");
  CHECK(file["completed"].GetInt() == 1);
  CHECK(Str(file["status"]) == "completed");
  CHECK(ToText(file["tags"]) == R"(["t"])");
  CHECK(ToText(file["counts"]) == ToText(e.Status(id)["counts"]));
  // Only the file itself is left (the temporary was renamed).
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()),
                      std::filesystem::directory_iterator()) == 1);

  auto halted = e.Execute(R"J({"run_id": "rh", "operations": [{"type": "halt"}]})J");
  e.clock.RunDue();
  e.registry.CancelAll();
  rapidjson::Document cancelled = ParseJson(ReadFile(dir.path() + "/rh.json"));
  CHECK(Str(cancelled["status"]) == "cancelled");
  CHECK(Str(cancelled["status_reason"]) == "Cancelled because the daemon stopped.");
  CHECK(cancelled["counts"]["cancelled"].GetUint64() == 1);
  CHECK(w.writer.failures() == 0);
}

TEST_CASE("results_dir: a failed write is reported, counted and retried at stop", "[unit]") {
  TempDir dir;
  Engine e;
  Writer w(dir.path() + "/missing", e);
  e.Execute(R"J({"run_id": "rf", "operations": [{"type": "comment"}]})J");
  e.clock.RunDue();
  REQUIRE(w.reports.size() == 1);
  CHECK(w.reports[0] == "rf: cannot create " + dir.path() +
                          "/missing/.rf.json.tmp: No such file or directory");
  CHECK(w.writer.failures() == 1);
  std::filesystem::create_directory(dir.path() + "/missing");
  SECTION("the daemon's stop writes what was missed") {
    e.registry.CancelAll();
  }
  SECTION("so does the discard after QueryTest returned it") {
    REQUIRE(e.Query("rf").ok());
    e.registry.Sweep();
    CHECK(e.Query("rf").error == EngineError::kUnknownRun);
  }
  CHECK(w.reports.size() == 1);
  rapidjson::Document file = ParseJson(ReadFile(dir.path() + "/missing/rf.json"));
  CHECK(Str(file["status"]) == "completed");
}

TEST_CASE("results_dir: a run the stop cancels is written once, however that goes", "[unit]") {
  TempDir dir;
  Engine e;
  Writer w(dir.path() + "/missing", e);
  e.Execute(R"J({"run_id": "rs", "operations": [{"type": "halt"}]})J");
  e.clock.RunDue();
  CHECK(w.reports.empty());
  e.registry.CancelAll();
  CHECK(w.reports.size() == 1);  // no second attempt right after the first
  CHECK(w.writer.failures() == 1);
  e.registry.Sweep();
  CHECK(w.reports.size() == 1);
}

TEST_CASE("results_dir: files are 0640 and a symlink at the temporary name is not followed",
          "[unit]") {
  TempDir dir;
  Engine e;
  Writer w(dir.path(), e);
  mode_t old_umask = ::umask(022);
  e.Execute(R"J({"run_id": "rm", "operations": [{"type": "comment"}]})J");
  e.clock.RunDue();
  ::umask(old_umask);
  REQUIRE(std::filesystem::exists(dir.path() + "/rm.json"));
  CHECK(std::filesystem::status(dir.path() + "/rm.json").permissions() ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
         std::filesystem::perms::group_read));

  std::string victim = dir.path() + "/victim";
  std::ofstream(victim) << "keep";
  std::filesystem::create_symlink(victim, dir.path() + "/.rs.json.tmp");
  e.Execute(R"J({"run_id": "rs", "operations": [{"type": "comment"}]})J");
  e.clock.RunDue();
  REQUIRE(w.reports.size() == 1);
  CHECK(w.reports[0] == "rs: cannot create " + dir.path() +
                          "/.rs.json.tmp: Too many levels of symbolic links");
  CHECK(ReadFile(victim) == "keep");
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/rs.json"));
}


TEST_CASE("results_dir: each repetition is written as <run_id>.<n>.json, the run at its end",
          "[unit]") {
  TempDir dir;
  ops::EngineLimits limits = ops::TestEngineLimits();
  limits.data_dir = dir.path();
  Engine e(limits);
  Writer w(dir.path(), e);
  {
    std::ofstream rows(dir.path() + "/rows.csv");
    rows << "a\n1\n";
  }
  REQUIRE(e.Execute(R"J({"run_id": "rp", "repeat": {"count": 3, "interval": 1},
      "data": {"file": "rows.csv"}, "distribution": {"type": "single"},
      "operations": [{"type": "wait", "arguments": {"seconds": 1}}]})J") == "rp");
  e.clock.AdvanceSeconds(1);
  REQUIRE(std::filesystem::exists(dir.path() + "/rp.1.json"));
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/rp.json"));
  rapidjson::Document first = ParseJson(ReadFile(dir.path() + "/rp.1.json"));
  CHECK(Str(first["status"]) == "completed");
  CHECK(first["repetition"].GetInt() == 1);
  CHECK(first["repetitions"].GetInt() == 3);
  CHECK(first["history"].Size() == 0);  // a repetition's own result

  // The definition is read again for each repetition, when the one before ends: a data file
  // gone by then makes the next one impossible, and the run ends failed, its history kept.
  e.clock.AdvanceSeconds(1.5);  // repetition 2 runs from 2 s
  std::filesystem::remove(dir.path() + "/rows.csv");
  e.clock.AdvanceSeconds(1);
  REQUIRE(std::filesystem::exists(dir.path() + "/rp.json"));
  CHECK(std::filesystem::exists(dir.path() + "/rp.2.json"));
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/rp.3.json"));
  rapidjson::Document run = ParseJson(ReadFile(dir.path() + "/rp.json"));
  CHECK(run["completed"].GetInt() == 1);
  CHECK(Str(run["status"]) == "failed");
  CHECK(Str(run["status_reason"]).rfind(
            "Repetition 3 could not start: its definition no longer validates: data.file", 0) ==
        0);
  REQUIRE(run["history"].Size() == 2);
  CHECK(Str(run["history"][1]["status"]) == "completed");
  CHECK(w.reports.empty());
}

}  // namespace
}  // namespace testrund::daemon
