// SPDX-License-Identifier: Apache-2.0
// DataLimits: how much data one ExecuteTest may bring (`data`: rows, CSV text or a CSV
// file). Both readers refuse more, with a problem naming the option, so that one request
// cannot make the daemon hold more than the operator allowed. Like every limit struct it
// has no defaults: the daemon's option table fills it (max_data_bytes, default 256M;
// max_data_rows, default 10,000,000).
#pragma once

#include <cstdint>

namespace testrund::ops {

struct DataLimits {
  uint64_t max_bytes;  // CSV: the text's size (before parsing); rows: the cells' stored bytes
  uint64_t max_rows;   // rows after the header (CSV) or in `rows` (JSON)
};

}  // namespace testrund::ops
