// SPDX-License-Identifier: Apache-2.0
// ReadCsv: RFC 4180 (quoted fields with commas, doubled quotes and line breaks, CRLF and
// LF, the last line with or without its line end), what we add (a byte order mark skipped,
// blank lines skipped, spaces kept, empty fields), every problem text with its row, line
// and column, the limits, and hostile inputs (a lone quote, NUL bytes, a 1 MB field,
// 100,000 columns, many short rows).
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ops/data/csv_reader.h"

using testrund::ops::CellType;
using testrund::ops::DataLimits;
using testrund::ops::DataTable;
using testrund::ops::ReadCsv;

namespace {

constexpr DataLimits kRoomy{.max_bytes = 1u << 30, .max_rows = 10'000'000};

using Rows = std::vector<std::vector<std::string>>;

// The table of `text`, which must be valid.
DataTable ReadOk(std::string_view text, DataLimits limits = kRoomy) {
  std::vector<std::string> problems;
  auto table = ReadCsv(text, limits, &problems);
  INFO(fmt::format("problems: {}", fmt::join(problems, " | ")));
  REQUIRE(table.ok());
  REQUIRE(problems.empty());
  return std::move(table).value();
}

// The problems of `text`, which must be invalid.
std::vector<std::string> Problems(std::string_view text, DataLimits limits = kRoomy) {
  std::vector<std::string> problems;
  auto table = ReadCsv(text, limits, &problems);
  REQUIRE_FALSE(table.ok());
  REQUIRE_FALSE(problems.empty());
  CHECK(table.message() == fmt::format("{}", fmt::join(problems, "; ")));
  return problems;
}

// Every cell, row by row; every cell must be a string.
Rows CellsOf(const DataTable& table) {
  Rows rows;
  for (size_t r = 0; r < table.rows(); ++r) {
    rows.emplace_back();
    for (size_t c = 0; c < table.columns().size(); ++c) {
      CHECK(table.At(r, c).type == CellType::kString);
      rows.back().emplace_back(table.At(r, c).text);
    }
  }
  return rows;
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("csv: a header and rows", "[unit]") {
  DataTable table = ReadOk(
      "msisdn,imsi\n"
      "447700900001,234150000000001\n"
      "447700900002,234150000000002\n");
  CHECK(table.columns() == Names{"msisdn", "imsi"});
  CHECK(CellsOf(table) ==
        Rows{{"447700900001", "234150000000001"}, {"447700900002", "234150000000002"}});
  CHECK(table.ColumnIndex("imsi") == 1u);
}

TEST_CASE("csv: quoted fields hold commas, doubled quotes and line breaks", "[unit]") {
  DataTable table = ReadOk(
      "name,note\n"
      "\"Smith, J\",\"say \"\"hi\"\"\"\n"
      "\"two\nlines\",\"crlf\r\ninside\"\n"
      "\"\"\"\",\"\"\n");
  CHECK(CellsOf(table) ==
        Rows{{"Smith, J", "say \"hi\""}, {"two\nlines", "crlf\r\ninside"}, {"\"", ""}});
}

TEST_CASE("csv: line ends", "[unit]") {
  SECTION("CRLF") {
    CHECK(CellsOf(ReadOk("a,b\r\n1,2\r\n3,4\r\n")) == Rows{{"1", "2"}, {"3", "4"}});
  }
  SECTION("the last line without its line end") {
    CHECK(CellsOf(ReadOk("a,b\n1,2\n3,4")) == Rows{{"1", "2"}, {"3", "4"}});
    CHECK(CellsOf(ReadOk("a,b\r\n1,2\r\n3,")) == Rows{{"1", "2"}, {"3", ""}});
    CHECK(CellsOf(ReadOk("a,b\n1,\"2\"")) == Rows{{"1", "2"}});
  }
  SECTION("a lone CR ends a row") {
    CHECK(CellsOf(ReadOk("a,b\r1,2\r3,4")) == Rows{{"1", "2"}, {"3", "4"}});
  }
  SECTION("mixed") {
    CHECK(CellsOf(ReadOk("a,b\r\n1,2\n3,4\r\n")) == Rows{{"1", "2"}, {"3", "4"}});
  }
}

TEST_CASE("csv: a byte order mark is skipped", "[unit]") {
  DataTable table = ReadOk("\xEF\xBB\xBFmsisdn,imsi\n1,2\n");
  CHECK(table.columns() == Names{"msisdn", "imsi"});
  CHECK(table.ColumnIndex("msisdn") == 0u);
  // Only at the start.
  CHECK(CellsOf(ReadOk("a\n\xEF\xBB\xBFx\n")) == Rows{{"\xEF\xBB\xBFx"}});
}

TEST_CASE("csv: spaces and tabs are kept", "[unit]") {
  DataTable table = ReadOk(" a ,b\t\n  x , \ty\t\n");
  CHECK(table.columns() == Names{" a ", "b\t"});
  CHECK(CellsOf(table) == Rows{{"  x ", " \ty\t"}});
  CHECK(CellsOf(ReadOk("a,b\n\" q \", \n")) == Rows{{" q ", " "}});
}

TEST_CASE("csv: empty fields are empty strings", "[unit]") {
  CHECK(CellsOf(ReadOk("a,b,c\n,,\n1,,3\n\"\",\"\",\n")) ==
        Rows{{"", "", ""}, {"1", "", "3"}, {"", "", ""}});
}

TEST_CASE("csv: blank lines are skipped", "[unit]") {
  CHECK(CellsOf(ReadOk("\n\na,b\n\n1,2\n\r\n\n3,4\n\n")) == Rows{{"1", "2"}, {"3", "4"}});
  // A one-column CSV holds an empty value only quoted.
  CHECK(CellsOf(ReadOk("a\nx\n\n\"\"\n")) == Rows{{"x"}, {""}});
}

TEST_CASE("csv: a header alone is a table of 0 rows", "[unit]") {
  for (std::string_view text : {"a,b\n", "a,b", "a,b\r\n\r\n"}) {
    DataTable table = ReadOk(text);
    CHECK(table.columns() == Names{"a", "b"});
    CHECK(table.rows() == 0);
  }
}

TEST_CASE("csv: NUL bytes and bytes that are not UTF-8 are kept", "[unit]") {
  std::string text("a,b\n1\0x,\xFF\xFE\n", 11);
  DataTable table = ReadOk(text);
  CHECK(table.At(0, 0).text == std::string_view("1\0x", 3));
  CHECK(table.At(0, 1).text == "\xFF\xFE");
}

TEST_CASE("csv: rows of the wrong length", "[unit]") {
  SECTION("one") {
    CHECK(Problems("msisdn,imsi\n1,2\n3,4,5\n") ==
          Names{"row 2 (line 3): 3 fields, the header has 2"});
    CHECK(Problems("msisdn,imsi\n1\n") == Names{"row 1 (line 2): 1 field, the header has 2"});
  }
  SECTION("five, then the rest counted") {
    std::string text = "a,b\n";
    for (int i = 0; i < 12; ++i) text += i % 2 == 0 ? "1,2\n" : "1,2,3\n";
    CHECK(Problems(text) == Names{"row 2 (line 3): 3 fields, the header has 2",
                                  "row 4 (line 5): 3 fields, the header has 2",
                                  "row 6 (line 7): 3 fields, the header has 2",
                                  "row 8 (line 9): 3 fields, the header has 2",
                                  "row 10 (line 11): 3 fields, the header has 2",
                                  "and 1 more row of the wrong length"});
    text += "1\n1\n";
    CHECK(Problems(text).back() == "and 3 more rows of the wrong length");
  }
  SECTION("lines count the line breaks inside quoted fields and the blank lines") {
    CHECK(Problems("a,b\n\"x\ny\",1\n\"p\r\nq\",2\n\n3\n") ==
          Names{"row 3 (line 7): 1 field, the header has 2"});
    CHECK(Problems("\n\na,b\r\n\r\n1,2\r\n3\r\n") ==
          Names{"row 2 (line 6): 1 field, the header has 2"});
  }
  SECTION("a lone CR ends a row but not a line") {
    CHECK(Problems("a,b\r1,2\r3\n4,5\n6\n") == Names{"row 2 (line 1): 1 field, the header has 2",
                                                     "row 4 (line 3): 1 field, the header has 2"});
  }
  SECTION("a blank-looking line of spaces is a row") {
    CHECK(Problems("a,b\n  \n") == Names{"row 1 (line 2): 1 field, the header has 2"});
  }
}

TEST_CASE("csv: quoting problems stop the parsing", "[unit]") {
  SECTION("a quote inside an unquoted field") {
    std::string text = "msisdn,imsi\n";
    for (int i = 0; i < 6; ++i) text += "1,2\n";
    text += "\n7,2\"3\n8,9,10\n";
    CHECK(Problems(text) ==
          Names{"row 7 (line 9), column 2 (\"imsi\"): a quote inside an unquoted field"});
  }
  SECTION("text after a closing quote") {
    CHECK(Problems("a,b\n\"x\"y,1\n") ==
          Names{"row 1 (line 2), column 1 (\"a\"): text after the closing quote of a quoted "
                "field"});
    CHECK(Problems("a,b\n1,\"x\" \n") ==
          Names{"row 1 (line 2), column 2 (\"b\"): text after the closing quote of a quoted "
                "field"});
  }
  SECTION("on a later line than its row's start") {
    CHECK(Problems("a,b,c\n\"x\ny\",\"1\n2\"3,4\n") ==
          Names{"row 1 (line 2), column 2 (\"b\"): text after the closing quote of a quoted "
                "field, on line 4"});
  }
  SECTION("past the header's columns") {
    CHECK(Problems("a\n1,x\"\n") ==
          Names{"row 1 (line 2), column 2: a quote inside an unquoted field"});
  }
  SECTION("in the header") {
    CHECK(Problems("a,b\"c\n1,2\n") ==
          Names{"the header (line 1), column 2: a quote inside an unquoted field"});
  }
  SECTION("a quoted field not closed: a lone quote") {
    CHECK(Problems("\"") == Names{"the header (line 1), column 1: the quoted field opened on "
                                  "line 1 is not closed at the end of the text"});
    CHECK(Problems("a,b\n1,2\n3,\"4\n5,6\n7,8\n") ==
          Names{"row 2 (line 3), column 2 (\"b\"): the quoted field opened on line 3 is not "
                "closed at the end of the text"});
    CHECK(Problems("a,b\n\"1\n\",\"x\n") ==
          Names{"row 1 (line 2), column 2 (\"b\"): the quoted field opened on line 3 is not "
                "closed at the end of the text"});
  }
  SECTION("rows of the wrong length before it are kept") {
    CHECK(Problems("a,b\n1\n\"x\"y,2\n") ==
          Names{"row 1 (line 2): 1 field, the header has 2",
                "row 2 (line 3), column 1 (\"a\"): text after the closing quote of a quoted "
                "field"});
  }
}

TEST_CASE("csv: the header's names", "[unit]") {
  CHECK(Problems("msisdn,imsi,imsi\n1,2,3\n") ==
        Names{"column 3 (\"imsi\"): duplicate name (also column 2)"});
  CHECK(Problems("a,,b\n") == Names{"column 2: empty name"});
  CHECK(Problems("a,\"\"\n") == Names{"column 2: empty name"});
  CHECK(Problems("x,y,x,x\n") == Names{"column 3 (\"x\"): duplicate name (also column 1)",
                                       "column 4 (\"x\"): duplicate name (also column 1)"});
  SECTION("names differing in spaces are distinct") { CHECK(ReadOk("a, a,a \n").rows() == 0); }
  SECTION("five, then the rest counted") {
    CHECK(Problems(",,,,,,,\n") == Names{"column 1: empty name", "column 2: empty name",
                                         "column 3: empty name", "column 4: empty name",
                                         "column 5: empty name",
                                         "and 3 more columns with an empty or duplicate name"});
  }
  SECTION("and rows of the wrong length after them") {
    CHECK(Problems("a,a\n1\n") == Names{"column 2 (\"a\"): duplicate name (also column 1)",
                                        "row 1 (line 2): 1 field, the header has 2"});
  }
}

TEST_CASE("csv: no header line", "[unit]") {
  for (std::string_view text : {"", "\n", "\r\n\r\n\n", "\xEF\xBB\xBF", "\xEF\xBB\xBF\n"}) {
    CAPTURE(text);
    CHECK(Problems(text) == Names{"no header line"});
  }
}

TEST_CASE("csv: limits", "[unit]") {
  const std::string text = "a,b\n1,2\n3,4\n\n5,6\n";  // 17 bytes, 3 rows
  SECTION("bytes, before parsing") {
    CHECK(ReadOk(text, {.max_bytes = 17, .max_rows = 3}).rows() == 3);
    CHECK(Problems(text, {.max_bytes = 16, .max_rows = 3}) ==
          Names{"17 bytes, over max_data_bytes (16)"});
    CHECK(Problems("a,\"", {.max_bytes = 2, .max_rows = 3}) ==
          Names{"3 bytes, over max_data_bytes (2)"});
  }
  SECTION("rows, where the first row too many starts") {
    CHECK(Problems(text, {.max_bytes = 20, .max_rows = 2}) ==
          Names{"over max_data_rows (2) at row 3 (line 5)"});
    CHECK(Problems(text, {.max_bytes = 20, .max_rows = 0}) ==
          Names{"over max_data_rows (0) at row 1 (line 2)"});
    CHECK(ReadOk("a,b\n", {.max_bytes = 20, .max_rows = 0}).rows() == 0);
    // Parsing stops there: a quoting problem after it is not seen.
    CHECK(Problems("a\n1\n2\n\"3\n", {.max_bytes = 20, .max_rows = 1}) ==
          Names{"over max_data_rows (1) at row 2 (line 3)"});
  }
}

TEST_CASE("csv: problems are appended to the caller's list", "[unit]") {
  std::vector<std::string> problems = {"an earlier problem"};
  auto table = ReadCsv("a,a\n", kRoomy, &problems);
  REQUIRE_FALSE(table.ok());
  CHECK(table.message() == "column 2 (\"a\"): duplicate name (also column 1)");
  CHECK(problems ==
        Names{"an earlier problem", "column 2 (\"a\"): duplicate name (also column 1)"});
}

TEST_CASE("csv: long names are cut in problems", "[unit]") {
  std::string name(100, 'n');
  CHECK(Problems(name + "," + name + "\n") ==
        Names{fmt::format("column 2 (\"{}...\"): duplicate name (also column 1)",
                          std::string(60, 'n'))});
}

TEST_CASE("csv: hostile inputs", "[unit]") {
  SECTION("a 1 MB field, unquoted and quoted") {
    std::string big(1 << 20, 'x');
    std::string quoted_big = big;
    for (size_t i = 0; i < quoted_big.size(); i += 1000) quoted_big[i] = i % 3000 ? ',' : '\n';
    DataTable table = ReadOk("a,b\n" + big + ",\"" + quoted_big + "\"\n1,2\n");
    REQUIRE(table.rows() == 2);
    CHECK(table.At(0, 0).text == big);
    CHECK(table.At(0, 1).text == quoted_big);
    CHECK(table.At(1, 1).text == "2");
  }
  SECTION("100,000 columns in one header") {
    std::string header;
    std::string row;
    for (int i = 0; i < 100'000; ++i) {
      header += fmt::format("{}c{}", i ? "," : "", i);
      row += fmt::format("{}{}", i ? "," : "", i);
    }
    DataTable table = ReadOk(header + "\n" + row + "\n");
    REQUIRE(table.columns().size() == 100'000);
    CHECK(table.ColumnIndex("c77777") == 77'777u);
    CHECK(table.At(0, 77'777).text == "77777");
  }
  SECTION("100,000 empty names make six problems") {
    std::string header(99'999, ',');
    std::vector<std::string> problems = Problems(header + "\n");
    CHECK(problems.size() == 6);
    CHECK(problems.back() == "and 99995 more columns with an empty or duplicate name");
  }
  SECTION("many short rows") {
    std::string text = "a\n";
    for (int i = 0; i < 200'000; ++i) text += i % 2 ? "x\n" : "y\r\n";
    DataTable table = ReadOk(text);
    REQUIRE(table.rows() == 200'000);
    CHECK(table.At(199'999, 0).text == "x");
  }
  SECTION("many rows of the wrong length make six problems") {
    std::string text = "a,b\n";
    for (int i = 0; i < 100'000; ++i) text += "1\n";
    std::vector<std::string> problems = Problems(text);
    CHECK(problems.size() == 6);
    CHECK(problems.back() == "and 99995 more rows of the wrong length");
  }
  SECTION("a text of lone CRs is read in one pass") {
    std::string text = "a";
    for (int i = 0; i < 200'000; ++i) text += "\rx";
    CHECK(ReadOk(text).rows() == 200'000);
  }
  SECTION("a lone quote after a BOM, quotes only, commas only") {
    CHECK(Problems("\xEF\xBB\xBF\"").size() == 1);
    CHECK(CellsOf(ReadOk("\"\"\"\"\n\"\"\"\"\"\"\n")) == Rows{{"\"\""}});
    CHECK(Problems(",\n,\n,\n") == Names{"column 1: empty name", "column 2: empty name"});
  }
}
