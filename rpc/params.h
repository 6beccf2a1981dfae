// SPDX-License-Identifier: Apache-2.0
// InvalidParams: the -32602 error a handler answers with the problems its ParamReader
// (ops/base/param_reader.h) or the engine collected (docs/api.md#error-codes).
#pragma once

#include <rapidjson/document.h>

#include "ops/base/problem.h"
#include "rpc/errors.h"
#include "rpc/methods.h"

namespace testrund::rpc {

// The -32602 error for `problems` (non-empty): message "Invalid params: <field> <problem>"
// for the first three ("operations[<op_idx>].<field>" for a problem of one operation),
// data the whole list [{"op_idx"?, "field", "problem"}] (op_idx only when >= 0), built in
// `allocator`.
RpcError InvalidParams(const ops::Problems& problems, Allocator& allocator);

}  // namespace testrund::rpc
