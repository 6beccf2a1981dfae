// SPDX-License-Identifier: Apache-2.0
// A run's data rows: reading ExecuteTest's `data` and `data_mode`, and the cells the
// sandbox's `d` reads (see run_data.h).
#include "ops/run_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <lua.hpp>

#include "ops/data/csv_reader.h"
#include "ops/data/json_rows_reader.h"
#include "ops/lua/lua_json.h"

namespace testrund::ops {
namespace {

constexpr std::string_view kForms = R"(one of {"columns", "rows"}, {"csv"} or {"file"})";

// An open file descriptor, closed when it goes.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// `name` resolved inside `dir`: relative, no ".." part, and its real path (links followed)
// still inside the real `dir`.
Result<std::string> ResolveInside(const std::string& dir, std::string_view name) {
  bool dotdot = name == ".." || name.starts_with("../") || name.ends_with("/..") ||
                name.find("/../") != std::string_view::npos;
  if (name.empty() || name.front() == '/' || dotdot || name.find('\0') != std::string_view::npos) {
    return Status::Error(
        fmt::format("must name a file under data_dir (relative, without \"..\"), got \"{}\"",
                    name));
  }
  char real_dir[PATH_MAX];
  if (realpath(dir.c_str(), real_dir) == nullptr) {
    return Status::Error(fmt::format("the daemon's data_dir cannot be read ({})",
                                     std::strerror(errno)));
  }
  std::string path = fmt::format("{}/{}", real_dir, name);
  char real_path[PATH_MAX];
  if (realpath(path.c_str(), real_path) == nullptr) {
    return Status::Error(fmt::format("\"{}\": {} in data_dir", name,
                                     errno == ENOENT ? "no such file" : std::strerror(errno)));
  }
  std::string inside = fmt::format("{}/", real_dir);
  if (std::string_view(real_path).substr(0, inside.size()) != inside) {
    return Status::Error(fmt::format("\"{}\" leads out of data_dir (through a link)", name));
  }
  return std::string(real_path);
}

// The whole text of the regular file `name` under `dir`, at most `max_bytes`.
Result<std::string> ReadDataFile(const std::string& dir, std::string_view name,
                                 uint64_t max_bytes) {
  if (dir.empty()) {
    return Status::Error("no data_dir is configured on the daemon: give the rows in the "
                         "request (\"rows\" or \"csv\")");
  }
  Result<std::string> path = ResolveInside(dir, name);
  if (!path.ok()) return path.status();
  // O_NONBLOCK: a FIFO must not hang the daemon (it is refused just below).
  Fd fd(open(path->c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || fstat(fd.get(), &st) != 0) {
    return Status::Error(fmt::format("\"{}\": {}", name, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return Status::Error(fmt::format("\"{}\" is not a regular file", name));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    return Status::Error(fmt::format("\"{}\": {} bytes, over max_data_bytes ({})", name, size,
                                     max_bytes));
  }
  std::string text(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = read(fd.get(), text.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::Error(fmt::format("\"{}\": {}", name,
                                       n == 0 ? "shorter than its size" : std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return text;
}

// Which of the three forms `data` uses; records a problem unless exactly one.
enum class Form { kNone, kRows, kCsv, kFile };
Form FormOf(ParamReader& d) {
  bool rows = d.Get("columns") != nullptr || d.Get("rows") != nullptr;
  bool csv = d.Get("csv") != nullptr;
  bool file = d.Get("file") != nullptr;
  int given = int{rows} + int{csv} + int{file};
  if (given != 1) {
    d.AddProblem("", fmt::format("must be {}{}", kForms, given == 0 ? "" : ", not several"));
    return Form::kNone;
  }
  return rows ? Form::kRows : csv ? Form::kCsv : Form::kFile;
}

// A reader's result as the run takes it: its problems recorded under `field` ("" for `data`
// itself), and a table without rows refused.
std::optional<DataTable> Accepted(ParamReader& d, std::string_view field,
                                  Result<DataTable> table, std::vector<std::string> problems) {
  for (std::string& problem : problems) d.AddProblem(field, std::move(problem));
  if (!table.ok()) return std::nullopt;
  if (table->rows() == 0) {
    d.AddProblem(field, "has no rows (only the header)");
    return std::nullopt;
  }
  return std::move(table.value());
}

// {"columns": [...], "rows": [...]}.
std::optional<DataTable> ReadRowsForm(ParamReader& d, const DataLimits& limits) {
  const rapidjson::Value* columns = d.RequiredArray("columns");
  const rapidjson::Value* rows = d.RequiredArray("rows");
  if (columns == nullptr || rows == nullptr) return std::nullopt;
  std::vector<std::string> problems;
  Result<DataTable> table = ReadJsonRows(*columns, *rows, limits, &problems);
  return Accepted(d, "", std::move(table), std::move(problems));
}

// CSV `text`, from the member `field` ("csv", or "file" for the file's text).
std::optional<DataTable> ReadCsvText(ParamReader& d, std::string_view field,
                                     std::string_view text, const DataLimits& limits) {
  std::vector<std::string> problems;
  Result<DataTable> table = ReadCsv(text, limits, &problems);
  return Accepted(d, field, std::move(table), std::move(problems));
}

// {"file": NAME}: the CSV file NAME under data_dir.
std::optional<DataTable> ReadFileForm(ParamReader& d, std::string_view name,
                                      const EngineLimits& limits) {
  Result<std::string> text = ReadDataFile(limits.data_dir, name, limits.data.max_bytes);
  if (!text.ok()) {
    d.AddProblem("file", text.message());
    return std::nullopt;
  }
  return ReadCsvText(d, "file", *text, limits.data);
}

// The table of `data` (an object) with its source name ("rows", "csv", "file:NAME"); every
// problem recorded on `d`.
std::optional<std::pair<DataTable, std::string>> ReadTable(ParamReader& d,
                                                           const EngineLimits& limits) {
  std::optional<DataTable> table;
  std::string source;
  switch (FormOf(d)) {
    case Form::kRows:
      table = ReadRowsForm(d, limits.data);
      source = "rows";
      break;
    case Form::kCsv:
      if (std::optional<std::string_view> csv = d.OptionalString("csv")) {
        table = ReadCsvText(d, "csv", *csv, limits.data);
      }
      source = "csv";
      break;
    case Form::kFile:
      if (std::optional<std::string_view> name = d.OptionalString("file")) {
        table = ReadFileForm(d, *name, limits);
        source = fmt::format("file:{}", *name);
      }
      break;
    case Form::kNone:
      break;
  }
  if (!table) return std::nullopt;
  return std::pair{std::move(*table), std::move(source)};
}

std::optional<DataMode> ReadMode(ParamReader& p) {
  const rapidjson::Value* value = p.Get("data_mode");
  if (value == nullptr) return DataMode::kSequential;
  if (value->IsString()) {
    if (auto mode = DataModeFromName({value->GetString(), value->GetStringLength()})) return mode;
  }
  p.WrongType("data_mode", R"(one of "sequential", "random", "unique")", *value);
  return std::nullopt;
}

// `unique` gives each instance its own row: at most as many instances as rows, and a run
// without a total of its own ends when the rows are used up.
void FitUnique(ParamReader& p, uint64_t rows, Distribution* distribution) {
  uint64_t total = distribution->type == DistributionType::kSingle ? 1 : distribution->total;
  if (total > rows) {
    p.AddProblem("data_mode",
                 fmt::format("\"unique\" reads one row per instance: {} instances need {} rows, "
                             "the data has {}",
                             total, total, rows));
  } else if (total == 0) {
    distribution->total = rows;
  }
}

}  // namespace

RunData::RunData(DataTable table, DataMode mode, std::string source, uint64_t seed)
    : table_(std::move(table)), mode_(mode), source_(std::move(source)), seed_(seed) {}

uint64_t RunData::RowOf(int64_t instance) const {
  return RowFor(mode_, static_cast<uint64_t>(instance), table_.rows(), seed_);
}

uint64_t RunData::RowNumber(int64_t instance) const { return RowOf(instance) + 1; }

void RunData::PushCell(lua_State* L, int64_t instance, size_t column) const {
  Cell cell = table_.At(RowOf(instance), column);
  const char* begin = cell.text.data();
  const char* end = begin + cell.text.size();
  switch (cell.type) {
    case CellType::kString:
      lua_pushlstring(L, begin, cell.text.size());
      return;
    case CellType::kInteger: {
      int64_t value = 0;
      std::from_chars(begin, end, value);
      lua_pushinteger(L, value);
      return;
    }
    case CellType::kNumber: {
      double value = 0;
      std::from_chars(begin, end, value);
      lua_pushnumber(L, value);
      return;
    }
    case CellType::kTrue:
    case CellType::kFalse:
      lua_pushboolean(L, cell.type == CellType::kTrue);
      return;
    case CellType::kNull:
      lua_pushnil(L);
      return;
    case CellType::kJson: {
      rapidjson::Document doc;
      doc.Parse(begin, cell.text.size());
      PushJsonUnprotected(L, doc);
      return;
    }
  }
}

std::unique_ptr<RunData> ReadRunData(ParamReader& p, const EngineLimits& limits, uint64_t seed,
                                     Distribution* distribution) {
  std::optional<DataMode> mode = ReadMode(p);
  const rapidjson::Value* data = p.Get("data");
  if (data == nullptr) {
    if (p.Get("data_mode") != nullptr) p.AddProblem("data_mode", "needs data");
    return nullptr;
  }
  if (!data->IsObject()) {
    p.WrongType("data", kForms, *data);
    return nullptr;
  }
  ParamReader d(*data, p, "data");
  std::optional<std::pair<DataTable, std::string>> table = ReadTable(d, limits);
  if (!table || !mode) return nullptr;
  if (*mode == DataMode::kUnique) FitUnique(p, table->first.rows(), distribution);
  return std::make_unique<RunData>(std::move(table->first), *mode, std::move(table->second),
                                   seed);
}

}  // namespace testrund::ops
