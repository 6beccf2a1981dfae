// SPDX-License-Identifier: Apache-2.0
// ReadJsonRows: ExecuteTest's `data` given as JSON (`{"columns": [...], "rows": [[...],
// ...]}`) -> a DataTable whose values keep their JSON types: strings, integers, other
// numbers, true, false, null, and nested arrays and objects (kept as compact JSON text).
// The cells are copied out of the request, which may then go. A number too large for a
// double (RapidJSON reads it as infinity) is a kNumber "inf" or "-inf"; inside a nested
// value it is written null, as every JSON output writes it (ops/base/json_writer.h).
//
// Problems, appended to `problems` as plain sentences (the caller adds the field name);
// rows are counted from 1 and also named by their index:
//   "columns: must be a non-empty array, got 5"
//   "columns[0]: must be a non-empty string, got 12"
//   "columns[2]: duplicate name \"imsi\" (also columns[1])"
//   (at most 5 column problems, then "and N more columns with a wrong or duplicate name")
//   "rows: must be an array, got \"x\""
//   "rows: 2000 rows, over max_data_rows (1000)"          (checked before reading them)
//   "row 2 (rows[1]): must be an array, got \"x\""        (at most 5, then
//   "and N more rows that are not arrays")
//   "row 5 (rows[4]): 3 values, columns has 2"            (at most 5, then
//   "and N more rows of the wrong length")
//   "over max_data_bytes (1048576) at row 9 (rows[8])"    (stored cell bytes; stops there)
// An empty `rows` is a valid table of 0 rows (the caller decides).
#pragma once

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/status.h"
#include "ops/data/data_limits.h"
#include "ops/data/data_table.h"

namespace testrund::ops {

// The table of `columns` and `rows`, or an error (its message: the problems joined by
// "; ") after appending every problem to `problems` (not null).
Result<DataTable> ReadJsonRows(const rapidjson::Value& columns, const rapidjson::Value& rows,
                               const DataLimits& limits, std::vector<std::string>* problems);

}  // namespace testrund::ops
