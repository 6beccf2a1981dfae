// SPDX-License-Identifier: Apache-2.0
// The daemon's op table (see protocol_ops.h).
#include "ops/protocol/protocol_ops.h"

namespace testrund::ops {

const OpTable& AllOpTypes() {
  static const OpTable kTable(
      {LogicOpTypes(), HttpOpTypes(), JsonRpcOpTypes(), TcpOpTypes(), UdpOpTypes(),
                               SipOpTypes()});
  return kTable;
}

}  // namespace testrund::ops
