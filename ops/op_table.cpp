// SPDX-License-Identifier: Apache-2.0
// OpTable: the op types of the families an engine was built with (see op_table.h).
#include "ops/op_table.h"

#include "ops/base/check.h"

namespace testrund::ops {

OpTable::OpTable(std::initializer_list<std::span<const OpTypeSpec>> families) {
  for (std::span<const OpTypeSpec> family : families) {
    for (const OpTypeSpec& spec : family) {
      CHECK(Find(spec.name) == nullptr);
      types_.push_back(&spec);
    }
  }
}

const OpTypeSpec* OpTable::Find(std::string_view name) const {
  for (const OpTypeSpec* spec : types_) {
    if (spec->name == name) return spec;
  }
  return nullptr;
}

const OpTable& LogicOpTable() {
  static const OpTable kTable({LogicOpTypes()});
  return kTable;
}

}  // namespace testrund::ops
