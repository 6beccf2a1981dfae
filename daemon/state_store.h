// SPDX-License-Identifier: Apache-2.0
// StateStore: the files of state_dir (docs/configuration.md#persisted-run-state), one per run,
// `<state_dir>/<run_id>.json`, each a JSON object with "format": 1 and the run's "run_id",
// written atomically (atomic_file.h) so that a crash leaves the old file or the new one.
// What a run's object holds is its owner's business; the store only keeps the files and
// reads them back at start-up. A file it cannot trust (not JSON, truncated, not such an
// object, a foreign name, too large) is never deleted: it is moved to `state_dir/corrupt/`
// for a person to look at, and the daemon starts without it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/status.h"

namespace testrund::daemon {

// One run's state file, read back.
struct StoredState {
  std::string run_id;
  rapidjson::Document state;  // a JSON object; state["run_id"] == run_id, state["format"] == 1
};

class StateStore {
 public:
  static constexpr int kFormat = 1;                            // the "format" every file has
  static constexpr uint64_t kMaxFileBytes = 64 * 1024 * 1024;  // larger files are corrupt
  static constexpr std::string_view kCorruptFolder = "corrupt";

  // Called once per file moved aside: `file` is where it is now (under `<dir>/corrupt/`;
  // its old path when it could not be moved, and `why` then says so), `why` a sentence
  // such as "not JSON: Missing a comma or '}' after an object member at offset 37".
  using CorruptHandler = std::function<void(std::string_view file, std::string_view why)>;

  // Opens `dir`, creating it (mode 0750, not its parents) when it is missing, and checks
  // that files can be created and removed in it with a probe file. Error: one sentence
  // naming the path and the errno text ("cannot create state_dir /a/b: Not a directory",
  // "cannot write in state_dir /a: Permission denied"); main exits 2 with it.
  static Result<StateStore> Open(std::string dir);

  const std::string& dir() const { return dir_; }

  // Replaces `<dir>/<run_id>.json` with `text` atomically (WriteFileAtomically). The caller
  // writes the object with "format": kFormat and "run_id". Error: an invalid run_id
  // (ops::ValidRunId), or the write's sentence (path and errno text).
  Status Save(std::string_view run_id, std::string_view text) const;

  // Removes `<dir>/<run_id>.json`, durably; a missing file is fine. Error: an invalid
  // run_id, or a sentence naming the path and the errno text.
  Status Remove(std::string_view run_id) const;

  // Reads every state file, sorted by run_id. Dot-files (the temporaries of a write that
  // never finished, the probe) and the corrupt folder are skipped; every other entry that is
  // not a valid state file is moved aside to `<dir>/corrupt/<name>` (`<name>.1`, `.2`, ...
  // when the name is taken) and reported through `on_corrupt`. Error: the directory itself
  // cannot be read.
  Result<std::vector<StoredState>> LoadAll(const CorruptHandler& on_corrupt) const;

  // Moves `<dir>/<run_id>.json` aside as LoadAll does with a file it cannot trust (its owner
  // found it wrong inside). Returns its new path.
  Result<std::string> MoveAsideRun(std::string_view run_id) const {
    return MoveAside(std::string(run_id) + ".json");
  }

 private:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}
  // Moves entry `name` of dir_ into the corrupt folder. Returns its new path.
  Result<std::string> MoveAside(std::string_view name) const;

  std::string dir_;
};

}  // namespace testrund::daemon
