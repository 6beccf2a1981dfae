// SPDX-License-Identifier: Apache-2.0
// data_table_bench: what ExecuteTest's `data` costs (ops/data). Builds a CSV text in memory
// like a subscriber list (MSISDN, IMSI, name; 1,000,000 rows are about 40 MB), times
// ReadCsv, reports the table's memory against the text's size, then times At(row, column)
// at random places (a cache miss each, as instances read rows) and in order (At itself).
// Twice: with the MSISDN and IMSI columns of one width each (as they usually are: the
// table keeps no offsets for them), and with every column's widths varying (the table
// keeps 4 bytes of offset per cell). The targets: 1,000,000 rows load in under 2 s, the
// table costs at most ~1.2x the text, a read is O(1) and allocates nothing.
//
//   data_table_bench [--rows 1000000] [--reads 10000000]
// Prints its figures; exits 1 when the CSV is refused or a cell read back is wrong.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "ops/data/csv_reader.h"

namespace {

using testrund::ops::DataLimits;
using testrund::ops::DataTable;
using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t rows = 1'000'000;
  uint64_t reads = 10'000'000;
};

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    uint64_t value = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--rows") == 0) {
      options.rows = value;
    } else if (std::strcmp(argv[i], "--reads") == 0) {
      options.reads = value;
    } else {
      std::fprintf(stderr, "usage: data_table_bench [--rows N] [--reads N]\n");
      std::exit(2);
    }
  }
  return options;
}

// Row i's three fields, about 40 bytes: fixed-width MSISDN and IMSI, or every width
// varying.
std::string Row(uint64_t i, bool fixed_widths) {
  if (fixed_widths) {
    return fmt::format("4477{:08},23415{:010},user{}\n", i, i, i);
  }
  return fmt::format("+447700{},23415{},user{}\n", i, i * 7919, i);
}

std::string CsvText(uint64_t rows, bool fixed_widths) {
  std::string text = "msisdn,imsi,name\n";
  text.reserve(rows * 42);
  for (uint64_t i = 0; i < rows; ++i) text += Row(i, fixed_widths);
  return text;
}

// The table's last row is the last row written (or there is none).
bool LastRowMatches(const DataTable& table, bool fixed_widths) {
  if (table.rows() == 0) return true;
  size_t last = table.rows() - 1;
  std::string row = fmt::format("{},{},{}\n", table.At(last, 0).text, table.At(last, 1).text,
                                table.At(last, 2).text);
  return row == Row(last, fixed_widths);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Reads every cell in order, `reads` reads in all; returns ns per read.
double TimeReadsInOrder(const DataTable& table, uint64_t reads, uint64_t* checksum) {
  const size_t columns = table.columns().size();
  uint64_t sum = 0;
  size_t row = 0;
  size_t column = 0;
  Clock::time_point start = Clock::now();
  for (uint64_t n = 0; n < reads; ++n) {
    std::string_view text = table.At(row, column).text;
    sum += text.size() + static_cast<unsigned char>(text.empty() ? 0 : text.back());
    if (++column == columns) {
      column = 0;
      if (++row == table.rows()) row = 0;
    }
  }
  double seconds = SecondsSince(start);
  *checksum = sum;
  return reads == 0 ? 0 : seconds * 1e9 / static_cast<double>(reads);
}

// Reads `reads` cells at pseudo-random places; returns ns per read.
double TimeReads(const DataTable& table, uint64_t reads, uint64_t* checksum) {
  const uint64_t rows = table.rows();
  const uint64_t columns = table.columns().size();
  uint64_t x = 0x9E3779B97F4A7C15;
  uint64_t sum = 0;
  Clock::time_point start = Clock::now();
  for (uint64_t n = 0; n < reads; ++n) {
    x ^= x << 13;  // xorshift64
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t row = ((x >> 32) * rows) >> 32;
    uint64_t column = (x & 0xFFFF) % columns;
    std::string_view text = table.At(row, column).text;
    sum += text.size() + static_cast<unsigned char>(text.empty() ? 0 : text.back());
  }
  double seconds = SecondsSince(start);
  *checksum = sum;
  return reads == 0 ? 0 : seconds * 1e9 / static_cast<double>(reads);
}

bool Scenario(const Options& options, bool fixed_widths) {
  std::string text = CsvText(options.rows, fixed_widths);
  std::printf("%s: %llu rows x 3 columns\n",
              fixed_widths ? "MSISDN and IMSI of one width" : "every width varying",
              static_cast<unsigned long long>(options.rows));
  std::printf("  csv text      %.2f MB\n", static_cast<double>(text.size()) / 1e6);

  const DataLimits limits{.max_bytes = UINT64_MAX, .max_rows = UINT64_MAX};
  std::vector<std::string> problems;
  Clock::time_point start = Clock::now();
  auto table = testrund::ops::ReadCsv(text, limits, &problems);
  double seconds = SecondsSince(start);
  if (!table.ok()) {
    std::printf("  ReadCsv refused the text: %s\n", table.message().c_str());
    return false;
  }
  if (table->rows() != options.rows || !LastRowMatches(*table, fixed_widths)) {
    std::printf("  ReadCsv read the rows wrong\n");
    return false;
  }
  size_t memory = table->memory_bytes();
  std::printf("  ReadCsv       %.3f s, %.0f rows/s, %.1f MB/s\n", seconds,
              static_cast<double>(options.rows) / seconds,
              static_cast<double>(text.size()) / 1e6 / seconds);
  std::printf("  memory_bytes  %.2f MB, %.3fx the text\n", static_cast<double>(memory) / 1e6,
              static_cast<double>(memory) / static_cast<double>(text.size()));
  if (options.rows > 0) {
    uint64_t checksum = 0;
    double ns = TimeReads(*table, options.reads, &checksum);
    std::printf("  At (random)   %llu reads, %.2f ns/read (checksum %llu)\n",
                static_cast<unsigned long long>(options.reads), ns,
                static_cast<unsigned long long>(checksum));
    ns = TimeReadsInOrder(*table, options.reads, &checksum);
    std::printf("  At (in order) %llu reads, %.2f ns/read (checksum %llu)\n",
                static_cast<unsigned long long>(options.reads), ns,
                static_cast<unsigned long long>(checksum));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = ParseOptions(argc, argv);
  bool ok = Scenario(options, true);
  ok = Scenario(options, false) && ok;
  return ok ? 0 : 1;
}
