// SPDX-License-Identifier: Apache-2.0
// FindUiFile (see static_files.h).
#include "daemon/static_files.h"

#include <algorithm>

namespace testrund::daemon {

const StaticFile* FindUiFile(std::string_view path) {
  const StaticFile* end = kUiFiles + kUiFileCount;
  const StaticFile* found = std::lower_bound(
      kUiFiles, end, path, [](const StaticFile& file, std::string_view p) { return file.path < p; });
  return found != end && found->path == path ? found : nullptr;
}

}  // namespace testrund::daemon
