// SPDX-License-Identifier: Apache-2.0
// WriteFileAtomically: the one way the daemon replaces a file that a reader (a person, a
// script, the daemon itself after a restart) must see either whole or not at all — the
// results_dir files (results_writer.h) and the state_dir files (state_store.h). The text
// goes to a dot-file beside the target, is fsync'd, renamed over the target, and the
// directory is fsync'd, so the new name survives a crash as well.
#pragma once

#include <string>
#include <string_view>

#include "ops/base/status.h"

namespace testrund::daemon {

// Writes `text` to `<dir>/<name>` by way of `<dir>/.<name>.tmp` (mode 0640 before the umask,
// never opened through a symlink), then fsyncs `dir`. Error: one sentence naming the step,
// the path and the errno text ("cannot create DIR/.NAME.tmp: Permission denied"); the
// temporary file is removed then, and the target is left as it was (unless only the final
// directory fsync failed: the rename has happened, but may not be durable).
Status WriteFileAtomically(const std::string& dir, std::string_view name, std::string_view text);

// Fsyncs directory `dir`, making the creations, renames and removals inside it durable.
// Error: "cannot open DIR: ..." or "cannot fsync DIR: ..." with the errno text.
Status SyncDirectory(const std::string& dir);

}  // namespace testrund::daemon
