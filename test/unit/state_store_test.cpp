// SPDX-License-Identifier: Apache-2.0
// StateStore: state_dir files saved atomically and read back sorted by run_id; temporaries
// ignored; every kind of untrustworthy file moved to corrupt/ (never over an earlier one)
// with its reason; Open creating the folder, or failing with one sentence.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "daemon/state_store.h"

namespace testrund::daemon {
namespace {

namespace fs = std::filesystem;

// A temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "state_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
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

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The names in `dir`, sorted.
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string State(std::string_view run_id, std::string_view more = "") {
  return fmt::format(R"({{"format":1,"run_id":"{}"{}}})", run_id, more);
}

StateStore OpenStore(const std::string& dir) {
  Result<StateStore> store = StateStore::Open(dir);
  REQUIRE(store.ok());
  return std::move(store.value());
}

// LoadAll, keeping what it reports as "file: why".
struct Loaded {
  explicit Loaded(const StateStore& store) {
    auto states = store.LoadAll([this](std::string_view file, std::string_view why) {
      corrupt.push_back(fmt::format("{}: {}", file, why));
    });
    REQUIRE(states.ok());
    for (StoredState& s : *states) run_ids.push_back(s.run_id);
    all = std::move(states.value());
  }
  std::vector<StoredState> all;
  std::vector<std::string> run_ids;
  std::vector<std::string> corrupt;
};

TEST_CASE("state_dir: Open creates a missing folder, 0750", "[unit]") {
  TempDir tmp;
  std::string dir = tmp.path() + "/state";
  StateStore store = OpenStore(dir);
  CHECK(store.dir() == dir);
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 0027) == 0);  // 0750 before the umask: never group-writable or other's
  CHECK(Names(dir).empty());        // the probe is gone
  // An existing folder is fine too.
  CHECK(StateStore::Open(dir).ok());
}

TEST_CASE("state_dir: Open on a path that cannot be written fails with one sentence", "[unit]") {
  TempDir tmp;
  std::string file = tmp.path() + "/file";
  WriteFile(file, "x");
  SECTION("under a regular file") {
    auto store = StateStore::Open(file + "/state");
    REQUIRE_FALSE(store.ok());
    CHECK(store.message() == "cannot create state_dir " + file + "/state: Not a directory");
  }
  SECTION("a regular file") {
    auto store = StateStore::Open(file);
    REQUIRE_FALSE(store.ok());
    CHECK(store.message() == "cannot create state_dir " + file + ": Not a directory");
  }
  SECTION("a missing parent") {
    auto store = StateStore::Open(tmp.path() + "/a/b");
    REQUIRE_FALSE(store.ok());
    CHECK(store.message() ==
          "cannot create state_dir " + tmp.path() + "/a/b: No such file or directory");
  }
  SECTION("a read-only folder (unless root, whom permission bits do not stop)") {
    if (::geteuid() == 0) return;
    std::string dir = tmp.path() + "/ro";
    fs::create_directory(dir);
    fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
    auto store = StateStore::Open(dir);
    fs::permissions(dir, fs::perms::owner_all);
    REQUIRE_FALSE(store.ok());
    CHECK(store.message() == "cannot write in state_dir " + dir + ": Permission denied");
  }
}

TEST_CASE("state_dir: saved states load back, sorted by run_id; Remove removes", "[unit]") {
  TempDir tmp;
  StateStore store = OpenStore(tmp.path());
  REQUIRE(store.Save("b", State("b", R"(,"n":1.5)")).ok());
  REQUIRE(store.Save("a.b", State("a.b")).ok());
  REQUIRE(store.Save("a", State("a", R"(,"n":1)")).ok());
  REQUIRE(store.Save("a", State("a", R"(,"n":2)")).ok());  // replaces
  CHECK(ReadFile(tmp.path() + "/a.json") == State("a", R"(,"n":2)"));
  CHECK(Names(tmp.path()) == std::vector<std::string>{"a.b.json", "a.json", "b.json"});
  struct stat st {};
  REQUIRE(::stat((tmp.path() + "/a.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0007) == 0);  // 0640: the state may hold what the system under test sent

  Loaded loaded(store);
  CHECK(loaded.corrupt.empty());
  CHECK(loaded.run_ids == std::vector<std::string>{"a", "a.b", "b"});
  CHECK(loaded.all[0].state["n"].GetInt() == 2);
  CHECK(loaded.all[2].state["n"].GetDouble() == 1.5);

  REQUIRE(store.Remove("a").ok());
  CHECK(store.Remove("a").ok());  // already gone: fine
  CHECK(store.Remove("never").ok());
  CHECK(Loaded(store).run_ids == std::vector<std::string>{"a.b", "b"});
}

TEST_CASE("state_dir: an invalid run_id is refused, never a path", "[unit]") {
  TempDir tmp;
  StateStore store = OpenStore(tmp.path());
  Status saved = store.Save("../x", State("../x"));
  REQUIRE_FALSE(saved.ok());
  CHECK(saved.message() == R"("../x" is not a valid run_id)");
  CHECK_FALSE(store.Save("", "{}").ok());
  CHECK_FALSE(store.Remove("a/b").ok());
  CHECK(Names(tmp.path()).empty());
}

TEST_CASE("state_dir: a write that failed leaves the old file; its temporary is ignored",
          "[unit]") {
  TempDir tmp;
  StateStore store = OpenStore(tmp.path());
  REQUIRE(store.Save("x", State("x")).ok());
  // What a crash between the temporary's creation and the rename leaves behind.
  WriteFile(tmp.path() + "/.x.json.tmp", R"({"format":1,"run_)");
  WriteFile(tmp.path() + "/.y.json.tmp", "");
  Loaded loaded(store);
  CHECK(loaded.corrupt.empty());
  CHECK(loaded.run_ids == std::vector<std::string>{"x"});
  CHECK(Names(tmp.path()) == std::vector<std::string>{".x.json.tmp", ".y.json.tmp", "x.json"});
  // The next save of x writes over the stale temporary.
  REQUIRE(store.Save("x", State("x", R"(,"n":3)")).ok());
  CHECK(Names(tmp.path()) == std::vector<std::string>{".y.json.tmp", "x.json"});

  SECTION("a symlink at the temporary's name is not followed") {
    std::string target = tmp.path() + "/.y.json.tmp";
    fs::create_symlink(target, tmp.path() + "/.z.json.tmp");
    Status saved = store.Save("z", State("z"));
    REQUIRE_FALSE(saved.ok());
    CHECK(saved.message() ==
          "cannot create " + tmp.path() + "/.z.json.tmp: Too many levels of symbolic links");
    CHECK(ReadFile(target).empty());
    CHECK_FALSE(fs::exists(tmp.path() + "/z.json"));
  }
}

TEST_CASE("state_dir: untrustworthy files are moved to corrupt/ with their reason", "[unit]") {
  TempDir tmp;
  const std::string& dir = tmp.path();
  StateStore store = OpenStore(dir);
  REQUIRE(store.Save("good", State("good")).ok());
  std::string full = State("trunc", R"(,"n":1)");
  struct Case {
    std::string name;
    std::string text;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"trunc.json", full.substr(0, 28),
       "not JSON: Missing a comma or '}' after an object member at offset 28"},
      {"cut.json", R"({"format":1,"run_id":"cu)",
       "not JSON: Missing a closing quotation mark in string at offset 24"},
      {"empty.json", "", "empty"},
      {"garbage.json", "{}{}",
       "not JSON: The document root must not be followed by other values at offset 2"},
      {"bytes.json", "{\"format\":1,\"run_id\":\"by\xff\"}",
       "not JSON: Invalid encoding in string at offset 24"},
      {"array.json", "[1,2]", "not a JSON object"},
      {"noformat.json", R"({"run_id":"noformat"})", "has no \"format\""},
      {"format2.json", R"({"format":2,"run_id":"format2"})", "\"format\" is 2, not 1"},
      {"formats.json", R"({"format":"1","run_id":"formats"})", "\"format\" is \"1\", not 1"},
      {"noid.json", R"({"format":1})", "has no \"run_id\""},
      {"other.json", State("another"),
       "\"run_id\" is \"another\", not \"other\" as the file's name says"},
      {"numid.json", R"({"format":1,"run_id":7})",
       "\"run_id\" is 7, not \"numid\" as the file's name says"},
      {"bad name.json", State("bad name"), "not a state file's name (<run_id>.json)"},
      {"notes.txt", "hello", "not a state file's name (<run_id>.json)"},
      {".json", State(""), "not a state file's name (<run_id>.json)"},
  };
  for (const Case& c : cases) WriteFile(fmt::format("{}/{}", dir, c.name), c.text);

  Loaded loaded(store);
  CHECK(loaded.run_ids == std::vector<std::string>{"good"});
  std::vector<std::string> expected;
  for (const Case& c : cases) {
    // ".json" is a dot-file: skipped, like a temporary, not moved.
    if (c.name == ".json") continue;
    expected.push_back(fmt::format("{}/corrupt/{}: {}", dir, c.name, c.why));
  }
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> reported = loaded.corrupt;
  std::sort(reported.begin(), reported.end());
  CHECK(reported == expected);
  for (const Case& c : cases) {
    if (c.name == ".json") continue;
    CHECK(ReadFile(fmt::format("{}/corrupt/{}", dir, c.name)) == c.text);
  }
  CHECK(Names(dir) == std::vector<std::string>{".json", "corrupt", "good.json"});
  struct stat st {};
  REQUIRE(::stat((dir + "/corrupt").c_str(), &st) == 0);
  CHECK((st.st_mode & 0027) == 0);
  // The next start finds nothing more to move.
  CHECK(Loaded(store).corrupt.empty());
}

TEST_CASE("state_dir: a name already in corrupt/ gets .1, .2, ...", "[unit]") {
  TempDir tmp;
  const std::string& dir = tmp.path();
  StateStore store = OpenStore(dir);
  for (int i = 0; i < 3; ++i) {
    WriteFile(dir + "/r.json", fmt::format("bad {}", i));
    Loaded loaded(store);
    CHECK(loaded.all.empty());
    REQUIRE(loaded.corrupt.size() == 1);
    std::string moved_to =
        i == 0 ? dir + "/corrupt/r.json" : fmt::format("{}/corrupt/r.json.{}", dir, i);
    CHECK(loaded.corrupt[0] == moved_to + ": not JSON: Invalid value at offset 0");
    CHECK(ReadFile(moved_to) == fmt::format("bad {}", i));
  }
  CHECK(Names(dir + "/corrupt") == std::vector<std::string>{"r.json", "r.json.1", "r.json.2"});
}

TEST_CASE("state_dir: files larger than 64 MiB, directories and FIFOs are moved aside", "[unit]") {
  TempDir tmp;
  const std::string& dir = tmp.path();
  StateStore store = OpenStore(dir);
  // Sparse: the size is what counts, not the bytes on disk.
  WriteFile(dir + "/big.json", "");
  fs::resize_file(dir + "/big.json", StateStore::kMaxFileBytes + 1);
  REQUIRE(fs::file_size(dir + "/big.json") == StateStore::kMaxFileBytes + 1);
  fs::create_directory(dir + "/sub.json");
  REQUIRE(::mkfifo((dir + "/pipe.json").c_str(), 0600) == 0);
  REQUIRE(store.Save("target", State("target")).ok());
  fs::create_symlink(dir + "/target.json", dir + "/link.json");
  Loaded loaded(store);
  CHECK(loaded.run_ids == std::vector<std::string>{"target"});
  std::vector<std::string> reported = loaded.corrupt;
  std::sort(reported.begin(), reported.end());
  CHECK(reported == std::vector<std::string>{
                        dir + "/corrupt/big.json: larger than 64 MiB",
                        dir + "/corrupt/link.json: not a regular file (a symbolic link)",
                        dir + "/corrupt/pipe.json: not a regular file",
                        dir + "/corrupt/sub.json: not a regular file",
                    });
  CHECK(fs::is_symlink(dir + "/corrupt/link.json"));
}

}  // namespace
}  // namespace testrund::daemon
