// SPDX-License-Identifier: Apache-2.0
// DataTable and DataTableBuilder: cells read back as built, in columns of equal and of
// varying widths and of strings and other types (offsets and types made only when a
// column needs them, also after many cells), column lookup, moves, and what it costs.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ops/data/data_table.h"

using testrund::ops::Cell;
using testrund::ops::CellType;
using testrund::ops::CellTypeName;
using testrund::ops::DataTable;
using testrund::ops::DataTableBuilder;

namespace {

// A table of strings, row by row.
DataTable Strings(std::vector<std::string> names,
                  const std::vector<std::vector<std::string>>& rows) {
  DataTableBuilder builder(std::move(names));
  for (const auto& row : rows) {
    for (const std::string& cell : row) REQUIRE(builder.Add(CellType::kString, cell).ok());
    builder.EndRow();
  }
  return std::move(builder).Finish();
}

}  // namespace

TEST_CASE("a table gives back its cells by row and column", "[unit]") {
  DataTable table =
      Strings({"msisdn", "imsi", "name"}, {{"447700900001", "234150000000001", "Ann"},
                                           {"447700900002", "234150000000002", ""},
                                           {"447700900003", "234150000000003", "Bo"}});
  REQUIRE(table.rows() == 3);
  REQUIRE(table.columns() == std::vector<std::string>{"msisdn", "imsi", "name"});
  CHECK(table.At(0, 0).text == "447700900001");
  CHECK(table.At(2, 1).text == "234150000000003");
  CHECK(table.At(0, 2).text == "Ann");
  CHECK(table.At(1, 2).text == "");
  CHECK(table.At(2, 2).text == "Bo");
  for (size_t r = 0; r < 3; ++r) {
    for (size_t c = 0; c < 3; ++c) CHECK(table.At(r, c).type == CellType::kString);
  }
}

TEST_CASE("a column of equal widths keeps no offsets until a cell of another width", "[unit]") {
  // 1,000 cells of 12 bytes, then one of 3: the first cells' offsets are made then.
  DataTableBuilder builder({"msisdn"});
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(builder.Add(CellType::kString, fmt::format("4477{:08}", i)).ok());
    builder.EndRow();
  }
  SECTION("equal widths cost their bytes only") {
    DataTable table = std::move(builder).Finish();
    CHECK(table.At(0, 0).text == "447700000000");
    CHECK(table.At(999, 0).text == "447700000999");
    CHECK(table.memory_bytes() < 12'000 + 300);
  }
  SECTION("another width adds 4 bytes a cell") {
    REQUIRE(builder.Add(CellType::kString, "abc").ok());
    builder.EndRow();
    REQUIRE(builder.Add(CellType::kString, "447799999999").ok());
    builder.EndRow();
    DataTable table = std::move(builder).Finish();
    REQUIRE(table.rows() == 1002);
    CHECK(table.At(0, 0).text == "447700000000");
    CHECK(table.At(999, 0).text == "447700000999");
    CHECK(table.At(1000, 0).text == "abc");
    CHECK(table.At(1001, 0).text == "447799999999");
    CHECK(table.memory_bytes() >= 12'015 + 4 * 1002);
    CHECK(table.memory_bytes() < 12'015 + 4 * 1002 + 300);
  }
}

TEST_CASE("empty cells and a column of empty cells", "[unit]") {
  DataTable table = Strings({"a", "b"}, {{"", "x"}, {"", ""}, {"", "yz"}});
  for (size_t r = 0; r < 3; ++r) CHECK(table.At(r, 0).text.empty());
  CHECK(table.At(0, 1).text == "x");
  CHECK(table.At(1, 1).text == "");
  CHECK(table.At(2, 1).text == "yz");
}

TEST_CASE("cells keep their types; a column of strings keeps none", "[unit]") {
  DataTableBuilder builder({"v", "s"});
  const std::vector<Cell> cells = {
      {CellType::kString, "x"},   {CellType::kString, "y"},    {CellType::kInteger, "-42"},
      {CellType::kNumber, "0.5"}, {CellType::kTrue, ""},       {CellType::kFalse, ""},
      {CellType::kNull, ""},      {CellType::kJson, "[1,{}]"}, {CellType::kString, "z"}};
  for (const Cell& cell : cells) {
    REQUIRE(builder.Add(cell.type, cell.text).ok());
    REQUIRE(builder.Add(CellType::kString, "s").ok());
    builder.EndRow();
  }
  DataTable table = std::move(builder).Finish();
  REQUIRE(table.rows() == cells.size());
  for (size_t r = 0; r < cells.size(); ++r) {
    CAPTURE(r);
    CHECK(table.At(r, 0).type == cells[r].type);
    CHECK(table.At(r, 0).text == cells[r].text);
    CHECK(table.At(r, 1).type == CellType::kString);
  }
  CHECK(CellTypeName(CellType::kInteger) == "integer");
  CHECK(CellTypeName(CellType::kJson) == "json");
}

TEST_CASE("ColumnIndex finds every column by name", "[unit]") {
  std::vector<std::string> names;
  for (int i = 0; i < 500; ++i) names.push_back(fmt::format("c{}", (i * 7919) % 500));
  DataTableBuilder builder(names);
  for (size_t i = 0; i < names.size(); ++i) REQUIRE(builder.Add(CellType::kString, "v").ok());
  builder.EndRow();
  DataTable table = std::move(builder).Finish();
  for (size_t i = 0; i < names.size(); ++i) {
    REQUIRE(table.ColumnIndex(names[i]) == i);
  }
  CHECK(table.ColumnIndex("") == std::nullopt);
  CHECK(table.ColumnIndex("c500") == std::nullopt);
  CHECK(table.ColumnIndex("c") == std::nullopt);
  CHECK(table.ColumnIndex("c1 ") == std::nullopt);
}

TEST_CASE("a table with no rows, and the empty table", "[unit]") {
  DataTable table = Strings({"a", "b"}, {});
  CHECK(table.rows() == 0);
  CHECK(table.columns().size() == 2);
  CHECK(table.ColumnIndex("b") == 1u);
  DataTable none;
  CHECK(none.rows() == 0);
  CHECK(none.columns().empty());
  CHECK(none.ColumnIndex("a") == std::nullopt);
}

TEST_CASE("a moved table keeps its cells and names", "[unit]") {
  DataTable table = Strings({"a"}, {{"short"}, {"a longer value than SSO holds"}});
  DataTable moved = std::move(table);
  CHECK(moved.At(1, 0).text == "a longer value than SSO holds");
  CHECK(moved.ColumnIndex("a") == 0u);
}

TEST_CASE("the builder counts rows and bytes", "[unit]") {
  DataTableBuilder builder({"a", "b"});
  CHECK(builder.columns() == 2);
  REQUIRE(builder.Add(CellType::kString, "abc").ok());
  REQUIRE(builder.Add(CellType::kString, "de").ok());
  builder.EndRow();
  CHECK(builder.rows() == 1);
  CHECK(builder.bytes() == 5);
  CHECK(builder.names() == std::vector<std::string>{"a", "b"});
}
