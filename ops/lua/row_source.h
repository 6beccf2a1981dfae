// SPDX-License-Identifier: Apache-2.0
// RowSource: what the sandbox's `d` and `d_row` read (docs/operations.md#data-rows): the
// run's data rows, one per instance. The sandbox knows only this interface; the run's data
// (ops/run_data.h) implements it over its column store, so the Lua layer needs nothing of
// how rows are stored or chosen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

struct lua_State;

namespace testrund::ops {

class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual size_t column_count() const = 0;
  virtual std::string_view column_name(size_t column) const = 0;
  // Pushes the value of `column` (0-based) in the row instance `instance` reads. Runs inside
  // an evaluation's protected call: it may allocate (a Lua error then unwinds cleanly).
  virtual void PushCell(lua_State* L, int64_t instance, size_t column) const = 0;
  // The 1-based number of the row instance `instance` reads.
  virtual uint64_t RowNumber(int64_t instance) const = 0;
};

}  // namespace testrund::ops
