// SPDX-License-Identifier: Apache-2.0
// WriteHistogram (see histogram_metric.h).
#include "daemon/histogram_metric.h"

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

#include "ops/base/check.h"

namespace testrund::daemon {
namespace {

constexpr int kFirstOctave = 14;  // 2^14 ns = 16.4 us
constexpr int kLastOctave = 36;   // 2^36 ns = 68.7 s
constexpr int kPerOctave = 4;
constexpr size_t kEdgeCount = (kLastOctave - kFirstOctave) * kPerOctave + 1;

struct Edges {
  std::array<ops::MonoNs, kEdgeCount> ns{};
  std::vector<std::string> le;  // `le="<seconds>"` for each edge, then +Inf; rendered once
};

// `ns` nanoseconds as exact decimal seconds ("0.000016383", "68.719476735").
std::string ExactSeconds(ops::MonoNs ns) {
  std::string text = fmt::format("{}.{:09}", ns / ops::kNsPerSecond, ns % ops::kNsPerSecond);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text += '0';
  return text;
}

const Edges& TheEdges() {
  static const Edges edges = [] {
    Edges e;
    size_t k = 0;
    for (int octave = kFirstOctave; octave < kLastOctave; ++octave) {
      for (int j = 0; j < kPerOctave; ++j) {
        e.ns[k++] = (ops::MonoNs{kPerOctave + j} << octave) / kPerOctave;
      }
    }
    e.ns[k] = ops::MonoNs{1} << kLastOctave;
    for (ops::MonoNs edge : e.ns) {
      CHECK(ops::LatencyHistogram::IsBucketEdge(edge));
      // Values are whole nanoseconds: "at most edge - 1" is exactly "below edge".
      e.le.push_back("le=\"" + ExactSeconds(edge - 1) + "\"");
    }
    e.le.push_back("le=\"+Inf\"");
    return e;
  }();
  return edges;
}

}  // namespace

std::span<const ops::MonoNs> HistogramMetricEdges() { return TheEdges().ns; }

void WriteHistogram(Exposition& out, const Labels& labels, const ops::LatencyHistogram& histogram) {
  const Edges& edges = TheEdges();
  std::array<uint64_t, kEdgeCount + 1> below{};
  histogram.CountBelow(edges.ns, std::span(below).first(kEdgeCount));
  below[kEdgeCount] = histogram.count();  // le="+Inf"
  out.Buckets(labels, edges.le, below);
  out.Sample("_sum", labels, static_cast<double>(histogram.sum() / ops::kNsPerSecond));
  out.Sample("_count", labels, histogram.count());
}

}  // namespace testrund::daemon
