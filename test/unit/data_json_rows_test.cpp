// SPDX-License-Identifier: Apache-2.0
// ReadJsonRows: values keep their JSON types (strings, integers, other numbers, true,
// false, null, nested arrays and objects as compact JSON), cells outlive the request, and
// every problem text: the columns, rows that are not arrays or of the wrong length, the
// limits.
#include <catch2/catch.hpp>

#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "ops/data/json_rows_reader.h"

using testrund::ops::CellType;
using testrund::ops::DataLimits;
using testrund::ops::DataTable;
using testrund::ops::ReadJsonRows;

namespace {

constexpr DataLimits kRoomy{.max_bytes = 1u << 30, .max_rows = 10'000'000};

using Names = std::vector<std::string>;

// `json` is {"columns": ..., "rows": ...}; a member left out is passed as null.
struct Data {
  explicit Data(std::string_view json) {
    doc.Parse(json.data(), json.size());
    REQUIRE_FALSE(doc.HasParseError());
  }
  const rapidjson::Value& Member(const char* name) const {
    static const rapidjson::Value kNull;
    auto it = doc.FindMember(name);
    return it == doc.MemberEnd() ? kNull : it->value;
  }
  const rapidjson::Value& columns() const { return Member("columns"); }
  const rapidjson::Value& rows() const { return Member("rows"); }
  rapidjson::Document doc;
};

DataTable ReadOk(std::string_view json, DataLimits limits = kRoomy) {
  Data data(json);
  std::vector<std::string> problems;
  auto table = ReadJsonRows(data.columns(), data.rows(), limits, &problems);
  INFO(fmt::format("problems: {}", fmt::join(problems, " | ")));
  REQUIRE(table.ok());
  REQUIRE(problems.empty());
  return std::move(table).value();
}

std::vector<std::string> Problems(std::string_view json, DataLimits limits = kRoomy) {
  Data data(json);
  std::vector<std::string> problems;
  auto table = ReadJsonRows(data.columns(), data.rows(), limits, &problems);
  REQUIRE_FALSE(table.ok());
  REQUIRE_FALSE(problems.empty());
  CHECK(table.message() == fmt::format("{}", fmt::join(problems, "; ")));
  return problems;
}

}  // namespace

TEST_CASE("json rows: columns and rows of strings", "[unit]") {
  DataTable table = ReadOk(R"({"columns": ["msisdn", "imsi"],
      "rows": [["447700900001", "234150000000001"], ["447700900002", ""]]})");
  CHECK(table.columns() == Names{"msisdn", "imsi"});
  REQUIRE(table.rows() == 2);
  CHECK(table.At(0, 0).type == CellType::kString);
  CHECK(table.At(0, 1).text == "234150000000001");
  CHECK(table.At(1, 0).text == "447700900002");
  CHECK(table.At(1, 1).text == "");
  CHECK(table.ColumnIndex("imsi") == 1u);
}

TEST_CASE("json rows: values keep their JSON types", "[unit]") {
  DataTable table = ReadOk(R"({"columns": ["v"], "rows": [
      ["x"], [42], [-7], [9223372036854775807], [18446744073709551615], [0.5], [2.0], [1e300],
      [-0.0], [true], [false], [null], [[1, "a", {"b": null}]], [{"k": [true], "n": 1.5}],
      [[]], [{}], ["a\u0000b"]]})");
  struct Expected {
    CellType type;
    std::string_view text;
  };
  const std::vector<Expected> expected = {
      {CellType::kString, "x"},
      {CellType::kInteger, "42"},
      {CellType::kInteger, "-7"},
      {CellType::kInteger, "9223372036854775807"},
      {CellType::kNumber, "18446744073709551615"},  // beyond int64: a number, as in Lua
      {CellType::kNumber, "0.5"},
      {CellType::kNumber, "2.0"},
      {CellType::kNumber, "1e+300"},
      {CellType::kNumber, "-0.0"},
      {CellType::kTrue, ""},
      {CellType::kFalse, ""},
      {CellType::kNull, ""},
      {CellType::kJson, R"([1,"a",{"b":null}])"},
      {CellType::kJson, R"({"k":[true],"n":1.5})"},
      {CellType::kJson, "[]"},
      {CellType::kJson, "{}"},
      {CellType::kString, std::string_view("a\0b", 3)},
  };
  REQUIRE(table.rows() == expected.size());
  for (size_t r = 0; r < expected.size(); ++r) {
    CAPTURE(r);
    CHECK(table.At(r, 0).type == expected[r].type);
    CHECK(table.At(r, 0).text == expected[r].text);
  }
  SECTION("number texts convert with from_chars") {
    std::string_view integer = table.At(3, 0).text;
    int64_t i = 0;
    CHECK(std::from_chars(integer.data(), integer.data() + integer.size(), i).ec == std::errc());
    CHECK(i == INT64_MAX);
    for (size_t r : {4, 5, 6, 7, 8}) {
      std::string_view number = table.At(r, 0).text;
      double d = 0;
      CHECK(std::from_chars(number.data(), number.data() + number.size(), d).ec == std::errc());
    }
  }
}

TEST_CASE("json rows: a number beyond the doubles is infinity", "[unit]") {
  // RapidJSON reads such a number as infinity; JSON has no way to write it.
  rapidjson::Document doc;
  auto& a = doc.GetAllocator();
  rapidjson::Value columns(rapidjson::kArrayType);
  columns.PushBack("x", a);
  rapidjson::Value rows(rapidjson::kArrayType);
  for (double d : {HUGE_VAL, -HUGE_VAL}) {
    rapidjson::Value nested(rapidjson::kArrayType);
    nested.PushBack(d, a);
    rapidjson::Value row(rapidjson::kArrayType);
    row.PushBack(d, a);
    rows.PushBack(row, a);
    rapidjson::Value nested_row(rapidjson::kArrayType);
    nested_row.PushBack(nested, a);
    rows.PushBack(nested_row, a);
  }
  std::vector<std::string> problems;
  auto table = ReadJsonRows(columns, rows, kRoomy, &problems);
  REQUIRE(table.ok());
  CHECK(table->At(0, 0).type == CellType::kNumber);
  CHECK(table->At(0, 0).text == "inf");
  CHECK(table->At(1, 0).text == "[null]");
  CHECK(table->At(2, 0).text == "-inf");
  double d = 0;
  std::string_view text = table->At(2, 0).text;
  CHECK(std::from_chars(text.data(), text.data() + text.size(), d).ec == std::errc());
  CHECK(d == -HUGE_VAL);
}

TEST_CASE("json rows: a column of mixed types", "[unit]") {
  DataTable table =
      ReadOk(R"({"columns": ["a", "b"], "rows": [["s", 1], ["t", 2], [3, "u"], [null, 4]]})");
  CHECK(table.At(0, 0).type == CellType::kString);
  CHECK(table.At(1, 0).type == CellType::kString);
  CHECK(table.At(2, 0).type == CellType::kInteger);
  CHECK(table.At(2, 0).text == "3");
  CHECK(table.At(3, 0).type == CellType::kNull);
  CHECK(table.At(2, 1).type == CellType::kString);
  CHECK(table.At(3, 1).text == "4");
}

TEST_CASE("json rows: the cells outlive the request", "[unit]") {
  std::optional<DataTable> table;
  {
    Data data(R"({"columns": ["a"], "rows": [["a string longer than any small buffer"]]})");
    std::vector<std::string> problems;
    auto read = ReadJsonRows(data.columns(), data.rows(), kRoomy, &problems);
    REQUIRE(read.ok());
    table.emplace(std::move(read).value());
  }
  CHECK(table->At(0, 0).text == "a string longer than any small buffer");
  CHECK(table->columns() == Names{"a"});
}

TEST_CASE("json rows: no rows is a table of 0 rows", "[unit]") {
  DataTable table = ReadOk(R"({"columns": ["a", "b"], "rows": []})");
  CHECK(table.rows() == 0);
  CHECK(table.columns().size() == 2);
}

TEST_CASE("json rows: the columns", "[unit]") {
  CHECK(Problems(R"({"columns": 5, "rows": []})") ==
        Names{"columns: must be a non-empty array, got 5"});
  CHECK(Problems(R"({"columns": [], "rows": []})") ==
        Names{"columns: must be a non-empty array, got an empty array"});
  CHECK(Problems(R"({"rows": []})") == Names{"columns: must be a non-empty array, got null"});
  CHECK(Problems(R"({"columns": [12, "a", ""], "rows": []})") ==
        Names{"columns[0]: must be a non-empty string, got 12",
              "columns[2]: must be a non-empty string, got \"\""});
  CHECK(Problems(R"({"columns": ["msisdn", "imsi", "imsi"], "rows": []})") ==
        Names{"columns[2]: duplicate name \"imsi\" (also columns[1])"});
  CHECK(Problems(R"({"columns": ["a", null, "a", ["x"], "a", "a", "a"], "rows": []})") ==
        Names{"columns[1]: must be a non-empty string, got null",
              "columns[2]: duplicate name \"a\" (also columns[0])",
              "columns[3]: must be a non-empty string, got an array",
              "columns[4]: duplicate name \"a\" (also columns[0])",
              "columns[5]: duplicate name \"a\" (also columns[0])",
              "and 1 more column with a wrong or duplicate name"});
}

TEST_CASE("json rows: the rows", "[unit]") {
  CHECK(Problems(R"({"columns": ["a"], "rows": "x"})") ==
        Names{"rows: must be an array, got \"x\""});
  CHECK(Problems(R"({"columns": ["a"]})") == Names{"rows: must be an array, got null"});
  CHECK(Problems(R"({"columns": ["a"], "rows": [["1"], "x", {"a": 1}]})") ==
        Names{"row 2 (rows[1]): must be an array, got \"x\"",
              "row 3 (rows[2]): must be an array, got an object"});
  CHECK(Problems(R"({"columns": ["a", "b"], "rows": [[1,2],[1,2],[1,2],[3,4],[1,2,3]]})") ==
        Names{"row 5 (rows[4]): 3 values, columns has 2"});
  CHECK(Problems(R"({"columns": ["a", "b"], "rows": [[1]]})") ==
        Names{"row 1 (rows[0]): 1 value, columns has 2"});
  SECTION("five of a kind, then the rest counted") {
    std::string rows;
    for (int i = 0; i < 8; ++i) rows += R"([1], 0, )";
    Names problems =
        Problems(fmt::format(R"({{"columns": ["a", "b"], "rows": [{}[1, 2]]}})", rows));
    const Names expected = {
        "row 1 (rows[0]): 1 value, columns has 2",
        "row 2 (rows[1]): must be an array, got 0",
        "row 3 (rows[2]): 1 value, columns has 2",
        "row 4 (rows[3]): must be an array, got 0",
        "row 5 (rows[4]): 1 value, columns has 2",
        "row 6 (rows[5]): must be an array, got 0",
        "row 7 (rows[6]): 1 value, columns has 2",
        "row 8 (rows[7]): must be an array, got 0",
        "row 9 (rows[8]): 1 value, columns has 2",
        "row 10 (rows[9]): must be an array, got 0",
        "and 3 more rows that are not arrays",
        "and 3 more rows of the wrong length",
    };
    CHECK(problems == expected);
  }
  SECTION("with bad columns, the rows are still checked") {
    CHECK(Problems(R"({"columns": ["a", "a"], "rows": [[1]]})") ==
          Names{"columns[1]: duplicate name \"a\" (also columns[0])",
                "row 1 (rows[0]): 1 value, columns has 2"});
  }
}

TEST_CASE("json rows: limits", "[unit]") {
  const std::string json = R"({"columns": ["a", "b"], "rows": [["abc", 12], [true, [1]]]})";
  SECTION("rows, before reading them") {
    CHECK(ReadOk(json, {.max_bytes = 100, .max_rows = 2}).rows() == 2);
    CHECK(Problems(json, {.max_bytes = 100, .max_rows = 1}) ==
          Names{"rows: 2 rows, over max_data_rows (1)"});
  }
  SECTION("the stored bytes: strings, number and JSON texts") {
    CHECK(ReadOk(json, {.max_bytes = 8, .max_rows = 2}).rows() == 2);  // abc 12 [1]
    CHECK(Problems(json, {.max_bytes = 7, .max_rows = 2}) ==
          Names{"over max_data_bytes (7) at row 2 (rows[1])"});
    CHECK(Problems(json, {.max_bytes = 4, .max_rows = 2}) ==
          Names{"over max_data_bytes (4) at row 1 (rows[0])"});
  }
}
