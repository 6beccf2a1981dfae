// SPDX-License-Identifier: Apache-2.0
// ReadCsv: ExecuteTest's `data` given as CSV text (`{"csv": ...}` or `{"file": ...}`) ->
// a DataTable of strings. The parsing is libcsv's (strict mode), the rest is ours: line
// numbers, the header, limits and the problem texts.
//
// The format is RFC 4180's: fields separated by commas; a field with a comma, a quote or a
// line break is quoted whole ("a,b"), a quote inside doubled ("say ""hi"""); rows end with
// CRLF or LF (a lone CR also ends a row), the last one may end without. The first row is
// the header: the column names, non-empty and distinct. Beyond RFC 4180:
//   - a UTF-8 byte order mark at the start is skipped;
//   - blank lines are skipped, anywhere (libcsv's rule): so a one-column CSV cannot hold an
//     empty value except as "" (quoted);
//   - spaces and tabs are part of the field, at its start and end too (" a " is " a ");
//   - every value is a string; an empty field is "".
// A header with no rows after it is a valid table of 0 rows (the caller decides).
//
// Problems, appended to `problems` as plain sentences (the caller adds the field name).
// Rows are counted from 1 after the header; lines from 1 at the start of the text (LF ends
// a line; a row's line is the one it starts on); columns from 1:
//   "no header line"
//   "column 2: empty name"
//   "column 3 (\"imsi\"): duplicate name (also column 2)"
//   "row 3 (line 4): 3 fields, the header has 2"   (5 such rows at most, then
//   "and 7 more rows of the wrong length")
//   "row 7 (line 9), column 2 (\"imsi\"): a quote inside an unquoted field"
//   "row 7 (line 9), column 2 (\"imsi\"): text after the closing quote of a quoted field"
//   "row 7 (line 9), column 2 (\"imsi\"): the quoted field opened on line 9 is not closed
//    at the end of the text"
//   (the header's own quoting problems name "the header (line 1)" instead of a row; when a
//   quoting problem is on a later line than its row's start, ", on line 11" is added)
//   "41943040 bytes, over max_data_bytes (1048576)"   (checked before parsing)
//   "over max_data_rows (1000) at row 1001 (line 1002)"
// A quoting problem or a limit stops the parsing; the others are all collected (header
// names also at most 5, then "and N more columns with an empty or duplicate name").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ops/base/status.h"
#include "ops/data/data_limits.h"
#include "ops/data/data_table.h"

namespace testrund::ops {

// The table of `text`, or an error (its message: the problems joined by "; ") after
// appending every problem to `problems` (not null).
Result<DataTable> ReadCsv(std::string_view text, const DataLimits& limits,
                          std::vector<std::string>* problems);

}  // namespace testrund::ops
