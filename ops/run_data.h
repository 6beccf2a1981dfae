// SPDX-License-Identifier: Apache-2.0
// RunData: a run's data rows (ExecuteTest `data` and `data_mode`, docs/api.md#data-rows) —
// the table, held once for the run (ops/data/data_table.h); which row each instance reads
// (ops/data/row_choice.h); where the rows came from — and the RowSource the sandbox's `d`
// and `d_row` read (ops/lua/row_source.h).
//
// `data` is one of {"columns": [...], "rows": [[...], ...]} (values keep their JSON types),
// {"csv": "TEXT"} or {"file": "NAME"}: a CSV file under the daemon's data_dir, named
// relative to it; a name that is absolute, has a `..` part, or resolves (through links)
// outside data_dir is refused, and so is anything but a regular file. The file is read
// when ExecuteTest is handled, in the daemon's one thread (a 40 MB file takes some tens of
// milliseconds).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/param_reader.h"
#include "ops/data/data_table.h"
#include "ops/data/row_choice.h"
#include "ops/distribution.h"
#include "ops/engine_limits.h"
#include "ops/lua/row_source.h"

namespace testrund::ops {

class RunData : public RowSource {
 public:
  RunData(DataTable table, DataMode mode, std::string source, uint64_t seed);

  const DataTable& table() const { return table_; }
  DataMode mode() const { return mode_; }
  // "rows", "csv" or "file:NAME".
  const std::string& source() const { return source_; }

  // RowSource.
  size_t column_count() const override { return table_.columns().size(); }
  std::string_view column_name(size_t column) const override {
    return table_.columns()[column];
  }
  void PushCell(lua_State* L, int64_t instance, size_t column) const override;
  uint64_t RowNumber(int64_t instance) const override;

 private:
  uint64_t RowOf(int64_t instance) const;

  DataTable table_;
  DataMode mode_;
  std::string source_;
  uint64_t seed_;
};

// Reads `data` and `data_mode` through `p` (ExecuteTest's params); nullptr when `data` is
// absent (or on a problem, which is recorded with the field "data", "data.csv", "data.rows",
// "data.file" or "data_mode"). `unique` needs a row per instance: a distribution whose
// total exceeds the rows is a problem, and one without a total (duration, stages) gets the
// rows as its total, so the run ends when they are used up.
std::unique_ptr<RunData> ReadRunData(ParamReader& p, const EngineLimits& limits, uint64_t seed,
                                     Distribution* distribution);

}  // namespace testrund::ops
