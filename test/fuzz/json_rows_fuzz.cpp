// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the JSON rows reader of ExecuteTest's data (ops/data/json_rows_reader).
// The input is a JSON document; its `columns` and `rows` members (null when absent, or when
// the document is not an object) are read with small limits (100 rows, 4096 bytes).
// Documents the rpc layer refuses are passed over: nested deeper than 64 levels, or with a
// string that is not strict UTF-8.
// Oracles: no crash, leak or sanitizer report; an error comes with problems and a table
// with none; at most 6 problems of each capped kind plus one that stops the reading; an
// accepted table has the columns' names and one row per element of `rows`, each cell the
// type of its JSON value with its text: the string itself, an integer's decimal digits,
// a number that from_chars reads back as the same double, JSON text that parses back to
// an equal value, nothing for true, false and null; its stored bytes within the limit.
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/utf8.h"
#include "ops/data/json_rows_reader.h"

namespace {

using namespace testrund;

constexpr ops::DataLimits kLimits{.max_bytes = 4096, .max_rows = 100};
constexpr int kMaxDepth = 64;
// Column names (5 and a count), rows not arrays and of the wrong length (5 and a count
// each), and one more (a limit, or `columns` or `rows` not an array).
constexpr size_t kMaxProblems = 19;

[[noreturn]] void Fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "fuzz oracle: %s: %.*s\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

// Whether brackets nest deeper than `limit` (counting those inside strings too: a bound).
bool TooDeep(std::string_view text, int limit) {
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

bool IsUtf8(const rapidjson::Value& s) {
  return ops::ValidUtf8Prefix(std::string_view(s.GetString(), s.GetStringLength())) ==
         s.GetStringLength();
}

// Every string and member name in `v` is strict UTF-8 (what the rpc layer's parse promises).
bool AllUtf8(const rapidjson::Value& v) {
  if (v.IsString()) return IsUtf8(v);
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if (!AllUtf8(e)) return false;
    }
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (!IsUtf8(m.name) || !AllUtf8(m.value)) return false;
    }
  }
  return true;
}

bool SameNumber(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsDouble() || b.IsDouble())
    return a.IsDouble() && b.IsDouble() && a.GetDouble() == b.GetDouble();
  if (a.IsInt64() != b.IsInt64()) return false;
  return a.IsInt64() ? a.GetInt64() == b.GetInt64() : a.GetUint64() == b.GetUint64();
}

// Whether `a`, parsed from a cell, is the JSON `b`, members in order (RapidJSON's == finds members by
// name, which an object with a name twice defeats).
bool SameJson(const rapidjson::Value& a, const rapidjson::Value& b) {
  // An infinity (a number beyond the doubles) is written null.
  if (b.IsDouble() && std::isinf(b.GetDouble())) return a.IsNull();
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kNumberType:
      return SameNumber(a, b);
    case rapidjson::kStringType:
      return std::string_view(a.GetString(), a.GetStringLength()) ==
             std::string_view(b.GetString(), b.GetStringLength());
    case rapidjson::kArrayType:
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!SameJson(a[i], b[i])) return false;
      }
      return true;
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount()) return false;
      for (auto x = a.MemberBegin(), y = b.MemberBegin(); x != a.MemberEnd(); ++x, ++y) {
        if (!SameJson(x->name, y->name) || !SameJson(x->value, y->value)) return false;
      }
      return true;
    }
    default:
      return true;  // null, false, true: the type says it all
  }
}

void CheckCell(ops::Cell cell, const rapidjson::Value& value, std::string_view text) {
  switch (cell.type) {
    case ops::CellType::kString:
      if (!value.IsString() ||
          cell.text != std::string_view(value.GetString(), value.GetStringLength())) {
        Fail("a string cell differs from its value", text);
      }
      return;
    case ops::CellType::kInteger: {
      if (value.IsDouble() || !value.IsInt64()) Fail("an integer cell of no integer", text);
      if (cell.text != std::to_string(value.GetInt64())) Fail("an integer's text", text);
      return;
    }
    case ops::CellType::kNumber: {
      double read = 0;
      auto [end, ec] = std::from_chars(cell.text.data(), cell.text.data() + cell.text.size(), read);
      if (!value.IsNumber() || ec != std::errc() || end != cell.text.data() + cell.text.size() ||
          read != value.GetDouble()) {
        Fail("a number cell does not read back", text);
      }
      return;
    }
    case ops::CellType::kJson: {
      // Full precision: the text holds each double in its shortest round-trip form, which
      // RapidJSON's default parse may read back one ulp off.
      rapidjson::Document parsed;
      parsed.Parse<rapidjson::kParseFullPrecisionFlag>(cell.text.data(), cell.text.size());
      if (parsed.HasParseError() || !(value.IsArray() || value.IsObject()) ||
          !SameJson(parsed, value)) {
        Fail("a JSON cell does not parse back to its value", text);
      }
      return;
    }
    case ops::CellType::kTrue:
    case ops::CellType::kFalse:
    case ops::CellType::kNull: {
      bool matches = (cell.type == ops::CellType::kTrue && value.IsTrue()) ||
                     (cell.type == ops::CellType::kFalse && value.IsFalse()) ||
                     (cell.type == ops::CellType::kNull && value.IsNull());
      if (!matches || !cell.text.empty()) Fail("a literal cell differs from its value", text);
      return;
    }
  }
  Fail("a cell of no known type", text);
}

void CheckTable(const ops::DataTable& table, const rapidjson::Value& columns,
                const rapidjson::Value& rows, std::string_view text) {
  if (table.columns().size() != columns.Size()) Fail("a column count differs", text);
  for (rapidjson::SizeType c = 0; c < columns.Size(); ++c) {
    std::string_view name(columns[c].GetString(), columns[c].GetStringLength());
    if (table.columns()[c] != name) Fail("a name differs", text);
    if (table.ColumnIndex(table.columns()[c]) != c) Fail("ColumnIndex misses a name", text);
  }
  if (table.rows() != rows.Size()) Fail("a row count differs", text);
  size_t bytes = 0;
  for (rapidjson::SizeType r = 0; r < rows.Size(); ++r) {
    for (rapidjson::SizeType c = 0; c < columns.Size(); ++c) {
      ops::Cell cell = table.At(r, c);
      CheckCell(cell, rows[r][c], text);
      bytes += cell.text.size();
    }
  }
  if (bytes > kLimits.max_bytes) Fail("more bytes than max_bytes", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (TooDeep(text, kMaxDepth)) return 0;
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !AllUtf8(doc)) return 0;
  static const rapidjson::Value kNull;
  auto member = [&](const char* name) -> const rapidjson::Value& {
    if (!doc.IsObject()) return kNull;
    auto it = doc.FindMember(name);
    return it == doc.MemberEnd() ? kNull : it->value;
  };
  const rapidjson::Value& columns = member("columns");
  const rapidjson::Value& rows = member("rows");
  std::vector<std::string> problems;
  auto table = ops::ReadJsonRows(columns, rows, kLimits, &problems);
  if (table.ok() != problems.empty()) Fail("ok and problems disagree", text);
  if (!table.ok()) {
    if (table.message().empty()) Fail("an error without a message", text);
    if (problems.size() > kMaxProblems) Fail("too many problems", table.message());
    return 0;
  }
  CheckTable(*table, columns, rows, text);
  return 0;
}
