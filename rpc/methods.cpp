// SPDX-License-Identifier: Apache-2.0
// The method table: rows by name. The daemon's rows are in default_methods.cpp, kept apart
// so that a test of the envelope links without the engine.
#include "rpc/methods.h"

namespace testrund::rpc {

bool MethodTable::Add(const Method& method) {
  if (method.handler == nullptr) return false;
  return rows_.emplace(method.name, method).second;
}

const Method* MethodTable::Find(std::string_view name) const {
  auto it = rows_.find(name);
  return it == rows_.end() ? nullptr : &it->second;
}

}  // namespace testrund::rpc
