// SPDX-License-Identifier: Apache-2.0
// The text formats Prometheus scrapes (docs/metrics.md#formats): the Prometheus text format
// 0.0.4 and OpenMetrics 1.0. Exposition writes metric families one after the other (never
// interleaved), escapes label values and help texts, and writes numbers exactly and
// locale-independently: integers in full, other values in their shortest round-trip form.
//
// The two formats differ in three places this class hides: a counter family is named with
// `_total` in 0.0.4 and without it in OpenMetrics (its samples end in `_total` in both); an
// info family is a gauge named `<name>_info` in 0.0.4; OpenMetrics adds `# UNIT` lines and
// ends with `# EOF`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace testrund::daemon {

enum class ExpositionFormat { kPrometheus, kOpenMetrics };

// The format an Accept header asks for: OpenMetrics when it names
// application/openmetrics-text (with any version or none), else the 0.0.4 text format.
ExpositionFormat NegotiateExposition(std::string_view accept);
// The Content-Type of a response in `format`.
std::string_view ExpositionContentType(ExpositionFormat format);

enum class MetricType { kCounter, kGauge, kHistogram, kInfo };

// Label pairs, escaped once and reused for every sample that carries them.
class Labels {
 public:
  Labels() = default;
  // Appends name="value"; `value` is escaped (backslash, double quote, newline) and, when
  // not well-formed UTF-8, repaired (each bad sequence becomes U+FFFD).
  Labels& Add(std::string_view name, std::string_view value);
  Labels& Add(std::string_view name, int64_t value);
  const std::string& text() const { return text_; }  // `a="1",b="x"`; empty: no labels

 private:
  std::string text_;
};

class Exposition {
 public:
  // `expected_bytes`: room to reserve at once (the last scrape's size), so that a large
  // text is not copied as it grows.
  explicit Exposition(ExpositionFormat format, size_t expected_bytes = 0) : format_(format) {
    out_.reserve(expected_bytes);
  }

  // Starts a family: its HELP, TYPE and (OpenMetrics, when given) UNIT lines. `name` is the
  // family's name without a type suffix (no `_total`, no `_info`); a unit, when given, is
  // the name's last word ("seconds", "bytes").
  void Family(std::string_view name, MetricType type, std::string_view help,
              std::string_view unit = {});

  // One sample of the current family: <name><suffix>{<labels>[,<extra>]} <value>. `suffix`
  // is "" for gauges, "_total" for counters, "_bucket", "_sum", "_count" for histograms,
  // "_info" for info. `extra` is one more pre-rendered label pair (a histogram's le).
  void Sample(std::string_view suffix, const Labels& labels, uint64_t value,
              std::string_view extra = {});
  void Sample(std::string_view suffix, const Labels& labels, double value,
              std::string_view extra = {});

  // A histogram's buckets, one sample per k: <name>_bucket{<labels>,<le[k]>} <counts[k]>,
  // where each le[k] is a rendered pair (`le="0.5"`). The same lines as Sample("_bucket")
  // gives, written with the common prefix built once (a scrape writes thousands).
  void Buckets(const Labels& labels, std::span<const std::string> le,
               std::span<const uint64_t> counts);

  // The whole text (OpenMetrics: with its `# EOF`). Call once.
  std::string Finish();

 private:
  void Begin(std::string_view suffix, const Labels& labels, std::string_view extra);

  ExpositionFormat format_;
  std::string out_;
  std::string family_;  // the current family's name
};

// `value` in the formats' float syntax: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string ExpositionNumber(double value);

}  // namespace testrund::daemon
