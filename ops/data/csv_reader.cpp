// SPDX-License-Identifier: Apache-2.0
// ReadCsv (see csv_reader.h). libcsv parses; we feed it the text one segment at a time, a
// segment ending at the first CR or LF, so that we always know the line being parsed: a
// row can only end at the end of a segment (libcsv ends rows at CR and LF only), and a
// row starts with the first segment after it that is not a bare line end (blank lines are
// all libcsv skips: with our space function every other byte starts a field). Cells go
// straight from libcsv's field buffer into the table's columns.
#include "ops/data/csv_reader.h"

#include <csv.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "ops/base/problem.h"
#include "ops/data/reader_problems.h"

namespace testrund::ops {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
// Strict: a quote inside an unquoted field, text after a closing quote and a quoted field
// still open at the end are errors, not guesses.
constexpr unsigned char kCsvOptions = CSV_STRICT | CSV_STRICT_FINI;
constexpr size_t kMinBlockBytes = 4096;
constexpr size_t kBlocksPerText = 16;

// libcsv trims spaces and tabs around unquoted fields by default; nothing is a space here,
// so they stay part of the field as RFC 4180 says.
int NothingIsSpace(unsigned char) { return 0; }

// libcsv's parser, freed with it.
class CsvParser {
 public:
  // libcsv grows its field buffer in steps of the block size: 1/16 of the text means a
  // field as long as the text needs 16 steps, not millions of 128-byte ones.
  explicit CsvParser(size_t text_bytes) {
    csv_init(&parser_, kCsvOptions);
    csv_set_space_func(&parser_, NothingIsSpace);
    csv_set_blk_size(&parser_, std::max(kMinBlockBytes, text_bytes / kBlocksPerText));
  }
  ~CsvParser() { csv_free(&parser_); }
  CsvParser(const CsvParser&) = delete;
  CsvParser& operator=(const CsvParser&) = delete;

  csv_parser* get() { return &parser_; }

 private:
  csv_parser parser_;
};

// Cuts a text into segments, each up to and including its first CR or LF. The next CR and
// LF are remembered, so that a text with only one of them is still scanned once.
class Segments {
 public:
  explicit Segments(std::string_view text)
      : text_(text), next_cr_(Find('\r')), next_lf_(Find('\n')) {}

  bool done() const { return pos_ == text_.size(); }
  std::string_view Next() {
    size_t end = std::min(NextOf('\r', &next_cr_), NextOf('\n', &next_lf_));
    end = end == std::string_view::npos ? text_.size() : end + 1;
    std::string_view segment = text_.substr(pos_, end - pos_);
    pos_ = end;
    return segment;
  }

 private:
  // The position of the first `c` at or after pos_, or npos.
  size_t Find(char c) const {
    const void* found = std::memchr(text_.data() + pos_, c, text_.size() - pos_);
    if (found == nullptr) return std::string_view::npos;
    return static_cast<size_t>(static_cast<const char*>(found) - text_.data());
  }
  size_t NextOf(char c, size_t* cached) const {
    if (*cached != std::string_view::npos && *cached < pos_) *cached = Find(c);
    return *cached;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t next_cr_;  // the first CR at or after pos_ once Next() asked (npos: none left)
  size_t next_lf_;
};

bool IsBareLineEnd(std::string_view segment) {
  return segment.size() == 1 && (segment[0] == '\r' || segment[0] == '\n');
}

class CsvReader {
 public:
  CsvReader(const DataLimits& limits, std::vector<std::string>* problems)
      : limits_(limits),
        problems_(problems),
        first_problem_(problems->size()),
        wrong_length_(problems, "row", "of the wrong length") {}

  Result<DataTable> Read(std::string_view text) {
    if (text.size() > limits_.max_bytes) {
      problems_->push_back(OverMaxBytes(text.size(), limits_.max_bytes));
      return ProblemsError(*problems_, first_problem_);
    }
    if (text.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
      text.remove_prefix(kByteOrderMark.size());
    }
    CsvParser parser(text.size());
    Segments segments(text);
    while (!segments.done() && !stopped_) Feed(parser.get(), segments.Next());
    if (!stopped_) Finish(parser.get());
    wrong_length_.Finish();
    if (!builder_ && problems_->size() == first_problem_) {
      problems_->push_back("no header line");
    }
    if (problems_->size() > first_problem_) return ProblemsError(*problems_, first_problem_);
    return std::move(*builder_).Finish();
  }

 private:
  static void OnField(void* bytes, size_t size, void* self) {
    std::string_view value(bytes == nullptr ? "" : static_cast<const char*>(bytes), size);
    static_cast<CsvReader*>(self)->EndField(value);
  }
  static void OnRow(int /*terminator*/, void* self) { static_cast<CsvReader*>(self)->EndRow(); }

  void Feed(csv_parser* parser, std::string_view segment) {
    if (row_line_ == 0 && !IsBareLineEnd(segment)) {
      row_line_ = field_line_ = line_;
      if (builder_ && rows_ == limits_.max_rows) {
        Stop(fmt::format("over max_data_rows ({}) at row {} (line {})", limits_.max_rows, rows_ + 1,
                         line_));
        return;
      }
    }
    size_t parsed = csv_parse(parser, segment.data(), segment.size(), OnField, OnRow, this);
    if (parsed < segment.size() && !stopped_) ParseError(parser, segment[parsed]);
    if (segment.back() == '\n') ++line_;
  }

  void Finish(csv_parser* parser) {
    if (csv_fini(parser, OnField, OnRow, this) == 0 || stopped_) return;
    std::string what = fmt::format(
        "the quoted field opened on line {} is not closed at the end of the text", field_line_);
    Stop(fmt::format("{}, {}: {}", RowPlace(), ColumnPlace(fields_), what));
  }

  void ParseError(csv_parser* parser, char offending) {
    int error = csv_error(parser);
    if (error != CSV_EPARSE) {
      Stop(fmt::format("{}: {}", RowPlace(), csv_strerror(error)));
      return;
    }
    // In strict mode with nothing a space, libcsv stops at a quote only inside an unquoted
    // field, and at anything else only right after a closing quote.
    std::string_view what = offending == '"' ? "a quote inside an unquoted field"
                                             : "text after the closing quote of a quoted field";
    std::string where = line_ == row_line_ ? "" : fmt::format(", on line {}", line_);
    Stop(fmt::format("{}, {}: {}{}", RowPlace(), ColumnPlace(fields_), what, where));
  }

  void EndField(std::string_view value) {
    if (stopped_) return;
    if (!builder_) {
      header_.emplace_back(value);
    } else if (keeping_ && fields_ < builder_->columns()) {
      Status added = builder_->Add(CellType::kString, value);
      if (!added.ok()) {
        Stop(fmt::format("{}, {}: {}", RowPlace(), ColumnPlace(fields_), added.message()));
      }
    }
    ++fields_;
    field_line_ = line_;  // the next field starts right after this one's comma
  }

  void EndRow() {
    if (stopped_) return;
    if (builder_) {
      EndDataRow();
    } else {
      EndHeader();
    }
    fields_ = 0;
    row_line_ = 0;
  }

  void EndDataRow() {
    if (fields_ != builder_->columns()) {
      keeping_ = false;
      wrong_length_.Add([this] {
        return fmt::format("{}: {}, the header has {}", RowPlace(), Counted(fields_, "field"),
                           builder_->columns());
      });
    } else if (keeping_) {
      builder_->EndRow();
    }
    ++rows_;
  }

  void EndHeader() {
    size_t before = problems_->size();
    CheckNames();
    if (problems_->size() > before) keeping_ = false;
    builder_.emplace(std::move(header_));
  }

  void CheckNames() {
    CappedProblems bad(problems_, "column", "with an empty or duplicate name");
    std::unordered_map<std::string_view, size_t> first_of;
    for (size_t i = 0; i < header_.size(); ++i) {
      const std::string& name = header_[i];
      if (name.empty()) {
        bad.Add([i] { return fmt::format("column {}: empty name", i + 1); });
        continue;
      }
      auto first = first_of.emplace(name, i).first;
      if (first->second != i) {
        bad.Add([&] {
          return fmt::format("column {} ({}): duplicate name (also column {})", i + 1,
                             QuoteText(name), first->second + 1);
        });
      }
    }
    bad.Finish();
  }

  // Records `problem` and stops parsing.
  void Stop(std::string problem) {
    problems_->push_back(std::move(problem));
    stopped_ = true;
  }

  // The open row: "row 7 (line 9)", or "the header (line 1)".
  std::string RowPlace() const {
    if (!builder_) return fmt::format("the header (line {})", row_line_);
    return fmt::format("row {} (line {})", rows_ + 1, row_line_);
  }

  // Column `index` (0-based): "column 2 (\"imsi\")", or "column 2" in the header or past
  // its end.
  std::string ColumnPlace(size_t index) const {
    if (!builder_ || index >= builder_->columns()) return fmt::format("column {}", index + 1);
    return fmt::format("column {} ({})", index + 1, QuoteText(builder_->names()[index]));
  }

  const DataLimits& limits_;
  std::vector<std::string>* problems_;
  const size_t first_problem_;
  CappedProblems wrong_length_;
  std::vector<std::string> header_;          // the names, while the header is read
  std::optional<DataTableBuilder> builder_;  // made when the header ends
  bool keeping_ = true;                      // false after a problem: cells are no longer stored
  bool stopped_ = false;
  uint64_t line_ = 1;        // the line being fed
  uint64_t row_line_ = 0;    // the line the open row started on; 0 when no row is open
  uint64_t field_line_ = 0;  // the line the open field started on
  uint64_t rows_ = 0;        // rows ended after the header
  size_t fields_ = 0;        // fields ended in the open row
};

}  // namespace

Result<DataTable> ReadCsv(std::string_view text, const DataLimits& limits,
                          std::vector<std::string>* problems) {
  return CsvReader(limits, problems).Read(text);
}

}  // namespace testrund::ops
