// SPDX-License-Identifier: Apache-2.0
// DataTable and DataTableBuilder (see data_table.h): the column store, its lookups and how
// it grows. Offsets and types are made only when a column needs them: the first cell of
// another length makes the offsets of the cells before it, the first cell that is not a
// string makes their types.
#include "ops/data/data_table.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "ops/base/check.h"

namespace testrund::ops {

std::string_view CellTypeName(CellType type) {
  switch (type) {
    case CellType::kString:
      return "string";
    case CellType::kInteger:
      return "integer";
    case CellType::kNumber:
      return "number";
    case CellType::kTrue:
      return "true";
    case CellType::kFalse:
      return "false";
    case CellType::kNull:
      return "null";
    case CellType::kJson:
      return "json";
  }
  return "?";
}

std::optional<size_t> DataTable::ColumnIndex(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [this](uint32_t index, std::string_view wanted) {
                               return std::string_view(names_[index]) < wanted;
                             });
  if (it == by_name_.end() || names_[*it] != name) return std::nullopt;
  return *it;
}

Cell DataTable::At(size_t row, size_t column) const {
  CHECK(row < rows_ && column < columns_.size());
  const Column& c = columns_[column];
  size_t begin;
  size_t end;
  if (c.ends.empty()) {
    begin = row * c.width;
    end = begin + c.width;
  } else {
    begin = row == 0 ? 0 : c.ends[row - 1];
    end = c.ends[row];
  }
  CellType type = c.types.empty() ? CellType::kString : c.types[row];
  return Cell{type, std::string_view(c.bytes.data() + begin, end - begin)};
}

size_t DataTable::memory_bytes() const {
  size_t n = sizeof(*this) + names_.capacity() * sizeof(std::string) +
             by_name_.capacity() * sizeof(uint32_t) + columns_.capacity() * sizeof(Column);
  for (const std::string& name : names_) {
    if (name.capacity() > std::string().capacity()) n += name.capacity() + 1;  // on the heap
  }
  for (const Column& c : columns_) {
    n += c.bytes.capacity() + c.ends.capacity() * sizeof(uint32_t) +
         c.types.capacity() * sizeof(CellType);
  }
  return n;
}

DataTableBuilder::DataTableBuilder(std::vector<std::string> names) {
  CHECK(!names.empty());
  table_.names_ = std::move(names);
  table_.columns_.resize(table_.names_.size());
}

Status DataTableBuilder::Add(CellType type, std::string_view text) {
  CHECK(next_column_ < table_.columns_.size());
  DataTable::Column& column = table_.columns_[next_column_];
  if (column.bytes.size() + text.size() >= DataTable::kMaxColumnBytes) {
    return Status::Error(fmt::format("column {} holds 4 GiB or more", next_column_ + 1));
  }
  Append(column, type, text);
  bytes_ += text.size();
  ++next_column_;
  return Status::Ok();
}

void DataTableBuilder::Append(DataTable::Column& column, CellType type, std::string_view text) {
  const size_t before = table_.rows_;  // cells already in this column
  if (before == 0) column.width = static_cast<uint32_t>(text.size());
  if (column.ends.empty() && text.size() != column.width) {
    column.ends.reserve(before + 1);
    for (size_t i = 1; i <= before; ++i) {
      column.ends.push_back(static_cast<uint32_t>(i * column.width));
    }
  }
  column.bytes.append(text);
  if (!column.ends.empty()) column.ends.push_back(static_cast<uint32_t>(column.bytes.size()));
  if (column.types.empty() && type != CellType::kString) {
    column.types.reserve(before + 1);
    column.types.resize(before, CellType::kString);
  }
  if (!column.types.empty() || type != CellType::kString) column.types.push_back(type);
}

void DataTableBuilder::EndRow() {
  CHECK(next_column_ == table_.columns_.size());
  next_column_ = 0;
  ++table_.rows_;
}

DataTable DataTableBuilder::Finish() && {
  CHECK(next_column_ == 0);
  for (DataTable::Column& c : table_.columns_) {
    c.bytes.shrink_to_fit();
    c.ends.shrink_to_fit();
    c.types.shrink_to_fit();
  }
  std::vector<uint32_t>& by_name = table_.by_name_;
  by_name.resize(table_.names_.size());
  for (uint32_t i = 0; i < by_name.size(); ++i) by_name[i] = i;
  // Stable: of two equal names the first column is found.
  std::stable_sort(by_name.begin(), by_name.end(),
                   [this](uint32_t a, uint32_t b) { return table_.names_[a] < table_.names_[b]; });
  return std::move(table_);
}

}  // namespace testrund::ops
