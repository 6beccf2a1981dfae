// SPDX-License-Identifier: Apache-2.0
// The integer and number parsers of client input (see json_numbers.h).
#include "ops/base/json_numbers.h"

#include <charconv>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

namespace testrund::ops {
namespace {

// Doubles up to 2^53 hold every integer exactly; beyond, "integral" means little.
constexpr double kMaxExactDouble = 9007199254740992.0;

std::string_view View(const rapidjson::Value& s) {
  return std::string_view(s.GetString(), s.GetStringLength());
}

}  // namespace

std::optional<int64_t> ParseInteger(const rapidjson::Value& value) {
  if (value.IsInt64()) return value.GetInt64();
  if (value.IsUint64()) return std::nullopt;  // beyond int64
  if (value.IsDouble()) {
    double d = value.GetDouble();
    if (std::trunc(d) == d && std::fabs(d) <= kMaxExactDouble) return static_cast<int64_t>(d);
    return std::nullopt;
  }
  if (!value.IsString()) return std::nullopt;
  std::string_view s = View(value);
  if (s.empty() || s.front() == '+') return std::nullopt;
  int64_t out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return out;
}

std::optional<double> ParseNumber(const rapidjson::Value& value) {
  std::optional<double> out;
  if (value.IsNumber()) {
    out = value.GetDouble();
  } else if (value.IsString()) {
    std::string_view s = View(value);
    double d = 0;
    if (s.empty() || s.front() == '+') return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    out = d;
  }
  if (!out || !std::isfinite(*out)) return std::nullopt;
  return out;
}

std::string NumberText(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

}  // namespace testrund::ops
