// SPDX-License-Identifier: Apache-2.0
// The method table: rows by name. The daemon's rows are in default_methods.cpp, kept apart
// so that a test of the envelope links without the engine.
#include "rpc/methods.h"

#include <utility>

namespace testrund::rpc {

bool MethodTable::Add(const Method& method) {
  if (method.handler == nullptr) return false;
  return rows_.emplace(method.name, method).second;
}

bool MethodTable::AddDeferred(std::string_view name, Role required, DeferredHandler handler) {
  if (!handler || rows_.count(name) != 0) return false;
  deferred_.push_back(std::move(handler));
  return rows_.emplace(name, Method{name, required, nullptr, &deferred_.back()}).second;
}

const Method* MethodTable::Find(std::string_view name) const {
  auto it = rows_.find(name);
  return it == rows_.end() ? nullptr : &it->second;
}

}  // namespace testrund::rpc
