// SPDX-License-Identifier: Apache-2.0
// The daemon's method table as data: a method's name, the least role that may call it, and
// its handler (declared in the *_methods.h headers). Adding a method is one row here.
#include "rpc/methods.h"
#include "rpc/run_methods.h"
#include "rpc/server_methods.h"

namespace testrund::rpc {
namespace {

// Observers may call the read-only methods: QueryTest, ListTests, GetServerInfo
// (docs/api.md#1-transports).
constexpr Method kDefaultMethods[] = {
    {"ExecuteTest", Role::kOperator, &ExecuteTest},
    {"QueryTest", Role::kObserver, &QueryTest},
    {"CancelTest", Role::kOperator, &CancelTest},
    {"RestartTest", Role::kOperator, &RestartTest},
    {"ResumeInstance", Role::kOperator, &ResumeInstance},
    {"PauseTest", Role::kOperator, &PauseTest},
    {"UnpauseTest", Role::kOperator, &UnpauseTest},
    {"ListTests", Role::kObserver, &ListTests},
    {"GetServerInfo", Role::kObserver, &GetServerInfo},
};

}  // namespace

MethodTable BuildDefaultMethods(ServerState& state) {
  MethodTable table(state);
  for (const Method& m : kDefaultMethods) {
    bool added = table.Add(m);
    (void)added;  // names in kDefaultMethods are unique (checked by server_methods_test)
  }
  return table;
}

}  // namespace testrund::rpc
