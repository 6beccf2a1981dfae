// SPDX-License-Identifier: Apache-2.0
// Handlers of the run methods (docs/api.md): ExecuteTest, QueryTest, CancelTest,
// ResumeInstance and the extensions PauseTest, UnpauseTest, ListTests. Each reads its
// params, makes one call into ops::RunRegistry and turns the answer into a result object
// (rpc/run_result.h builds the QueryTest object) or the RpcError of the engine's error.
#pragma once

#include <rapidjson/document.h>

#include "rpc/methods.h"

namespace testrund::rpc {

// {run_id?, operations, vars?, globals?, distribution?, ...} -> {"run_id"}; -32602 with
// every problem of the definition, -32002, -32005.
Outcome ExecuteTest(const rapidjson::Value& params, MethodContext& ctx);
// {run_id} -> the run's status object; -32001.
Outcome QueryTest(const rapidjson::Value& params, MethodContext& ctx);
// {run_id} -> the status object plus "cancelled": 1|0; -32001.
Outcome CancelTest(const rapidjson::Value& params, MethodContext& ctx);
// {run_id, instance_id, vars?} -> {"resumed": 1}; -32001, -32003, -32004.
// RestartTest {run_id}: {"run_id", "restarts", "previous": the replaced run's QueryTest
// object}.
Outcome RestartTest(const rapidjson::Value& params, MethodContext& ctx);
Outcome ResumeInstance(const rapidjson::Value& params, MethodContext& ctx);
// {run_id} -> {"run_id", "status"}; -32001, -32006.
Outcome PauseTest(const rapidjson::Value& params, MethodContext& ctx);
Outcome UnpauseTest(const rapidjson::Value& params, MethodContext& ctx);
// {status?, tag?} -> {"runs": [{"run_id", "status", "time_start", "counts", "tags"}]}.
Outcome ListTests(const rapidjson::Value& params, MethodContext& ctx);

}  // namespace testrund::rpc
