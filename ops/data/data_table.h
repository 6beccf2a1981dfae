// SPDX-License-Identifier: Apache-2.0
// DataTable: the rows of an ExecuteTest's `data`, held once per run in a compact column
// store and read by every instance without copying. Each instance reads one row, so a
// cell is read in O(1) without allocating, and a million rows cost little more than their
// text.
//
// Per column: one byte buffer with the cells' bytes one after the other, the end offset of
// each cell (uint32_t: a column holds less than 4 GiB), and a type per cell. Two common
// cases cost less: a column whose cells all have the same length (MSISDNs, IMSIs, ICCIDs)
// keeps no offsets, and a column of strings only (every CSV column) keeps no types. So a
// table is its cells' bytes plus at most 5 bytes per cell.
//
// Cell text by type: a string's bytes; a number as JSON text (kInteger fits int64, convert
// with std::from_chars; kNumber is any other number, read as a double); a nested array or
// object as compact JSON text (the reader parses it when it needs it, with
// rapidjson::kParseFullPrecisionFlag: its doubles are written in shortest round-trip form,
// which RapidJSON's default parse may read one ulp off); true, false and null have empty
// text. Built by DataTableBuilder (the CSV and JSON readers use it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/status.h"

namespace testrund::ops {

enum class CellType : uint8_t { kString, kInteger, kNumber, kTrue, kFalse, kNull, kJson };

// "string", "integer", "number", "true", "false", "null", "json".
std::string_view CellTypeName(CellType type);

struct Cell {
  CellType type;
  std::string_view text;  // into the table: valid while the table lives
};

class DataTable {
 public:
  // A column's bytes stay below this, so that uint32_t offsets can address them.
  static constexpr uint64_t kMaxColumnBytes = UINT32_MAX;

  DataTable() = default;  // no columns, no rows
  // Move-only: a run holds its table once; instances read it through a pointer.
  DataTable(DataTable&&) noexcept = default;
  DataTable& operator=(DataTable&&) noexcept = default;
  DataTable(const DataTable&) = delete;
  DataTable& operator=(const DataTable&) = delete;

  // The column names, in their order (distinct, non-empty: the readers check).
  const std::vector<std::string>& columns() const { return names_; }
  // The 0-based index of the column called `name`, by binary search.
  std::optional<size_t> ColumnIndex(std::string_view name) const;
  size_t rows() const { return rows_; }
  // The cell at (row, column), both 0-based and in range (CHECKed). O(1), no allocation.
  Cell At(size_t row, size_t column) const;
  // The bytes the table holds (buffers' capacities and its own structures).
  size_t memory_bytes() const;

 private:
  friend class DataTableBuilder;

  struct Column {
    std::string bytes;            // the cells' bytes, one after the other
    std::vector<uint32_t> ends;   // end offset of each cell; empty while all have `width`
    uint32_t width = 0;           // every cell's length while `ends` is empty
    std::vector<CellType> types;  // empty while every cell is a string
  };

  std::vector<std::string> names_;
  std::vector<uint32_t> by_name_;  // column indices sorted by name
  std::vector<Column> columns_;
  size_t rows_ = 0;
};

// Builds a DataTable row by row: Add each cell of a row in column order, then EndRow.
class DataTableBuilder {
 public:
  // `names`: the columns, at least one (CHECKed), distinct and non-empty (the reader's
  // job: a duplicate name is found by ColumnIndex as its first column).
  explicit DataTableBuilder(std::vector<std::string> names);

  const std::vector<std::string>& names() const { return table_.names_; }
  size_t columns() const { return table_.names_.size(); }
  // Rows ended so far.
  size_t rows() const { return table_.rows_; }
  // Cell bytes stored so far, in every column.
  uint64_t bytes() const { return bytes_; }

  // Appends the next cell of the current row (at most columns() per row, CHECKed). Fails
  // when the column's bytes would reach kMaxColumnBytes; the builder is then unusable.
  Status Add(CellType type, std::string_view text);
  // Ends the current row; it must have a cell in every column (CHECKed).
  void EndRow();
  // The table, its buffers shrunk to their contents. No row may be open (CHECKed).
  DataTable Finish() &&;

 private:
  void Append(DataTable::Column& column, CellType type, std::string_view text);

  DataTable table_;
  size_t next_column_ = 0;  // the column of the next Add in the current row
  uint64_t bytes_ = 0;
};

}  // namespace testrund::ops
