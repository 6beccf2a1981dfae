// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the CSV reader of ExecuteTest's data (ops/data/csv_reader, libcsv).
// The input is the CSV text, read with small limits (100 rows) so that the row limit is
// reached too. A table that is accepted is written back as CSV (every field quoted, its
// quotes doubled, CRLF line ends) and read again.
// Oracles: no crash, leak or sanitizer report; an error comes with problems and a table
// with none; at most 6 problems of each capped kind plus one that stops the parsing; an
// accepted table has distinct non-empty names that ColumnIndex finds, at most 100 rows,
// only strings, no more cell bytes than the text, and reads back the same from its own
// CSV.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ops/data/csv_reader.h"

namespace {

using namespace testrund;

constexpr ops::DataLimits kLimits{.max_bytes = 1u << 20, .max_rows = 100};
constexpr ops::DataLimits kRoomy{.max_bytes = 1u << 30, .max_rows = 1u << 20};
// Header names (5 and a count), wrong lengths (5 and a count), one that stops the parse.
constexpr size_t kMaxProblems = 13;

[[noreturn]] void Fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "fuzz oracle: %s: %.*s\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

// `text` as one quoted CSV field: "a""b".
void AppendQuoted(std::string_view text, std::string* out) {
  out->push_back('"');
  for (char c : text) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

std::string WriteCsv(const ops::DataTable& table) {
  std::string out;
  const size_t columns = table.columns().size();
  for (size_t c = 0; c < columns; ++c) {
    if (c > 0) out.push_back(',');
    AppendQuoted(table.columns()[c], &out);
  }
  out += "\r\n";
  for (size_t r = 0; r < table.rows(); ++r) {
    for (size_t c = 0; c < columns; ++c) {
      if (c > 0) out.push_back(',');
      AppendQuoted(table.At(r, c).text, &out);
    }
    out += "\r\n";
  }
  return out;
}

void CheckTable(const ops::DataTable& table, std::string_view text) {
  const size_t columns = table.columns().size();
  if (columns == 0) Fail("a table without columns", text);
  if (table.rows() > kLimits.max_rows) Fail("more rows than max_rows", text);
  for (size_t c = 0; c < columns; ++c) {
    if (table.columns()[c].empty()) Fail("an empty name", text);
    if (table.ColumnIndex(table.columns()[c]) != c) Fail("ColumnIndex misses a name", text);
  }
  size_t bytes = 0;
  for (size_t r = 0; r < table.rows(); ++r) {
    for (size_t c = 0; c < columns; ++c) {
      ops::Cell cell = table.At(r, c);
      if (cell.type != ops::CellType::kString) Fail("a CSV cell that is not a string", text);
      bytes += cell.text.size();
    }
  }
  if (bytes > text.size()) Fail("more cell bytes than the text", text);
}

void CheckRoundTrip(const ops::DataTable& table, std::string_view text) {
  std::string written = WriteCsv(table);
  std::vector<std::string> problems;
  auto again = ops::ReadCsv(written, kRoomy, &problems);
  if (!again.ok()) Fail("a table's own CSV is refused", again.message());
  if (again->columns() != table.columns()) Fail("names differ after a round trip", text);
  if (again->rows() != table.rows()) Fail("rows differ after a round trip", text);
  for (size_t r = 0; r < table.rows(); ++r) {
    for (size_t c = 0; c < table.columns().size(); ++c) {
      if (again->At(r, c).text != table.At(r, c).text) Fail("a cell differs", text);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> problems;
  auto table = ops::ReadCsv(text, kLimits, &problems);
  if (table.ok() != problems.empty()) Fail("ok and problems disagree", text);
  if (!table.ok()) {
    if (table.message().empty()) Fail("an error without a message", text);
    if (problems.size() > kMaxProblems) Fail("too many problems", table.message());
    for (const std::string& problem : problems) {
      if (problem.empty()) Fail("an empty problem", text);
    }
    return 0;
  }
  CheckTable(*table, text);
  CheckRoundTrip(*table, text);
  return 0;
}
