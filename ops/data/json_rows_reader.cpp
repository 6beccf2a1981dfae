// SPDX-License-Identifier: Apache-2.0
// ReadJsonRows (see json_rows_reader.h): the column names, then the rows' shapes, then
// their cells. Once a problem is found cells are no longer stored, but every row is still
// checked, so that one answer lists what is wrong.
#include "ops/data/json_rows_reader.h"

#include <cmath>
#include <iterator>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "ops/base/json_writer.h"
#include "ops/base/problem.h"
#include "ops/data/reader_problems.h"

namespace testrund::ops {
namespace {

std::string_view StringOf(const rapidjson::Value& value) {
  return std::string_view(value.GetString(), value.GetStringLength());
}

// The cell `value` becomes; a text that has to be written goes to `scratch`.
Cell CellOf(const rapidjson::Value& value, std::string* scratch) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return Cell{CellType::kNull, {}};
    case rapidjson::kFalseType:
      return Cell{CellType::kFalse, {}};
    case rapidjson::kTrueType:
      return Cell{CellType::kTrue, {}};
    case rapidjson::kStringType:
      return Cell{CellType::kString, StringOf(value)};
    case rapidjson::kNumberType:
      // Written without fraction or exponent and within int64: an integer (as Lua sees it).
      if (!value.IsDouble() && value.IsInt64()) {
        scratch->clear();
        fmt::format_to(std::back_inserter(*scratch), "{}", value.GetInt64());
        return Cell{CellType::kInteger, *scratch};
      }
      // RapidJSON reads a number beyond the doubles as infinity: "inf" to from_chars.
      if (value.IsDouble() && std::isinf(value.GetDouble())) {
        *scratch = value.GetDouble() > 0 ? "inf" : "-inf";
      } else {
        *scratch = JsonText(value);
      }
      return Cell{CellType::kNumber, *scratch};
    case rapidjson::kArrayType:
    case rapidjson::kObjectType:
      *scratch = JsonText(value);
      return Cell{CellType::kJson, *scratch};
  }
  return Cell{CellType::kNull, {}};
}

// The column names, or nullopt after recording why they are wrong.
std::optional<std::vector<std::string>> ReadColumns(const rapidjson::Value& columns,
                                                    std::vector<std::string>* problems) {
  if (!columns.IsArray() || columns.Empty()) {
    problems->push_back(
        fmt::format("columns: must be a non-empty array, got {}", QuoteValue(columns)));
    return std::nullopt;
  }
  const size_t before = problems->size();
  CappedProblems bad(problems, "column", "with a wrong or duplicate name");
  std::unordered_map<std::string_view, rapidjson::SizeType> first_of;
  std::vector<std::string> names;
  names.reserve(columns.Size());
  for (rapidjson::SizeType i = 0; i < columns.Size(); ++i) {
    const rapidjson::Value& column = columns[i];
    if (!column.IsString() || column.GetStringLength() == 0) {
      bad.Add([&] {
        return fmt::format("columns[{}]: must be a non-empty string, got {}", i,
                           QuoteValue(column));
      });
      continue;
    }
    std::string_view name = StringOf(column);
    auto first = first_of.emplace(name, i).first;
    if (first->second != i) {
      bad.Add([&] {
        return fmt::format("columns[{}]: duplicate name {} (also columns[{}])", i, QuoteText(name),
                           first->second);
      });
    }
    names.emplace_back(name);
  }
  bad.Finish();
  if (problems->size() > before) return std::nullopt;
  return names;
}

class RowsReader {
 public:
  RowsReader(const DataLimits& limits, std::vector<std::string>* problems)
      : limits_(limits),
        problems_(problems),
        first_problem_(problems->size()),
        not_arrays_(problems, "row", "that are not arrays"),
        wrong_length_(problems, "row", "of the wrong length") {}

  Result<DataTable> Read(const rapidjson::Value& columns, const rapidjson::Value& rows) {
    std::optional<std::vector<std::string>> names = ReadColumns(columns, problems_);
    if (names) builder_.emplace(std::move(*names));
    if (!rows.IsArray()) {
      problems_->push_back(fmt::format("rows: must be an array, got {}", QuoteValue(rows)));
    } else if (rows.Size() > limits_.max_rows) {
      problems_->push_back(
          fmt::format("rows: {} rows, over max_data_rows ({})", rows.Size(), limits_.max_rows));
    } else if (columns.IsArray() && !columns.Empty()) {
      ReadRows(rows, columns.Size());
    }
    if (problems_->size() > first_problem_) return ProblemsError(*problems_, first_problem_);
    return std::move(*builder_).Finish();
  }

 private:
  void ReadRows(const rapidjson::Value& rows, size_t columns) {
    for (rapidjson::SizeType r = 0; r < rows.Size(); ++r) {
      const rapidjson::Value& row = rows[r];
      if (!row.IsArray()) {
        not_arrays_.Add([&] {
          return fmt::format("row {} (rows[{}]): must be an array, got {}", r + 1, r,
                             QuoteValue(row));
        });
      } else if (row.Size() != columns) {
        wrong_length_.Add([&] {
          return fmt::format("row {} (rows[{}]): {}, columns has {}", r + 1, r,
                             Counted(row.Size(), "value"), columns);
        });
      } else if (problems_->size() == first_problem_ && !AddRow(row, r)) {
        return;
      }
    }
    not_arrays_.Finish();
    wrong_length_.Finish();
  }

  // Stores the cells of rows[r]. False after recording a limit's problem.
  bool AddRow(const rapidjson::Value& row, rapidjson::SizeType r) {
    for (const rapidjson::Value& value : row.GetArray()) {
      Cell cell = CellOf(value, &scratch_);
      if (builder_->bytes() + cell.text.size() > limits_.max_bytes) {
        problems_->push_back(fmt::format("over max_data_bytes ({}) at row {} (rows[{}])",
                                         limits_.max_bytes, r + 1, r));
        return false;
      }
      Status added = builder_->Add(cell.type, cell.text);
      if (!added.ok()) {
        problems_->push_back(fmt::format("row {} (rows[{}]): {}", r + 1, r, added.message()));
        return false;
      }
    }
    builder_->EndRow();
    return true;
  }

  const DataLimits& limits_;
  std::vector<std::string>* problems_;
  const size_t first_problem_;
  CappedProblems not_arrays_;
  CappedProblems wrong_length_;
  std::optional<DataTableBuilder> builder_;
  std::string scratch_;  // the text of a number or nested value being stored
};

}  // namespace

Result<DataTable> ReadJsonRows(const rapidjson::Value& columns, const rapidjson::Value& rows,
                               const DataLimits& limits, std::vector<std::string>* problems) {
  return RowsReader(limits, problems).Read(columns, rows);
}

}  // namespace testrund::ops
