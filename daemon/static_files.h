// SPDX-License-Identifier: Apache-2.0
// The operator page's files (docs/ui.md), embedded in the binary at build time by
// scripts/embed-files: our own from daemon/ui/, and Chart.js from Debian's libjs-chart.js
// at vendor/chart.min.js.
#pragma once

#include <cstddef>
#include <string_view>

namespace testrund::daemon {

struct StaticFile {
  std::string_view path;  // relative to /ui/, e.g. "app.js"
  std::string_view content_type;
  std::string_view etag;  // quoted, as the ETag header carries it
  std::string_view body;
};

// Sorted by path (the generated ui_files.cpp).
extern const StaticFile kUiFiles[];
extern const size_t kUiFileCount;

// The file at `path` (relative to /ui/), or nullptr.
const StaticFile* FindUiFile(std::string_view path);

}  // namespace testrund::daemon
