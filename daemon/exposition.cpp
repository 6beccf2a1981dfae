// SPDX-License-Identifier: Apache-2.0
// Exposition: the 0.0.4 and OpenMetrics text formats (see exposition.h).
#include "daemon/exposition.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "ops/base/utf8.h"

namespace testrund::daemon {
namespace {

// Escapes a label value (`\`, `"`, newline) or a help text (`\`, newline) onto `out`.
void AppendEscaped(std::string& out, std::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendUtf8Escaped(std::string& out, std::string_view text, bool quotes) {
  if (ops::ValidUtf8Prefix(text) == text.size()) return AppendEscaped(out, text, quotes);
  AppendEscaped(out, ops::RepairUtf8(text), quotes);
}

std::string_view TypeName(MetricType type, ExpositionFormat format) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kInfo:
      return format == ExpositionFormat::kOpenMetrics ? "info" : "gauge";
  }
  return "untyped";
}

}  // namespace

ExpositionFormat NegotiateExposition(std::string_view accept) {
  // Media types are case-insensitive; parameters (version, q) do not change the choice.
  std::string lower(accept);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("application/openmetrics-text") != std::string::npos
             ? ExpositionFormat::kOpenMetrics
             : ExpositionFormat::kPrometheus;
}

std::string_view ExpositionContentType(ExpositionFormat format) {
  return format == ExpositionFormat::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

Labels& Labels::Add(std::string_view name, std::string_view value) {
  if (!text_.empty()) text_ += ',';
  text_ += name;
  text_ += "=\"";
  AppendUtf8Escaped(text_, value, true);
  text_ += '"';
  return *this;
}

Labels& Labels::Add(std::string_view name, int64_t value) {
  return Add(name, std::string_view(fmt::format_int(value).c_str()));
}

void Exposition::Family(std::string_view name, MetricType type, std::string_view help,
                        std::string_view unit) {
  family_ = name;
  // 0.0.4 names a family by its samples' name; OpenMetrics by the name without suffix.
  std::string named(name);
  if (format_ == ExpositionFormat::kPrometheus) {
    if (type == MetricType::kCounter) named += "_total";
    if (type == MetricType::kInfo) named += "_info";
  }
  out_ += "# HELP ";
  out_ += named;
  out_ += ' ';
  AppendUtf8Escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += named;
  out_ += ' ';
  out_ += TypeName(type, format_);
  out_ += '\n';
  if (format_ == ExpositionFormat::kOpenMetrics && !unit.empty()) {
    out_ += "# UNIT ";
    out_ += named;
    out_ += ' ';
    out_ += unit;
    out_ += '\n';
  }
}

void Exposition::Begin(std::string_view suffix, const Labels& labels, std::string_view extra) {
  out_ += family_;
  out_ += suffix;
  if (!labels.text().empty() || !extra.empty()) {
    out_ += '{';
    out_ += labels.text();
    if (!labels.text().empty() && !extra.empty()) out_ += ',';
    out_ += extra;
    out_ += '}';
  }
  out_ += ' ';
}

void Exposition::Sample(std::string_view suffix, const Labels& labels, uint64_t value,
                        std::string_view extra) {
  Begin(suffix, labels, extra);
  fmt::format_int digits(value);
  out_.append(digits.data(), digits.size());
  out_ += '\n';
}

void Exposition::Sample(std::string_view suffix, const Labels& labels, double value,
                        std::string_view extra) {
  Begin(suffix, labels, extra);
  out_ += ExpositionNumber(value);
  out_ += '\n';
}

void Exposition::Buckets(const Labels& labels, std::span<const std::string> le,
                         std::span<const uint64_t> counts) {
  std::string prefix = family_ + "_bucket{" + labels.text();
  if (!labels.text().empty()) prefix += ',';
  for (size_t k = 0; k < le.size() && k < counts.size(); ++k) {
    out_ += prefix;
    out_ += le[k];
    out_ += "} ";
    fmt::format_int digits(counts[k]);
    out_.append(digits.data(), digits.size());
    out_ += '\n';
  }
}

std::string Exposition::Finish() {
  if (format_ == ExpositionFormat::kOpenMetrics) out_ += "# EOF\n";
  return std::move(out_);
}

std::string ExpositionNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // fmt's "{}" is the shortest representation that reads back exactly, in the C locale.
  return fmt::format("{}", value);
}

}  // namespace testrund::daemon
