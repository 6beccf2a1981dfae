// SPDX-License-Identifier: Apache-2.0
// A coordinator's method table as data: the daemon's methods with the daemon's roles
// (rpc/default_methods.cpp), each answered by the Coordinator through a Reply.
#include <utility>

#include "daemon/coordinator/coordinator.h"

namespace testrund::daemon {
namespace {

using Member = void (Coordinator::*)(const rapidjson::Value&, rpc::MethodContext&, rpc::Reply);

struct Row {
  std::string_view name;
  rpc::Role required;
  Member method;
};

constexpr Row kCoordinatorMethods[] = {
    {"ExecuteTest", rpc::Role::kOperator, &Coordinator::ExecuteTest},
    {"QueryTest", rpc::Role::kObserver, &Coordinator::QueryTest},
    {"CancelTest", rpc::Role::kOperator, &Coordinator::CancelTest},
    {"RestartTest", rpc::Role::kOperator, &Coordinator::RestartTest},
    {"ResumeInstance", rpc::Role::kOperator, &Coordinator::ResumeInstance},
    {"PauseTest", rpc::Role::kOperator, &Coordinator::PauseTest},
    {"UnpauseTest", rpc::Role::kOperator, &Coordinator::UnpauseTest},
    {"ListTests", rpc::Role::kObserver, &Coordinator::ListTests},
    {"GetServerInfo", rpc::Role::kObserver, &Coordinator::GetServerInfo},
};

}  // namespace

rpc::MethodTable Coordinator::Methods(rpc::ServerState& state) {
  rpc::MethodTable table(state);
  for (const Row& row : kCoordinatorMethods) {
    Member method = row.method;
    bool added = table.AddDeferred(
        row.name, row.required,
        [this, method](const rapidjson::Value& params, rpc::MethodContext& ctx, rpc::Reply reply) {
          (this->*method)(params, ctx, std::move(reply));
        });
    (void)added;  // the names above are unique
  }
  return table;
}

}  // namespace testrund::daemon
