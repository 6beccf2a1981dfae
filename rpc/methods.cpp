// SPDX-License-Identifier: Apache-2.0
// The method table and the daemon's default rows. The rows are data: a method's name, the
// least role that may call it, and its handler (declared in the *_methods.h headers).
#include "rpc/methods.h"

#include "rpc/server_methods.h"

namespace testrund::rpc {
namespace {

// Every method the daemon serves. Observers may call the read-only ones (SPEC §1).
constexpr Method kDefaultMethods[] = {
    {"GetServerInfo", Role::kObserver, &GetServerInfo},
};

}  // namespace

bool MethodTable::Add(const Method& method) {
  if (method.handler == nullptr) return false;
  return rows_.emplace(method.name, method).second;
}

const Method* MethodTable::Find(std::string_view name) const {
  auto it = rows_.find(name);
  return it == rows_.end() ? nullptr : &it->second;
}

MethodTable BuildDefaultMethods(ServerState& state) {
  MethodTable table(state);
  for (const Method& m : kDefaultMethods) {
    bool added = table.Add(m);
    (void)added;  // names in kDefaultMethods are unique (checked by methods_test)
  }
  return table;
}

}  // namespace testrund::rpc
